// A user's own data/dataset.h: wick's installed headers must never pick it up.
#error "a user's own data/dataset.h was included in place of wick's"

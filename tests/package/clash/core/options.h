// A user's own core/options.h: wick's installed headers must never pick it up.
#error "a user's own core/options.h was included in place of wick's"

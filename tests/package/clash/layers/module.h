// A user's own layers/module.h: wick's installed headers must never pick it up.
#error "a user's own layers/module.h was included in place of wick's"

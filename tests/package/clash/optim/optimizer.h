// A user's own optim/optimizer.h: wick's installed headers must never pick it up.
#error "a user's own optim/optimizer.h was included in place of wick's"

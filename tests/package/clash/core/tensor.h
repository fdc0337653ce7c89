// A user's own core/tensor.h: wick's installed headers must never pick it up.
#error "a user's own core/tensor.h was included in place of wick's"

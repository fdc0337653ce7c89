// All of wick::optim: the Optimizer base with parameter groups, SGD, Adam, AdamW, LR schedulers
// and gradient clipping.
#pragma once
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/optimizer.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"

// All of wick::optim: the Optimizer base with parameter groups, SGD, Adam, AdamW, LR schedulers
// and gradient clipping; and wick::train, the toolkit that drives them (fit, evaluate, progress,
// metrics files).
#pragma once
#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/clip.h"
#include "optim/evaluate.h"
#include "optim/fit.h"
#include "optim/metrics.h"
#include "optim/optimizer.h"
#include "optim/progress.h"
#include "optim/schedule.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"
#include "optim/step_memory.h"

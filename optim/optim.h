// All of wick::optim: the Optimizer base with parameter groups, SGD, Adam, AdamW, LR schedulers
// and gradient clipping; and wick::train, the toolkit that drives them (fit, evaluate, progress,
// metrics files).
#pragma once
#include "adam.h"
#include "checkpoint.h"
#include "clip.h"
#include "data_parallel.h"
#include "evaluate.h"
#include "fit.h"
#include "metrics.h"
#include "optimizer.h"
#include "progress.h"
#include "schedule.h"
#include "scheduler.h"
#include "sgd.h"
#include "step_memory.h"

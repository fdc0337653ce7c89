// The umbrella header: #include <wick/wick.h> brings in the whole public API.
#pragma once
#include "core/autograd.h"
#include "core/ops/elementwise.h"
#include "core/ops/linalg.h"
#include "core/ops/reduce.h"
#include "core/ops/view.h"
#include "core/parallel.h"
#include "core/random.h"
#include "core/tensor.h"

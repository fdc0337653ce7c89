// All of wick::nn: the Module base and every layer.
#pragma once
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/bn_tools.h"
#include "layers/conv.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/pooling.h"
#include "layers/architecture.h"
#include "layers/safetensors.h"
#include "layers/serialize.h"
#include "layers/sequential.h"

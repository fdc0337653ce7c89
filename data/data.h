// The data area in one include: datasets, readers and the DataLoader.
#pragma once
#include "data/cifar.h"
#include "data/dataloader.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/synthetic.h"

// The data area in one include: datasets, readers and the DataLoader.
#pragma once
#include "cifar.h"
#include "dataloader.h"
#include "dataset.h"
#include "idx.h"
#include "image_folder.h"
#include "synthetic.h"

#!/usr/bin/env python3
"""Writes examples/models/*.json: zoo.py's resnet20 and small-cnn (for 1x28x28 images, 10 classes)
as wick JSON architectures, with named Sequential children so their state_dict names are zoo.py's.
Standard library only. Run from the repository root: python3 tools/model_json.py
"""
import json
import os


def conv(name, cin, cout, k, stride=1, padding=0, bias=True):
    d = {"name": name, "type": "Conv2d", "in_channels": cin, "out_channels": cout, "kernel_size": k}
    if stride != 1: d["stride"] = stride
    if padding: d["padding"] = padding
    if not bias: d["bias"] = False
    return d


def bn(name, c):
    return {"name": name, "type": "BatchNorm2d", "num_features": c}


def unnamed(d):
    return {k: v for k, v in d.items() if k != "name"}


def basic_block(cin, cout, stride):
    # zoo.py's BasicBlock: conv3x3-bn-relu-conv3x3-bn, plus the shortcut (1x1 conv + bn when the
    # shape changes, else the identity: an empty Sequential), then relu.
    shortcut = {"type": "Sequential"}
    if stride != 1 or cin != cout:
        shortcut["layers"] = [unnamed(conv("", cin, cout, 1, stride=stride, bias=False)), unnamed(bn("", cout))]
    return {"type": "Residual",
            "layers": [conv("conv1", cin, cout, 3, stride=stride, padding=1, bias=False), bn("bn1", cout),
                       {"name": "relu", "type": "ReLU"},
                       conv("conv2", cout, cout, 3, padding=1, bias=False), bn("bn2", cout)],
            "shortcut": shortcut,
            "activation": {"type": "ReLU"}}


def resnet(n, channels=1, classes=10):
    layers = [conv("conv1", channels, 16, 3, padding=1, bias=False), bn("bn1", 16), {"name": "relu", "type": "ReLU"}]
    cin = 16
    for i, cout in enumerate((16, 32, 64)):
        blocks = [basic_block(cin if b == 0 else cout, cout, 2 if (b == 0 and i > 0) else 1) for b in range(n)]
        layers.append({"name": f"layer{i + 1}", "type": "Sequential", "layers": blocks})
        cin = cout
    layers += [{"name": "pool", "type": "AdaptiveAvgPool2d", "output_size": 1}, {"name": "flatten", "type": "Flatten"},
               {"name": "fc", "type": "Linear", "in_features": 64, "out_features": classes}]
    return {"type": "Sequential", "layers": layers}


def small_cnn(channels=1, classes=10, height=28, width=28):
    layers = [conv("", channels, 32, 3, padding=1), bn("", 32), {"type": "ReLU"},
              {"type": "MaxPool2d", "kernel_size": 2},
              conv("", 32, 64, 3, padding=1), bn("", 64), {"type": "ReLU"},
              {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
              {"type": "Linear", "in_features": 64 * (height // 4) * (width // 4), "out_features": 128},
              {"type": "ReLU"}, {"type": "Linear", "in_features": 128, "out_features": classes}]
    return {"type": "Sequential", "layers": [unnamed(l) for l in layers]}


if __name__ == "__main__":
    for name, model in (("resnet20", resnet(3)), ("small-cnn", small_cnn())):
        path = os.path.join("examples", "models", name + ".json")
        with open(path, "w") as f:
            f.write(json.dumps(model, indent=2) + "\n")
        print("wrote", path)

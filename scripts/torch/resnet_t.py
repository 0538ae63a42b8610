"""PyTorch twins of the harness's ResNet building blocks (models/resnet.go).

torchvision is not in Debian's python3-torch, so the parity scripts build the
same modules here with the same parameter names: conv-BN layers, basic and
bottleneck residual blocks (stride on the 3x3 conv), the ImageNet-style
ResNet (conv1, bn1, maxpool, layer1..4, fc).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """Basic (mid == 0) or bottleneck residual block with a conv-BN shortcut
    named `sc` ("downsample" or "shortcut") when the shape changes."""

    def __init__(self, inp, out, stride=1, mid=0, sc="downsample"):
        super().__init__()
        if mid == 0:
            self.convs = [("conv1", "bn1"), ("conv2", "bn2")]
            self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out)
            self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out)
        else:
            self.convs = [("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")]
            self.conv1 = nn.Conv2d(inp, mid, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(mid)
            self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(mid)
            self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
        self.sc = None
        if stride != 1 or inp != out:
            self.sc = sc
            setattr(self, sc, nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out)))

    def forward(self, x):
        h = x
        for i, (c, b) in enumerate(self.convs):
            h = getattr(self, b)(getattr(self, c)(h))
            if i < len(self.convs) - 1:
                h = F.relu(h)
        s = x if self.sc is None else getattr(self, self.sc)(x)
        return F.relu(h + s)


def scaled(base, mult):
    return max(1, int(round(base * mult)))


class ResNet(nn.Module):
    """torchvision-style ResNet: blocks per stage, bottleneck or basic."""

    def __init__(self, blocks, bottleneck, in_ch=3, classes=10, width=1.0, small_stem=False):
        super().__init__()
        inp = scaled(64, width)
        if small_stem:
            self.conv1 = nn.Conv2d(in_ch, inp, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_ch, inp, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(inp)
        self.pool = not small_stem
        exp = 4 if bottleneck else 1
        for s, nb in enumerate(blocks):
            planes = scaled(64 << s, width)
            layer = []
            for b in range(nb):
                stride = 2 if (b == 0 and s > 0) else 1
                layer.append(Block(inp, planes * exp, stride, planes if bottleneck else 0))
                inp = planes * exp
            setattr(self, f"layer{s + 1}", nn.Sequential(*layer))
        self.nstages = len(blocks)
        self.fc = nn.Linear(inp, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.pool:
            h = F.max_pool2d(h, 3, 2, 1)
        for s in range(self.nstages):
            h = getattr(self, f"layer{s + 1}")(h)
        return self.fc(h.mean((2, 3)))


def load_strict(model, sd):
    """Loads a harness state dict; only num_batches_tracked may be missing."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")

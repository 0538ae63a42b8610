"""End-to-end parity of the harness's resnet18 (models.New("resnet18")) with
PyTorch 1.13: same initial weights and batches (safetensors files written by
the Go test models/resnet_parity_test.go), SGD with momentum, training-mode
batch norm. Prints "LOSS step value" per step.

usage: parity_resnet.py WEIGHTS BATCHES --width W --lr LR --momentum M [--small-stem] [--bench]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resnet_t  # noqa: E402
import stio  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("batches")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--small-stem", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--double", action="store_true", help="run in float64 (a precision reference)")
    ap.add_argument("--grads", help="write the gradients of step --grad-step here (safetensors)")
    ap.add_argument("--grad-step", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd, _ = stio.load(a.weights)
    b, _ = stio.load(a.batches)
    x, y = b["x"], b["y"].long()
    m = resnet_t.ResNet([2, 2, 2, 2], False, x.shape[2], a.classes, a.width, a.small_stem)
    resnet_t.load_strict(m, sd)
    m.train()
    if a.double:
        m.double()
        x = x.double()
    opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=a.momentum)
    t0 = time.time()
    for s in range(x.shape[0]):
        opt.zero_grad()
        loss = F.cross_entropy(m(x[s]), y[s])
        loss.backward()
        if s == a.grad_step and a.grads:
            stio.save(a.grads, {k: p.grad for k, p in m.named_parameters()})
        opt.step()
        print(f"LOSS {s} {loss.item():.9g}", flush=True)
    print(f"TIME {time.time() - t0:.4f}")


if __name__ == "__main__":
    main()

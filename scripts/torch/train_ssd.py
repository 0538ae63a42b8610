"""Trains the SSD proxy (ssd_t.py) in PyTorch exactly as the Go side's dense
comparison run does: same initial weights, same canvases in the same order
(the Go side writes them, augmentation off), the learning rate of every step,
SGD with momentum and weight decay on conv weights only; then evaluates the
validation canvases in eval mode and prints "DET image label score x0 y0 x1
y1" (relative corners) per post-processed detection, and "LOSS epoch mean".

usage: train_ssd.py WEIGHTS DATA [--momentum M --wd WD --threads T]
DATA holds x [N,1,64,64], gt [N,T,5] (x0,y0,x1,y1,label; label < 0 pads),
order [steps, batch] (canvas indices), lr [steps], steps_per_epoch [1],
xval [V,1,64,64].
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ssd_t  # noqa: E402
import stio  # noqa: E402
from parity_ssd import targets  # noqa: E402
from resnet_t import load_strict  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("data")
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = ssd_t.PROXY
    dboxes = ssd_t.default_boxes(cfg)
    sd, _ = stio.load(a.weights)
    d, _ = stio.load(a.data)
    x, gt, order, lrs = d["x"], d["gt"], d["order"].long(), d["lr"]
    spe = int(d["steps_per_epoch"][0])
    m = ssd_t.SSD(cfg)
    load_strict(m, sd)
    m.train()
    decay = [p for p in m.parameters() if p.dim() > 1]
    rest = [p for p in m.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": a.wd}, {"params": rest, "weight_decay": 0.0}],
                          lr=float(lrs[0]), momentum=a.momentum)
    total = 0.0
    for s in range(order.shape[0]):
        for g in opt.param_groups:
            g["lr"] = float(lrs[s])
        idx = order[s]
        labels, gloc = targets(gt[idx], dboxes)
        opt.zero_grad()
        loss = ssd_t.multibox_loss(*m(x[idx]), labels, gloc)
        loss.backward()
        opt.step()
        total += loss.item()
        if (s + 1) % spe == 0:
            print(f"LOSS {(s + 1) // spe - 1} {total / spe:.6f}", flush=True)
            total = 0.0
    m.eval()
    xv = d["xval"]
    with torch.no_grad():
        for lo in range(0, xv.shape[0], 64):
            ploc, pconf = m(xv[lo:lo + 64])
            for i in range(ploc.shape[0]):
                for det in ssd_t.post_process(ploc[i], pconf[i], dboxes):
                    print("DET", lo + i, *[f"{v:.9g}" for v in det])


if __name__ == "__main__":
    main()

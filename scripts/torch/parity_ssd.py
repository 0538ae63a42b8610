"""End-to-end parity of the harness's SSD proxy (models/ssd) with PyTorch
1.13: same initial weights and batches (safetensors files written by
models/ssd/ssd_parity_test.go), the network, matching, hard-negative mining
and loss of ssd_t.py, SGD with momentum. Prints "LOSS step value" per step.
With --trained and --eval-batch, also runs the post-processing on the Go
side's trained weights (eval mode) and prints "DET image label score x0 y0
x1 y1" per detection. With --bench N, times N further training steps and
prints "TIME seconds_per_step".

With --double the network, its inputs and the optimiser run in float64 (a
precision reference for the float32 curves).

usage: parity_ssd.py WEIGHTS BATCHES [--lr LR --momentum M] [--double] [--trained W2 --eval-batch B] [--bench N]
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ssd_t  # noqa: E402
import stio  # noqa: E402
from resnet_t import load_strict  # noqa: E402


def targets(gt, dboxes):
    """gt [B, T, 5] (x0, y0, x1, y1, label; label < 0 pads) -> labels, loc."""
    labels, locs = [], []
    for g in gt.double():
        g = g[g[:, 4] >= 0]
        l, c = ssd_t.match(g[:, :4], g[:, 4].long(), dboxes)
        labels.append(l)
        locs.append(c)
    return torch.stack(labels), torch.stack(locs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("batches")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--trained")
    ap.add_argument("--eval-batch", type=int, default=0)
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grads", help="write the first step's gradients here (safetensors)")
    ap.add_argument("--double", action="store_true", help="train in float64 (a precision reference)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = ssd_t.PROXY
    dboxes = ssd_t.default_boxes(cfg)
    sd, _ = stio.load(a.weights)
    b, _ = stio.load(a.batches)
    x, gt = b["x"], b["gt"]
    m = ssd_t.SSD(cfg)
    load_strict(m, sd)
    if a.double:
        m.double()
        x = x.double()
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=a.momentum)
    steps = x.shape[0]
    for s in range(steps):
        labels, gloc = targets(gt[s], dboxes)
        opt.zero_grad()
        loss = ssd_t.multibox_loss(*m(x[s]), labels, gloc)
        loss.backward()
        if s == 0 and a.grads:
            stio.save(a.grads, {k: p.grad for k, p in m.named_parameters()})
        opt.step()
        print(f"LOSS {s} {loss.item():.9g}", flush=True)
    if a.bench:
        t0 = time.time()
        for s in range(a.bench):
            labels, gloc = targets(gt[s % steps], dboxes)
            opt.zero_grad()
            loss = ssd_t.multibox_loss(*m(x[s % steps]), labels, gloc)
            loss.backward()
            opt.step()
        import resource
        print(f"TIME {(time.time() - t0) / a.bench:.6f}", flush=True)
        print(f"RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}", flush=True)
    if a.trained:
        sd2, _ = stio.load(a.trained)
        load_strict(m, sd2)
        m.eval()
        with torch.no_grad():
            ploc, pconf = m(x[a.eval_batch])
        for i in range(ploc.shape[0]):
            for d in ssd_t.post_process(ploc[i], pconf[i], dboxes):
                print("DET", i, *[f"{v:.9g}" for v in d])


if __name__ == "__main__":
    main()

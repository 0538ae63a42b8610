#!/usr/bin/python3
"""Trains the Transformer twin (parity_transformer.py) in PyTorch exactly as
a Go run of the wmt14 table does, for the BLEU comparison of the dense
default row (experiments' TestParityWMT14DenseBLEU writes DIR):

  train_transformer.py DIR [--threads T]

DIR holds config.json (models/transformer.Config), init.safetensors (the Go
run's initial weights) and batches.safetensors: src.I, tgt_in.I, tgt_out.I
for every step I in the Go run's order, with metadata steps, peak_lr,
warmup, beta1, beta2, eps and dropout ("on": the configured dropout, in
PyTorch's own random streams; "off": none). The learning rate of step I
(from 0) is fairseq's inverse-sqrt with a linear warm-up from 0, as the Go
runner's: peak*I/warmup before the warm-up's end, peak*sqrt(warmup/I)
after. Adam without weight decay. Prints "init_loss VALUE" (the first
batch's loss from the initial weights, dropout off: the check that both
sides hold the same model, weights and batch), "loss I VALUE" every step
and writes DIR/torch_final.safetensors (fairseq names, as the Go model's).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402
from parity_transformer import Transformer, load_weights, loss_fn  # noqa: E402


def lr_at(step, peak, warmup):
    if step < warmup:
        return peak * step / warmup
    return peak * math.sqrt(warmup) / math.sqrt(step)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(os.path.join(a.dir, "config.json")) as f:
        c = json.load(f)
    bt, meta = stio.load(os.path.join(a.dir, "batches.safetensors"))
    if meta.get("dropout", "on") == "off":
        c = dict(c, Dropout=0.0, AttnDropout=0.0, ReLUDropout=0.0)
    model = Transformer(c)
    load_weights(model, os.path.join(a.dir, "init.safetensors"))
    steps, peak, warmup = int(meta["steps"]), float(meta["peak_lr"]), int(meta["warmup"])
    opt = torch.optim.Adam(model.parameters(), lr=0.0, betas=(float(meta["beta1"]), float(meta["beta2"])),
                           eps=float(meta["eps"]))
    b0 = lambda k: bt[f"{k}.0"].long()  # noqa: E731
    model.eval()
    with torch.no_grad():
        print(f"init_loss {loss_fn(model, b0('src'), b0('tgt_in'), b0('tgt_out')).item():.9g}", flush=True)
    model.train()
    t0 = time.perf_counter()
    for i in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(i, peak, warmup)
        b = lambda k: bt[f"{k}.{i}"].long()  # noqa: E731
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, b("src"), b("tgt_in"), b("tgt_out"))
        loss.backward()
        opt.step()
        v = loss.item()
        if not math.isfinite(v):
            sys.exit(f"train_transformer.py: step {i}: loss {v}")
        print(f"loss {i} {v:.6f}", flush=True)
    print(f"time {time.perf_counter() - t0:.1f}", flush=True)
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    stio.save(os.path.join(a.dir, "torch_final.safetensors"), sd)


if __name__ == "__main__":
    main()

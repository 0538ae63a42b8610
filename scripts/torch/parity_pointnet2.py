"""PyTorch twin of models/pointnet2 (PointNet++ part segmentation, SSG).

Parity mode (default): loads the initial weights Go wrote (safetensors), the
batches Go wrote (xyz, normals, category, labels per step), trains with Adam
(lr 1e-3) for the given number of steps, dropout off, and prints one line
"STEP i LOSS x" per step (the loss before that step's update).

  parity_pointnet2.py --init init.safetensors --batches batches.safetensors \
      --config '{"npoints":512,...}' --steps 30

Bench mode (--bench): times one training step of the bench configuration
(batch 16, 2,048 points, the full network, random points on the unit
sphere) and prints torch_reference-style
  RESULT model=pointnet2 batch=16 threads=2 s_per_step=... img_per_s=... peak_rss_mb=...

Replay mode (--replay DIR): DIR is written by the Go test TestShapeNetDenseReplay
(experiments, -tags long, PC_REPLAY=DIR): the shapenet table's dense default
row as the Go runner trained it, i.e. its initial weights, every step's
augmented batch and dropout keep-mask, the learning rate and batch-norm
momentum of each epoch. The PyTorch twin trains on exactly those and prints
its instance and class mIoU beside the Go run's:
  RESULT epochs=4 torch_miou_instance=... torch_miou_class=... go_miou_instance=... go_miou_class=...

Farthest point sampling, ball query and three-NN interpolation are written
with torch ops here (no CUDA extension), with the same rules as the Go
engine: FPS starts at index 0 and takes the first maximum; the ball query
keeps the first k points (index order) with squared distance < r^2, padded
with the first; interpolation weights are 1/(d^2 + 1e-8), normalised, over
the three nearest points (ties: lower index first).
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402


def sqdist(a, b):
    """Squared distances [B, M, N] between a [B, M, 3] and b [B, N, 3]."""
    return ((a[:, :, None, :] - b[:, None, :, :]) ** 2).sum(-1)


def fps(xyz, m):
    """Farthest point sampling from index 0: indices [B, m]."""
    B, N, _ = xyz.shape
    dist = torch.full((B, N), 1e10, dtype=xyz.dtype)
    far = torch.zeros(B, dtype=torch.long)
    ar = torch.arange(B)
    out = torch.empty(B, m, dtype=torch.long)
    for i in range(m):
        out[:, i] = far
        c = xyz[ar, far].view(B, 1, 3)
        dist = torch.minimum(dist, ((xyz - c) ** 2).sum(-1))
        far = dist.max(-1)[1]
    return out


def index_points(points, idx):
    """points [B, N, C] at idx [B, ...] -> [B, ..., C]."""
    B = points.shape[0]
    bidx = torch.arange(B).view(B, *([1] * (idx.dim() - 1))).expand_as(idx)
    return points[bidx, idx]


def ball_query(xyz, centres, r, k):
    """First k points within r (index order), padded with the first: [B, M, k]."""
    B, N, _ = xyz.shape
    d = sqdist(centres, xyz)
    idx = torch.arange(N).view(1, 1, N).expand_as(d).clone()
    idx[~(d < r * r)] = N
    idx = idx.sort(dim=-1)[0][:, :, :k]
    first = idx[:, :, :1].expand_as(idx)
    return torch.where(idx == N, first, idx)


class SetAbstraction(nn.Module):
    def __init__(self, npoint, radius, nsample, in_channel, mlp, group_all):
        super().__init__()
        self.npoint, self.radius, self.nsample, self.group_all = npoint, radius, nsample, group_all
        self.mlp_convs, self.mlp_bns = nn.ModuleList(), nn.ModuleList()
        last = in_channel
        for out in mlp:
            self.mlp_convs.append(nn.Conv2d(last, out, 1))
            self.mlp_bns.append(nn.BatchNorm2d(out))
            last = out

    def forward(self, xyz, points):
        # xyz [B, N, 3], points [B, C, N]
        pts = points.transpose(1, 2)
        if self.group_all:
            new_xyz = None
            x = torch.cat([xyz, pts], -1).unsqueeze(1)  # [B, 1, N, 3+C]
        else:
            B = xyz.shape[0]
            new_xyz = index_points(xyz, fps(xyz, self.npoint))
            idx = ball_query(xyz, new_xyz, self.radius, self.nsample)
            rel = index_points(xyz, idx) - new_xyz.view(B, self.npoint, 1, 3)
            x = torch.cat([rel, index_points(pts, idx)], -1)  # [B, M, K, 3+C]
        x = x.permute(0, 3, 1, 2)  # [B, C, M, K]
        for conv, bn in zip(self.mlp_convs, self.mlp_bns):
            x = F.relu(bn(conv(x)))
        return new_xyz, x.max(-1)[0]  # [B, C', M]


class FeaturePropagation(nn.Module):
    def __init__(self, in_channel, mlp):
        super().__init__()
        self.mlp_convs, self.mlp_bns = nn.ModuleList(), nn.ModuleList()
        last = in_channel
        for out in mlp:
            self.mlp_convs.append(nn.Conv1d(last, out, 1))
            self.mlp_bns.append(nn.BatchNorm1d(out))
            last = out

    def forward(self, xyz1, xyz2, points1, points2):
        # xyz1 [B, N, 3], xyz2 [B, S, 3] or None, points1 [B, C1, N], points2 [B, C2, S]
        B, N, _ = xyz1.shape
        if xyz2 is None:
            interp = points2.expand(-1, -1, N)
        else:
            d = sqdist(xyz1, xyz2)
            d, idx = d.sort(dim=-1, stable=True)
            k = min(3, xyz2.shape[1])
            d, idx = d[:, :, :k], idx[:, :, :k]
            rec = 1.0 / (d + 1e-8)
            w = rec / rec.sum(-1, keepdim=True)
            g = index_points(points2.transpose(1, 2), idx)  # [B, N, k, C2]
            interp = (g * w.unsqueeze(-1)).sum(2).transpose(1, 2)
        x = torch.cat([points1, interp], 1)
        for conv, bn in zip(self.mlp_convs, self.mlp_bns):
            x = F.relu(bn(conv(x)))
        return x


class PointNet2PartSeg(nn.Module):
    def __init__(self, c):
        super().__init__()
        w = lambda n: max(1, int(round(n * c["width"])))  # noqa: E731  (Go rounds half away from zero; widths here are exact)
        feat = 3 if c["normals"] else 0
        in0 = 3 + feat
        self.c = c
        self.sa1 = SetAbstraction(c["npoint1"], c["radius1"], c["k1"], 3 + in0, [w(64), w(64), w(128)], False)
        self.sa2 = SetAbstraction(c["npoint2"], c["radius2"], c["k2"], 3 + w(128), [w(128), w(128), w(256)], False)
        self.sa3 = SetAbstraction(None, None, None, 3 + w(256), [w(256), w(512), w(1024)], True)
        self.fp3 = FeaturePropagation(w(1024) + w(256), [w(256), w(256)])
        self.fp2 = FeaturePropagation(w(256) + w(128), [w(256), w(128)])
        self.fp1 = FeaturePropagation(w(128) + c["categories"] + 3 + in0, [w(128), w(128), w(128)])
        self.conv1 = nn.Conv1d(w(128), w(128), 1)
        self.bn1 = nn.BatchNorm1d(w(128))
        self.drop1 = nn.Dropout(c["dropout"])
        self.conv2 = nn.Conv1d(w(128), c["parts"], 1)

    def forward(self, xyz, normals, cat):
        B, N, _ = xyz.shape
        l0_xyz = xyz.transpose(1, 2)
        l0 = torch.cat([l0_xyz, normals.transpose(1, 2)], 1) if self.c["normals"] else l0_xyz
        l1_xyz, l1 = self.sa1(xyz, l0)
        l2_xyz, l2 = self.sa2(l1_xyz, l1)
        _, l3 = self.sa3(l2_xyz, l2)
        l2 = self.fp3(l2_xyz, None, l2, l3)
        l1 = self.fp2(l1_xyz, l2_xyz, l1, l2)
        onehot = F.one_hot(cat, self.c["categories"]).to(xyz.dtype).view(B, -1, 1).expand(-1, -1, N)
        l0 = self.fp1(xyz, l1_xyz, torch.cat([onehot, l0_xyz, l0], 1), l1)
        h = self.drop1(F.relu(self.bn1(self.conv1(l0))))
        return self.conv2(h)


def parity(a):
    c = json.loads(a.config)
    c.setdefault("dropout", 0.0)
    torch.manual_seed(0)
    net = PointNet2PartSeg(c)
    init, _ = stio.load(a.init)
    sd = net.state_dict()
    missing = [k for k in sd if k not in init and not k.endswith("num_batches_tracked")]
    extra = [k for k in init if k not in sd]
    if missing or extra:
        raise SystemExit(f"state dict mismatch: missing {missing}, extra {extra}")
    net.load_state_dict({k: init.get(k, v) for k, v in sd.items()})
    data, _ = stio.load(a.batches)
    dt = torch.float64 if a.double else torch.float32
    net.to(dt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for s in range(a.steps):
        xyz = data[f"xyz.{s}"].to(dt)
        nrm = data[f"normals.{s}"].to(dt)
        cat = data[f"category.{s}"].long()
        lab = data[f"labels.{s}"].long()
        opt.zero_grad()
        loss = F.cross_entropy(net(xyz, nrm, cat), lab)
        print(f"STEP {s} LOSS {loss.item():.9g}", flush=True)
        loss.backward()
        if s == 0 and a.dump_grads:
            stio.save(a.dump_grads, {k: p.grad.float() for k, p in net.named_parameters()})
        opt.step()


def bench(a):
    torch.set_num_threads(a.threads)
    c = {"npoints": a.points, "categories": 16, "parts": 50, "normals": False, "width": 1.0,
         "npoint1": 512, "npoint2": 128, "radius1": 0.2, "radius2": 0.4, "k1": 32, "k2": 64, "dropout": 0.5}
    torch.manual_seed(0)
    net = PointNet2PartSeg(c)
    xyz = torch.randn(a.batch, a.points, 3)
    xyz = xyz / xyz.norm(dim=-1, keepdim=True)
    cat = torch.randint(0, 16, (a.batch,))
    lab = torch.randint(0, 50, (a.batch, a.points))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(net(xyz, None, cat), lab)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.bench_steps):
        step()
    dt = (time.perf_counter() - t0) / a.bench_steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT model=pointnet2 batch={a.batch} threads={a.threads} s_per_step={dt:.4f} "
          f"img_per_s={a.batch / dt:.1f} peak_rss_mb={rss:.0f}")


def augment(xyz, nrm, g):
    """Per shape: scale U(0.8, 1.25), rotation about y, jitter N(0, 0.01) clipped to 0.05 (as the Go task)."""
    B = xyz.shape[0]
    s = 0.8 + 0.45 * torch.rand(B, 1, 1, generator=g)
    a = 2 * torch.pi * torch.rand(B, generator=g)
    c, sn = torch.cos(a).view(B, 1), torch.sin(a).view(B, 1)

    def rot(v):
        x, y, z = v[..., 0], v[..., 1], v[..., 2]
        return torch.stack([c * x + sn * z, y, -sn * x + c * z], -1)

    xyz = rot(xyz) * s
    nrm = rot(nrm)
    xyz = xyz + (0.01 * torch.randn(xyz.shape, generator=g)).clamp(-0.05, 0.05)
    return xyz, nrm


def train(a):
    """Dense training with the suite's recipe on data Go exported, then the category-restricted mIoU."""
    torch.set_num_threads(a.threads)
    c = json.loads(a.config)
    tr, _ = stio.load(os.path.join(a.train, "train.safetensors"))
    te, _ = stio.load(os.path.join(a.train, "test.safetensors"))
    cat_parts = json.loads(a.cat_parts)
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed)
    net = PointNet2PartSeg(c)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, weight_decay=1e-4)
    S, B = tr["xyz"].shape[0], a.batch
    for epoch in range(a.epochs):
        lr = max(a.lr * 0.5 ** (epoch // a.step_epochs), 1e-5)
        for pg in opt.param_groups:
            pg["lr"] = lr
        mom = max(0.1 * 0.5 ** (epoch // a.step_epochs), 0.01)
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.momentum = mom
        net.train()
        perm = torch.randperm(S, generator=g)
        tot, t0 = 0.0, time.time()
        for st in range(S // B):
            idx = perm[st * B:(st + 1) * B]
            xyz, nrm = augment(tr["xyz"][idx], tr["normals"][idx], g)
            opt.zero_grad()
            loss = F.cross_entropy(net(xyz, nrm, tr["category"][idx].long()), tr["labels"][idx].long())
            loss.backward()
            opt.step()
            tot += loss.item()
        print(f"EPOCH {epoch + 1} loss {tot / (S // B):.4f} lr {lr:g} sec {time.time() - t0:.1f}", flush=True)
    inst, cls = evaluate(net, te, cat_parts, B)
    print(f"RESULT miou_instance={inst:.4f} miou_class={cls:.4f}")


class KeepMaskDropout(nn.Module):
    """Dropout with a given keep-mask (set before each forward): the Go run's own masks, scaled by 1/(1-p)."""

    def __init__(self, p):
        super().__init__()
        self.p, self.keep = p, None

    def forward(self, x):
        if not self.training or self.keep is None:
            return x
        return x * self.keep.view_as(x) / (1 - self.p)


def replay(a):
    """Trains the PyTorch twin on exactly the batches, dropout masks, initial weights and
    schedule of the Go run exported by TestShapeNetDenseReplay, then prints both mIoUs."""
    torch.set_num_threads(a.threads)
    d = a.replay
    with open(os.path.join(d, "recipe.json")) as f:
        r = json.load(f)
    c = r["config"]
    torch.manual_seed(0)
    net = PointNet2PartSeg(c)
    init, _ = stio.load(os.path.join(d, "init.safetensors"))
    sd = net.state_dict()
    missing = [k for k in sd if k not in init and not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"{d}/init.safetensors: missing {missing}")
    net.load_state_dict({k: init.get(k, v) for k, v in sd.items()})
    net.drop1 = KeepMaskDropout(c["dropout"])
    if r["optim"] != "adam":
        raise SystemExit(f"{d}/recipe.json: optim {r['optim']!r}: only adam is replayed")
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"][0], weight_decay=r["weight_decay"])
    epochs = r["epochs"] if a.epochs is None else min(a.epochs, r["epochs"])
    for epoch in range(epochs):
        for pg in opt.param_groups:
            pg["lr"] = r["lr"][epoch]
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.momentum = r["bn_momentum"][epoch]
        data, _ = stio.load(os.path.join(d, f"epoch{epoch}.safetensors"))
        net.train()
        tot, t0 = 0.0, time.time()
        for st in range(r["steps_per_epoch"]):
            k = str(st)
            keep = data.get("keep." + k)
            net.drop1.keep = keep if keep is not None and keep.numel() > 0 else None
            opt.zero_grad()
            loss = F.cross_entropy(net(data["xyz." + k], data["normals." + k], data["category." + k].long()),
                                   data["labels." + k].long())
            loss.backward()
            opt.step()
            tot += loss.item()
        gl = (r.get("go_curve") or {}).get("train_loss", [])
        print(f"EPOCH {epoch + 1} loss {tot / r['steps_per_epoch']:.4f}"
              + (f" (go {gl[epoch]:.4f})" if len(gl) > epoch else "")
              + f" lr {r['lr'][epoch]:g} sec {time.time() - t0:.1f}", flush=True)
    te, _ = stio.load(os.path.join(d, "test.safetensors"))
    inst, cls = evaluate(net, te, r["cat_parts"], r["batch"])
    g, note = r["go"], ""
    curve = r.get("go_curve") or {}
    if epochs != r["epochs"]:
        gi, gc = curve.get("test_miou_instance", []), curve.get("test_miou_class", [])
        if len(gi) >= epochs and len(gc) >= epochs:
            g = {"miou_instance": gi[epochs - 1], "miou_class": gc[epochs - 1]}
        else:
            note = f" (go after {r['epochs']} epochs: the export has no per-epoch curve)"
    print(f"RESULT epochs={epochs} torch_miou_instance={inst:.4f} torch_miou_class={cls:.4f} "
          f"go_miou_instance={g['miou_instance']:.4f} go_miou_class={g['miou_class']:.4f}{note}")


def evaluate(net, te, cat_parts, B):
    """Instance and class mIoU on the test split, predictions restricted to the category's parts."""
    net.eval()
    ious = {}
    with torch.no_grad():
        for lo in range(0, te["xyz"].shape[0], B):
            cat = te["category"][lo:lo + B].long()
            logits = net(te["xyz"][lo:lo + B], te["normals"][lo:lo + B], cat)
            lab = te["labels"][lo:lo + B].long()
            for k in range(logits.shape[0]):
                parts = cat_parts[int(cat[k])]
                pred = torch.tensor(parts)[logits[k, parts].argmax(0)]
                iou = []
                for p in parts:
                    i = ((pred == p) & (lab[k] == p)).sum().item()
                    u = ((pred == p) | (lab[k] == p)).sum().item()
                    iou.append(1.0 if u == 0 else i / u)
                ious.setdefault(int(cat[k]), []).append(sum(iou) / len(iou))
    allv = [v for vs in ious.values() for v in vs]
    inst = sum(allv) / len(allv)
    cls = sum(sum(vs) / len(vs) for vs in ious.values()) / len(ious)
    return inst, cls


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init")
    p.add_argument("--batches")
    p.add_argument("--config")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--dump-grads", help="write the first step's gradients here (debugging)")
    p.add_argument("--double", action="store_true", help="train in float64 (a precision reference)")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--train", help="folder with train/test.safetensors exported by Go: dense training + mIoU")
    p.add_argument("--cat-parts", help="JSON list of each category's part labels (--train)")
    p.add_argument("--replay", help="folder written by TestShapeNetDenseReplay (experiments, -tags long): "
                   "the Go dense row's training replayed on the same weights, batches and dropout masks")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (--train: 20; --replay: the row's)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--step-epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--points", type=int, default=2048)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--bench-steps", type=int, default=3)
    a = p.parse_args()
    if a.bench:
        bench(a)
    elif a.replay:
        replay(a)
    elif a.train:
        if a.epochs is None:
            a.epochs = 20
        train(a)
    else:
        if not (a.init and a.batches and a.config):
            p.error("parity mode needs --init, --batches and --config")
        parity(a)


if __name__ == "__main__":
    main()

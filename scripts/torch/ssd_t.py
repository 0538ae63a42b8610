"""PyTorch twin of the harness's SSD (models/ssd): the same network with the
same parameter names, default boxes, matching, encoding, multibox loss with
hard-negative mining and post-processing, written from SSD's definition
(NVIDIA's SSD300 v1.1 layout: ResNet to conv4, extra layers as
nn.Sequential(conv1x1, BN, ReLU, conv3x3, BN, ReLU), heads viewed as
[N, k, nd*H*W]).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from resnet_t import Block

PROXY = dict(in_ch=1, classes=11, stem=(16, 3, 2), maxpool=True, bottleneck=False,
             stages=[(1, 16, 1), (1, 32, 2), (1, 64, 1)],
             extras=[(32, 64, 2, 1), (32, 64, 2, 1), (32, 64, 2, 1)],
             fig=64, feat=[8, 4, 2, 1], steps=[8, 16, 32, 64], scales=[10, 17, 27, 40, 56],
             ratios=[[2], [2, 3], [2, 3], [2]])


class Backbone(nn.Module):
    def __init__(self, c):
        super().__init__()
        w, k, s = c["stem"]
        self.conv1 = nn.Conv2d(c["in_ch"], w, k, s, k // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.maxpool = c["maxpool"]
        inp, exp = w, (4 if c["bottleneck"] else 1)
        self.nstages = len(c["stages"])
        for i, (nb, planes, stride) in enumerate(c["stages"]):
            blocks = []
            for b in range(nb):
                blocks.append(Block(inp, planes * exp, stride if b == 0 else 1, planes if c["bottleneck"] else 0))
                inp = planes * exp
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_channels = inp

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.maxpool:
            h = F.max_pool2d(h, 3, 2, 1)
        for i in range(self.nstages):
            h = getattr(self, f"layer{i + 1}")(h)
        return h


def boxes_per_cell(c, k):
    return 2 + 2 * len(c["ratios"][k])


class SSD(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.backbone = Backbone(c)
        inp, chans = self.backbone.out_channels, [self.backbone.out_channels]
        blocks = []
        for mid, out, stride, pad in c["extras"]:
            blocks.append(nn.Sequential(
                nn.Conv2d(inp, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                nn.Conv2d(mid, out, 3, stride, pad, bias=False), nn.BatchNorm2d(out), nn.ReLU()))
            inp = out
            chans.append(out)
        self.additional_blocks = nn.ModuleList(blocks)
        self.loc = nn.ModuleList([nn.Conv2d(ch, boxes_per_cell(c, k) * 4, 3, padding=1) for k, ch in enumerate(chans)])
        self.conf = nn.ModuleList([nn.Conv2d(ch, boxes_per_cell(c, k) * c["classes"], 3, padding=1)
                                   for k, ch in enumerate(chans)])

    def forward(self, x):
        h = self.backbone(x)
        feats = [h]
        for b in self.additional_blocks:
            h = b(h)
            feats.append(h)
        n = x.shape[0]
        locs = [l(f).view(n, 4, -1) for l, f in zip(self.loc, feats)]
        confs = [cf(f).view(n, self.c["classes"], -1) for cf, f in zip(self.conf, feats)]
        return torch.cat(locs, 2).contiguous(), torch.cat(confs, 2).contiguous()


def default_boxes(c):
    """[A, 4] (cx, cy, w, h) float64, NVIDIA's DefaultBoxes order."""
    fig, out = float(c["fig"]), []
    for k, f in enumerate(c["feat"]):
        fk = fig / c["steps"][k]
        sk1, sk2 = c["scales"][k] / fig, c["scales"][k + 1] / fig
        sk3 = math.sqrt(sk1 * sk2)
        sizes = [(sk1, sk1), (sk3, sk3)]
        for r in c["ratios"][k]:
            w, h = sk1 * math.sqrt(r), sk1 / math.sqrt(r)
            sizes += [(w, h), (h, w)]
        for w, h in sizes:
            for i in range(f):
                for j in range(f):
                    out.append([(j + 0.5) / fk, (i + 0.5) / fk, w, h])
    return torch.tensor(out, dtype=torch.float64).clamp(0, 1)


def corners(b):
    return torch.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)


def iou(a, b):
    """Pairwise IoU of corner boxes a [P,4] and b [Q,4] (float64)."""
    iw = (torch.min(a[:, None, 2], b[None, :, 2]) - torch.max(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    ih = (torch.min(a[:, None, 3], b[None, :, 3]) - torch.max(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = iw * ih
    area = lambda r: (r[:, 2] - r[:, 0]).clamp(min=0) * (r[:, 3] - r[:, 1]).clamp(min=0)
    u = area(a)[:, None] + area(b)[None, :] - inter
    return torch.where(inter > 0, inter / u, torch.zeros_like(inter))


def match(truth_boxes, truth_labels, dboxes, thr=0.5):
    """Each truth takes its best box (later truth wins a shared one), then
    each box with best IoU >= thr its best truth. Returns labels [A] and
    encoded offsets [A, 4] (variances 0.1, 0.2)."""
    A = dboxes.shape[0]
    labels = torch.zeros(A, dtype=torch.long)
    loc = torch.zeros(A, 4, dtype=torch.float64)
    if truth_boxes.shape[0] == 0:
        return labels, loc
    ious = iou(truth_boxes, corners(dboxes))  # [T, A]
    best_truth_iou, best_truth = ious.max(0)
    best_truth = ious.argmax(0)
    best_box = ious.argmax(1)
    assign = torch.where(best_truth_iou >= thr, best_truth, torch.full_like(best_truth, -1))
    for t in range(truth_boxes.shape[0]):
        assign[best_box[t]] = t
    pos = assign >= 0
    tb = truth_boxes[assign[pos]]
    d = dboxes[pos]
    cx, cy = (tb[:, 0] + tb[:, 2]) / 2, (tb[:, 1] + tb[:, 3]) / 2
    w, h = tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1]
    loc[pos] = torch.stack([(cx - d[:, 0]) / (0.1 * d[:, 2]), (cy - d[:, 1]) / (0.1 * d[:, 3]),
                            torch.log(w / d[:, 2]) / 0.2, torch.log(h / d[:, 3]) / 0.2], 1)
    labels[pos] = truth_labels[assign[pos]]
    return labels, loc


def multibox_loss(ploc, pconf, labels, gloc):
    """Smooth-L1 (beta 1) over positives + cross-entropy over positives and
    3:1 hard negatives, divided by the batch's positives."""
    pos = labels > 0
    npos = pos.sum(1)
    ce = F.cross_entropy(pconf, labels, reduction="none")  # [N, A]
    with torch.no_grad():
        c64 = pconf.double()
        bg = torch.logsumexp(c64, 1) - c64[:, 0, :]
        bg[pos] = -math.inf
        neg = torch.zeros_like(pos)
        for i in range(labels.shape[0]):
            k = min(3 * int(npos[i]), int((~pos[i]).sum()))
            order = torch.sort(bg[i], descending=True, stable=True).indices
            neg[i, order[:k]] = True
    sl1 = F.smooth_l1_loss(ploc.permute(0, 2, 1)[pos], gloc[pos].to(ploc.dtype), reduction="sum", beta=1.0)
    closs = ce[pos | neg].sum()
    return (sl1 + closs) / npos.sum()


def nms(boxes, order, thr):
    """Greedy NMS over boxes[order] (descending score): drop a box whose IoU
    with a kept one exceeds thr."""
    if not order:
        return []
    m = iou(boxes[order], boxes[order]).tolist()
    keep = []
    for i in range(len(order)):
        if all(m[i][k] <= thr for k in keep):
            keep.append(i)
    return [order[i] for i in keep]


def post_process(ploc, pconf, dboxes, thr=0.05, nms_thr=0.5, per_class=200, max_det=200):
    """One image: loc [4, A], conf [C, A] -> list of (label, score, x0, y0, x1, y1)."""
    prob = torch.softmax(pconf.double(), 0)
    l = ploc.double()
    cx = dboxes[:, 0] + l[0] * 0.1 * dboxes[:, 2]
    cy = dboxes[:, 1] + l[1] * 0.1 * dboxes[:, 3]
    w = dboxes[:, 2] * torch.exp(l[2] * 0.2)
    h = dboxes[:, 3] * torch.exp(l[3] * 0.2)
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    out = []
    for c in range(1, prob.shape[0]):
        p = prob[c]
        cand = torch.nonzero(p > thr).flatten()
        cand = cand[torch.sort(p[cand], descending=True, stable=True).indices][:per_class]
        for a in nms(boxes, cand.tolist(), nms_thr):
            out.append((c, float(p[a]), *boxes[a].tolist()))
    out.sort(key=lambda d: -d[1])
    return out[:max_det]

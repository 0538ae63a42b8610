#!/usr/bin/python3
"""PyTorch twin of models/transformer for the parity check and the speed yardstick.

The network is written out explicitly (not nn.Transformer) so that its
state-dict names are fairseq's, as the Go model's are: a pre-norm
encoder-decoder Transformer (transformer_wmt_en_de_big_t2t layout) with one
embedding shared by encoder, decoder and output projection, scaled by
sqrt(d), fairseq's sinusoidal positions (sines then cosines), separate q/k/v
projections, final encoder/decoder layer norms, label-smoothed
cross-entropy (ignore <pad> = 0).

  parity_transformer.py DIR   reads DIR/config.json, DIR/init.safetensors,
      DIR/batches.safetensors; trains `steps` Adam steps (dropout off) printing
      "loss STEP VALUE"; then greedy-decodes batches' test_src with the weights of
      DIR/final.safetensors (Go's trained weights) by re-running the whole prefix
      each step, printing "greedy I TOK TOK ...".
  parity_transformer.py --bench [--batch 64] [--threads 2] [--steps 10]
      times one training step of the bench configuration (d 256, 4 heads,
      FFN 1024, 3+3 layers, vocab 8000, length 32, dropout 0.1) and prints
      torch_reference.py's RESULT line.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stio  # noqa: E402

PAD, BOS, EOS = 0, 1, 2


class MHA(nn.Module):
    def __init__(self, d, heads, attn_dropout):
        super().__init__()
        self.h, self.p = heads, attn_dropout
        self.k_proj, self.v_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.q_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, q, kv, key_pad=None, causal=False):
        b, lq, d = q.shape
        lk, dh = kv.shape[1], d // self.h
        qh = self.q_proj(q).view(b, lq, self.h, dh).transpose(1, 2)
        kh = self.k_proj(kv).view(b, lk, self.h, dh).transpose(1, 2)
        vh = self.v_proj(kv).view(b, lk, self.h, dh).transpose(1, 2)
        s = qh @ kh.transpose(-1, -2) / math.sqrt(dh)
        if causal:
            m = torch.ones(lq, lk, dtype=torch.bool).tril(lk - lq).logical_not()
            s = s.masked_fill(m, float("-inf"))
        if key_pad is not None:
            s = s.masked_fill(key_pad[:, None, None, :], float("-inf"))
        p = F.dropout(s.softmax(-1), self.p, self.training)
        return self.out_proj((p @ vh).transpose(1, 2).reshape(b, lq, d))


class EncLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["D"]
        self.self_attn = MHA(d, c["Heads"], c["AttnDropout"])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, c["FFN"]), nn.Linear(c["FFN"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.p, self.rp = c["Dropout"], c["ReLUDropout"]

    def forward(self, x, pad):
        h = self.self_attn(self.self_attn_layer_norm(x), self.self_attn_layer_norm(x), key_pad=pad)
        x = x + F.dropout(h, self.p, self.training)
        h = F.dropout(F.relu(self.fc1(self.final_layer_norm(x))), self.rp, self.training)
        return x + F.dropout(self.fc2(h), self.p, self.training)


class DecLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["D"]
        self.self_attn = MHA(d, c["Heads"], c["AttnDropout"])
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = MHA(d, c["Heads"], c["AttnDropout"])
        self.encoder_attn_layer_norm = nn.LayerNorm(d)
        self.fc1, self.fc2 = nn.Linear(d, c["FFN"]), nn.Linear(c["FFN"], d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.p, self.rp = c["Dropout"], c["ReLUDropout"]

    def forward(self, x, enc, pad):
        h = self.self_attn_layer_norm(x)
        x = x + F.dropout(self.self_attn(h, h, causal=True), self.p, self.training)
        h = self.encoder_attn(self.encoder_attn_layer_norm(x), enc, key_pad=pad)
        x = x + F.dropout(h, self.p, self.training)
        h = F.dropout(F.relu(self.fc1(self.final_layer_norm(x))), self.rp, self.training)
        return x + F.dropout(self.fc2(h), self.p, self.training)


class Side(nn.Module):
    def __init__(self, c, n, cls):
        super().__init__()
        self.layers = nn.ModuleList([cls(c) for _ in range(n)])
        self.layer_norm = nn.LayerNorm(c["D"])


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c, d = c, c["D"]
        self.encoder = Side(c, c["EncLayers"], EncLayer)
        self.decoder = Side(c, c["DecLayers"], DecLayer)
        self.encoder.embed_tokens = nn.Embedding(c["Vocab"], d)
        nn.init.normal_(self.encoder.embed_tokens.weight, 0, d ** -0.5)
        half = d // 2
        freq = torch.exp(torch.arange(half, dtype=torch.float64) * -(math.log(10000) / max(half - 1, 1)))
        ang = torch.arange(1024, dtype=torch.float64)[:, None] * freq[None, :]
        self.register_buffer("pe", torch.cat([ang.sin(), ang.cos()], 1).float(), persistent=False)

    def embed(self, ids, start=0):
        start += self.c.get("PositionOffset", 0)  # fairseq: padding_idx + 1
        x = self.encoder.embed_tokens(ids) * math.sqrt(self.c["D"]) + self.pe[start:start + ids.shape[1]]
        return F.dropout(x, self.c["Dropout"], self.training)

    def encode(self, src):
        pad = src == PAD
        x = self.embed(src)
        for layer in self.encoder.layers:
            x = layer(x, pad)
        return self.encoder.layer_norm(x), pad

    def decode(self, tgt_in, enc, pad):
        x = self.embed(tgt_in)
        for layer in self.decoder.layers:
            x = layer(x, enc, pad)
        return self.decoder.layer_norm(x) @ self.encoder.embed_tokens.weight.t()

    def forward(self, src, tgt_in):
        enc, pad = self.encode(src)
        return self.decode(tgt_in, enc, pad)


def loss_fn(model, src, tgt_in, tgt_out):
    logits = model(src, tgt_in)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                           label_smoothing=model.c["LabelSmoothing"], ignore_index=PAD)


def load_weights(model, path):
    ts, _ = stio.load(path)
    sd = model.state_dict()
    missing = set(sd) - set(ts)
    extra = set(ts) - set(sd)
    if missing or extra:
        raise SystemExit(f"{path}: missing {sorted(missing)} extra {sorted(extra)}")
    model.load_state_dict({k: v.float() for k, v in ts.items()})


def greedy(model, src, max_a, max_b):
    """Greedy decoding re-running the whole prefix each step (no cache)."""
    enc, pad = model.encode(src)
    lens = (src != PAD).sum(1)
    maxl = [max(1, int(max_a * int(n)) + max_b) for n in lens]
    b = src.shape[0]
    toks = torch.full((b, 1), BOS, dtype=torch.long)
    out, done = [[] for _ in range(b)], [False] * b
    t = 0
    while not all(done):
        lp = model.decode(toks, enc, pad)[:, -1].double().log_softmax(-1)
        lp[:, PAD] = float("-inf")
        lp[:, BOS] = float("-inf")
        nxt = []
        for i in range(b):
            if done[i]:
                nxt.append(EOS)
                continue
            row = lp[i]
            if t >= maxl[i]:
                w = EOS
            else:
                w = int(torch.argmax(row))  # first maximum, as the Go side
            if w == EOS:
                done[i] = True
            else:
                out[i].append(w)
            nxt.append(w)
        toks = torch.cat([toks, torch.tensor(nxt)[:, None]], 1)
        t += 1
    return out


def parity(d):
    torch.set_num_threads(2)
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    model = Transformer(c)
    load_weights(model, os.path.join(d, "init.safetensors"))
    bt, meta = stio.load(os.path.join(d, "batches.safetensors"))
    steps = int(meta["steps"])
    opt = torch.optim.Adam(model.parameters(), lr=float(meta["lr"]), betas=(0.9, 0.98), eps=1e-9)
    model.train()  # dropout probabilities are 0 in the parity config
    for i in range(steps):
        g = lambda k: bt[f"{k}.{i}"].long()
        opt.zero_grad()
        loss = loss_fn(model, g("src"), g("tgt_in"), g("tgt_out"))
        loss.backward()
        opt.step()
        print(f"loss {i} {loss.item():.9g}", flush=True)
    load_weights(model, os.path.join(d, "final.safetensors"))
    model.eval()
    with torch.no_grad():
        outs = greedy(model, bt["test_src"].long(), float(meta["max_a"]), int(meta["max_b"]))
    for i, o in enumerate(outs):
        print("greedy", i, " ".join(map(str, o)))
    with torch.no_grad():
        beams = beam_cached(model, bt["test_src"].long(), 4, float(meta["max_a"]), int(meta["max_b"]))
    for i, o in enumerate(beams):
        print("beam4", i, " ".join(map(str, o)))


def bench(a):
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    c = dict(Vocab=8000, D=256, Heads=4, FFN=1024, EncLayers=3, DecLayers=3, Dropout=0.1,
             AttnDropout=0.1, ReLUDropout=0.1, LabelSmoothing=0.1)
    model = Transformer(c)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src = torch.randint(4, 8000, (a.batch, 32))
    tgt = torch.randint(4, 8000, (a.batch, 33))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model, src, tgt[:, :-1], tgt[:, 1:])
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    s = (time.perf_counter() - t0) / a.steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT model=transformer batch={a.batch} threads={a.threads} "
          f"s_per_step={s:.4f} img_per_s={a.batch / s:.1f} peak_rss_mb={rss:.0f} torch={torch.__version__}")


def beam_cached(model, src, k, max_a, max_b, lenpen=1.0):
    """Beam search with per-layer key/value caches (fairseq's rules: the 2k best
    continuations are ranked, <eos> among the first k finishes a hypothesis,
    the first k others continue; done when k hypotheses finished)."""
    c = model.c
    d, h = c["D"], c["Heads"]
    dh = d // h
    b = src.shape[0]
    enc, pad = model.encode(src)
    rows = b * k
    enc = enc.repeat_interleave(k, 0)
    pad = pad.repeat_interleave(k, 0)
    lens = (src != PAD).sum(1)
    maxl = [max(1, int(max_a * int(n)) + max_b) for n in lens]

    def heads(x):
        return x.view(rows, -1, h, dh).transpose(1, 2)

    cross = [(heads(L.encoder_attn.k_proj(enc)), heads(L.encoder_attn.v_proj(enc))) for L in model.decoder.layers]
    cache = [None] * len(model.decoder.layers)
    scores = torch.full((rows,), float("-inf"), dtype=torch.float64)
    scores[::k] = 0
    hist = [[] for _ in range(rows)]
    tok = torch.full((rows,), BOS, dtype=torch.long)
    fin = [[] for _ in range(b)]
    done = [False] * b
    t = 0
    while not all(done):
        x = model.embed(tok[:, None], start=t)
        for i, L in enumerate(model.decoder.layers):
            y = L.self_attn_layer_norm(x)
            q, kk, vv = heads(L.self_attn.q_proj(y)), heads(L.self_attn.k_proj(y)), heads(L.self_attn.v_proj(y))
            if cache[i] is not None:
                kk, vv = torch.cat([cache[i][0], kk], 2), torch.cat([cache[i][1], vv], 2)
            cache[i] = (kk, vv)
            a = ((q @ kk.transpose(-1, -2)) / math.sqrt(dh)).softmax(-1) @ vv
            x = x + L.self_attn.out_proj(a.transpose(1, 2).reshape(rows, 1, d))
            y = L.encoder_attn_layer_norm(x)
            q = heads(L.encoder_attn.q_proj(y))
            s = (q @ cross[i][0].transpose(-1, -2)) / math.sqrt(dh)
            s = s.masked_fill(pad[:, None, None, :], float("-inf"))
            a = s.softmax(-1) @ cross[i][1]
            x = x + L.encoder_attn.out_proj(a.transpose(1, 2).reshape(rows, 1, d))
            x = x + L.fc2(F.relu(L.fc1(L.final_layer_norm(x))))
        lp = (model.decoder.layer_norm(x)[:, 0] @ model.encoder.embed_tokens.weight.t()).double().log_softmax(-1)
        lp[:, PAD] = float("-inf")
        lp[:, BOS] = float("-inf")
        idx = torch.arange(rows)
        new_scores = torch.full((rows,), float("-inf"), dtype=torch.float64)
        new_hist = list(hist)
        for s_ in range(b):
            if done[s_]:
                continue
            sl = slice(s_ * k, (s_ + 1) * k)
            l = lp[sl]
            if t >= maxl[s_]:
                e = l[:, EOS].clone()
                l = torch.full_like(l, float("-inf"))
                l[:, EOS] = e
            cand = (scores[sl][:, None] + l).view(-1)
            top_s, top_i = cand.topk(2 * k)
            nxt = 0
            for rank in range(2 * k):
                sc, flat = float(top_s[rank]), int(top_i[rank])
                if sc == float("-inf"):
                    break
                r, w = s_ * k + flat // l.shape[1], flat % l.shape[1]
                if w == EOS:
                    if rank < k and len(fin[s_]) < k:
                        fin[s_].append((sc / (t + 1) ** lenpen, hist[r]))
                    continue
                if nxt < k:
                    rr = s_ * k + nxt
                    idx[rr], new_scores[rr], new_hist[rr] = r, sc, hist[r] + [w]
                    tok[rr] = w
                    nxt += 1
            if len(fin[s_]) >= k or t >= maxl[s_] or nxt == 0:
                done[s_] = True
        scores, hist = new_scores, new_hist
        cache = [(kv[0].index_select(0, idx), kv[1].index_select(0, idx)) for kv in cache]
        t += 1
    return [max(f)[1] if f else [] for f in fin]


def bench_decode(a):
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    c = dict(Vocab=8000, D=256, Heads=4, FFN=1024, EncLayers=3, DecLayers=3, Dropout=0.1,
             AttnDropout=0.1, ReLUDropout=0.1, LabelSmoothing=0.1)
    model = Transformer(c).eval()
    src = torch.randint(4, 8000, (64, 32))
    with torch.no_grad():
        t0 = time.perf_counter()
        n = 0
        for _ in range(a.steps):
            beam_cached(model, src, 4, 1.0, 0)
            n += src.shape[0]
        s = time.perf_counter() - t0
    print(f"RESULT decode=beam4 model=transformer sentences={n} threads={a.threads} sent_per_s={n / s:.2f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?", help="parity directory written by the Go test")
    p.add_argument("--bench", action="store_true", help="time the bench configuration's training step")
    p.add_argument("--bench-decode", action="store_true", help="time beam-4 decoding with a KV cache")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    if a.bench_decode:
        bench_decode(a)
    elif a.bench:
        bench(a)
    elif a.dir:
        parity(a.dir)
    else:
        p.error("give a parity directory or --bench")


if __name__ == "__main__":
    main()

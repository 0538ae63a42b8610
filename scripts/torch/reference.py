#!/usr/bin/python3
"""PyTorch timing reference for `gap bench step`.

Builds the same networks as the harness's bench models, trains them on
random data with Adam (learning rate 1e-3, float32, CPU) and reports the
mean wall time of one optimisation step (forward, cross-entropy, backward,
update) after a few untimed warm-up steps. The output is one line in the
format `gap bench step` prints, so the two can be read side by side:

  RESULT model=M batch=B threads=T s_per_step=S img_per_s=I peak_rss_mb=R torch=V cpu_s_per_step=C

cpu_s_per_step is the process CPU time (user+system, all threads) per timed
step, the number to compare with gap bench step's on a loaded machine. Set
OMP_WAIT_POLICY=passive to keep OpenMP's idle spinning out of it.

Usage (Debian 12: apt-get install python3-torch, PyTorch 1.13):

  /usr/bin/python3 scripts/torch/reference.py MODEL [--batch B] [--threads T]
                   [--steps N] [--warmup W] [--seed S]

MODEL is one of: mlp, lenet5, conv2, resnet20, transformer.

  mlp          1x28x28 input, fully connected 784-300-100-10, ReLU
  lenet5       1x28x28: conv5x5(6, pad 2) relu maxpool2, conv5x5(16) relu
               maxpool2, fully connected 400-120-84-10
  conv2        3x32x32: conv3x3(32, pad 1, no bias) relu, conv3x3(64, pad 1,
               no bias) relu, global average, linear 64-10
  resnet20     3x32x32 CIFAR ResNet-20 (3 stages of 3 basic blocks, widths
               16/32/64, batch norm, 1x1 projection shortcuts on change)
  transformer  pre-norm encoder-decoder (d=256, 4 heads, FFN 1024, 3+3
               layers, dropout 0.1), 8000-token shared embedding scaled by
               sqrt(d) with sinusoidal positions, 32-token sentences,
               label smoothing 0.1; --batch counts sentence pairs
"""
import argparse
import math
import resource
import sys
import time

try:
    import torch
    from torch import nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("reference.py: PyTorch is not installed (apt-get install python3-torch)")


def mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 300), nn.ReLU(),
        nn.Linear(300, 100), nn.ReLU(),
        nn.Linear(100, 10),
    )


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


class GlobalMean(nn.Module):
    """Averages each channel over its spatial positions."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def conv2():
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.ReLU(),
        GlobalMean(),
        nn.Linear(64, 10),
    )


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
    )


class Basic(nn.Module):
    """Two 3x3 conv-BN layers plus an identity or 1x1 projection shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.first = conv_bn(cin, cout, 3, stride)
        self.second = conv_bn(cout, cout, 3, 1)
        self.shortcut = nn.Identity() if (stride == 1 and cin == cout) else conv_bn(cin, cout, 1, stride)

    def forward(self, x):
        y = self.second(F.relu(self.first(x)))
        return F.relu(y + self.shortcut(x))


def resnet20():
    layers = [conv_bn(3, 16, 3, 1), nn.ReLU()]
    width = 16
    for stage, out in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(Basic(width, out, stride))
            width = out
    layers += [GlobalMean(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def sinusoids(length, d):
    """Fixed sine/cosine position codes, even dims sine, odd dims cosine."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    table = torch.zeros(length, d)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table


class Seq2Seq(nn.Module):
    """Pre-norm encoder-decoder with one embedding tied to the output layer."""

    def __init__(self, vocab=8000, d=256, heads=4, ffn=1024, layers=3, dropout=0.1, max_len=512):
        super().__init__()
        self.scale = math.sqrt(d)
        self.tokens = nn.Embedding(vocab, d)
        nn.init.normal_(self.tokens.weight, mean=0.0, std=1.0 / math.sqrt(d))
        self.body = nn.Transformer(d_model=d, nhead=heads, num_encoder_layers=layers,
                                   num_decoder_layers=layers, dim_feedforward=ffn,
                                   dropout=dropout, batch_first=True, norm_first=True)
        self.register_buffer("positions", sinusoids(max_len, d))

    def embed(self, ids):
        return self.tokens(ids) * self.scale + self.positions[: ids.size(1)]

    def forward(self, src, tgt_in):
        n = tgt_in.size(1)
        future = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        hidden = self.body(self.embed(src), self.embed(tgt_in), tgt_mask=future)
        return hidden @ self.tokens.weight.t()


IMAGE_MODELS = {
    "mlp": (mlp, (1, 28, 28)),
    "lenet5": (lenet5, (1, 28, 28)),
    "conv2": (conv2, (3, 32, 32)),
    "resnet20": (resnet20, (3, 32, 32)),
}
MODELS = sorted(list(IMAGE_MODELS) + ["transformer"])


def make_problem(name, batch):
    """Returns the model and a function computing the loss of one batch."""
    if name == "transformer":
        vocab, length = 8000, 32
        model = Seq2Seq(vocab=vocab)
        src = torch.randint(0, vocab, (batch, length))
        tgt = torch.randint(0, vocab, (batch, length + 1))

        def loss():
            logits = model(src, tgt[:, :-1])
            return F.cross_entropy(logits.reshape(-1, vocab), tgt[:, 1:].reshape(-1), label_smoothing=0.1)

        return model, loss
    build, shape = IMAGE_MODELS[name]
    model = build()
    x = torch.randn(batch, *shape)
    y = torch.randint(0, 10, (batch,))

    def loss():
        return F.cross_entropy(model(x), y)

    return model, loss


def peak_rss_mb():
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None):
    ap = argparse.ArgumentParser(description="Time one training step of a reference model in PyTorch.")
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--batch", type=int, default=128, help="examples (sentence pairs) per step")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads")
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.batch < 1 or args.threads < 1 or args.steps < 1 or args.warmup < 0:
        ap.error("--batch, --threads and --steps must be >= 1, --warmup >= 0")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model, loss_fn = make_problem(args.model, args.batch)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def one_step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        value = loss.item()  # waits for the step to finish
        if not math.isfinite(value):
            sys.exit(f"reference.py: {args.model}: loss {value} is not finite")
        return value

    for _ in range(args.warmup):
        one_step()
    start, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        one_step()
    per_step = (time.perf_counter() - start) / args.steps
    cpu_per_step = (time.process_time() - cpu0) / args.steps
    print(f"RESULT model={args.model} batch={args.batch} threads={args.threads} "
          f"s_per_step={per_step:.4f} img_per_s={args.batch / per_step:.1f} "
          f"peak_rss_mb={peak_rss_mb():.0f} torch={torch.__version__} cpu_s_per_step={cpu_per_step:.4f}")


if __name__ == "__main__":
    main()

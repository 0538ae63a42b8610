#!/usr/bin/env python3
"""CUDA PyTorch references for the GPU device check (scripts/gpu/check.sh).

Prints one RESULT line per measurement, in the format `gap bench` prints, so
the harness's own GPU numbers can be read beside them:

  gemm      float32 matrix products n x n x n (TF32 off: strict float32, as
            the harness's cuBLAS SGEMM), TFLOP/s; the reference for
            engine/cuda's BenchmarkGemm
  resnet50  one training step of torchvision's ResNet-50 (SGD, momentum
            0.9, cross-entropy, 224x224, 1000 classes) at batch B, float32:
            with TF32 off (strict) and with PyTorch's defaults (cuDNN
            convolutions may use TF32); the issue's "within 2x of PyTorch"
            reference for a harness ResNet-50 step on the same card

Usage: python3 scripts/gpu/torch_reference.py [--batch 64] [--steps 20]
"""
import argparse
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch_reference.py: PyTorch is not installed")


def timed(fn, steps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def gemm(steps):
    torch.backends.cuda.matmul.allow_tf32 = False
    for n in (1024, 4096, 8192):
        a = torch.randn(n, n, device="cuda")
        c = torch.empty(n, n, device="cuda")
        s = timed(lambda: torch.mm(a, a, out=c), steps, 3)
        print(f"RESULT gemm n={n} s_per_product={s:.6g} tflops={2 * n ** 3 / s / 1e12:.2f} torch={torch.__version__}", flush=True)


def resnet50(batch, steps):
    import torchvision
    torch.manual_seed(0)
    for mode in ("strict-fp32", "default"):
        tf32 = mode == "default"
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = False
        model = torchvision.models.resnet50(num_classes=1000).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        x = torch.randn(batch, 3, 224, 224, device="cuda")
        y = torch.randint(0, 1000, (batch,), device="cuda")
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

        s = timed(step, steps, 5)
        mem = torch.cuda.max_memory_allocated() / 2 ** 20
        print(f"RESULT model=resnet50 device=cuda mode={mode} batch={batch} s_per_step={s:.6g} img_per_s={batch / s:.1f} peak_gpu_mb={mem:.0f} torch={torch.__version__}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_reference.py: PyTorch sees no CUDA device")
    print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}", flush=True)
    gemm(args.steps)
    resnet50(args.batch, args.steps)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Device check for a borrowed GPU machine (make test-gpu): one short script.
#  1. the GPU, its driver, and where the CUDA libraries are;
#  2. the CUDA backend's conformance tests against the CPU (engine/cuda; they
#     skip, naming what the loader looked for, where no GPU or library is found);
#  3. its cuBLAS GEMM throughput (BenchmarkGemm) and, when a CUDA PyTorch is
#     there, the same products and a ResNet-50 training step in PyTorch
#     (scripts/gpu/torch_reference.py), in the same run.
# Without Go on the machine, set GAP_CUDA_TEST to a test binary built
# elsewhere: CGO_ENABLED=0 go test -c -o cuda.test ./engine/cuda
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-/tmp}"
log="$out/gpu-check.log"
export PATH="$PATH:/usr/local/go/bin"
: >"$log"
say() { echo "$@" | tee -a "$log"; }
if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | tee -a "$log"
else
	say "check: nvidia-smi not found"
fi
say "# CUDA libraries visible here:"
{ ldconfig -p 2>/dev/null | grep -E 'lib(cuda|nvrtc|cublas)\.so' ; ls /usr/local/cuda*/lib64/lib{nvrtc,cublas}.so* 2>/dev/null
  py=$(command -v python3) && ls -d "$(dirname "$(dirname "$py")")"/lib/python3*/site-packages/nvidia/*/lib 2>/dev/null; } | tee -a "$log"
bin="${GAP_CUDA_TEST:-}"
if [ -z "$bin" ]; then
	bin="$(mktemp -d)/cuda.test"
	CGO_ENABLED=0 go test -c -o "$bin" ./engine/cuda || { say "check: cannot build the CUDA tests"; exit 1; }
fi
rc=0
(cd engine/cuda && "$bin" -test.count=1 -test.v) 2>&1 | tee -a "$log" || rc=1
(cd engine/cuda && "$bin" -test.run '^$' -test.bench Gemm -test.benchtime 20x) 2>&1 | tee -a "$log" || rc=1
if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
	PYTHONUNBUFFERED=1 python3 scripts/gpu/torch_reference.py 2>&1 | tee -a "$log" || rc=1
else
	say "check: no CUDA PyTorch here; the PyTorch references are left out"
fi
exit $rc

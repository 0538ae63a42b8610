#!/usr/bin/env bash
# Device check for a borrowed GPU machine (make test-gpu): one short script.
# Prints the GPU, then runs the CUDA backend's conformance tests against the
# CPU (they skip, with the loader's message, where no GPU or library is found).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "check: nvidia-smi not found"
CGO_ENABLED=0 go test -count=1 -v ./engine/cuda/ 2>&1 | tee "${OUT:-/tmp}/gpu-check.log"

#!/usr/bin/env bash
# ResNet step check for a borrowed GPU machine without Go (issue 16).
#   scripts/gpu/step.sh build   here: builds the CUDA test binaries into .gpu/
#                               (CGO_ENABLED=0, so they need no CUDA at build time)
#   scripts/gpu/step.sh         on the GPU machine (carry .gpu/): runs
#     1. the layer kernels' conformance tests against the CPU engine (engine/cuda),
#     2. the small-ResNet training step against the CPU engine and its repeat
#        (engine/cuda/gpunet),
#     3. BenchmarkResNet50Step: batch 64, 224x224, float32, 20 timed steps.
# Everything is logged to $OUT/step.log (or /tmp). About a minute on an H200.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
if [ "${1:-}" = build ]; then
	mkdir -p .gpu
	CGO_ENABLED=0 go test -c -o .gpu/cuda.test ./engine/cuda &&
		CGO_ENABLED=0 go test -c -o .gpu/gpunet.test ./engine/cuda/gpunet &&
		git describe --always --dirty >.gpu/commit && ls -l .gpu
	exit $?
fi
out="${OUT:-/tmp}"
log="$out/step.log"
: >"$log"
export GAP_PTX_CACHE="${GAP_PTX_CACHE:-/tmp/gap-ptx}"
say() { echo "$@" | tee -a "$log"; }
say "# step.sh: test binaries of commit $(cat .gpu/commit 2>/dev/null || echo unknown), $(date -u)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | tee -a "$log"
for b in cuda gpunet; do
	[ -x ".gpu/$b.test" ] || { say "step: .gpu/$b.test missing (run scripts/gpu/step.sh build where Go is)"; exit 1; }
done
rc=0
run() { # dir, timeout, args...
	local dir=$1 t=$2; shift 2
	say "# ($dir) $*"
	(cd "$dir" && timeout "$t" "$@") 2>&1 | tee -a "$log"
	local r=${PIPESTATUS[0]}
	[ "$r" = 0 ] || { say "step: exit $r"; rc=1; }
}
# Tests wait after every kernel and GEMM (GAP_CUDA_SYNC=1), so a fault names its kernel;
# -test.short leaves out the CPU emulation of the CUDA source (checked where the binaries are built).
GAP_CUDA_SYNC=1 run engine/cuda 120 "$root/.gpu/cuda.test" -test.count=1 -test.v -test.short
GAP_CUDA_SYNC=1 run engine/cuda/gpunet 120 "$root/.gpu/gpunet.test" -test.count=1 -test.v
run engine/cuda/gpunet 150 "$root/.gpu/gpunet.test" -test.run '^$' -test.bench ResNet50Step -test.benchtime 20x -test.v
say "# step.sh: done, rc $rc"
exit $rc

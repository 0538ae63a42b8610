// Package cuda reaches NVIDIA GPUs without cgo and without CUDA headers at
// build time: the driver API (libcuda.so.1), NVRTC (to compile the harness's
// embedded CUDA C kernels to PTX at first use, cached by source hash) and
// cuBLAS are loaded at run time with github.com/ebitengine/purego, so the
// harness builds with CGO_ENABLED=0 on any machine and finds the libraries
// only where they exist.
//
// Library search (Find): the folders in $GAP_CUDA_LIB_PATH (colon-separated)
// first, then the versioned sonames through the system loader, then the
// pip-wheel layout (site-packages/nvidia/*/lib) of the Python installations
// on the machine. A machine without a GPU or without the libraries gets one
// error naming everything that was looked for (ErrUnavailable wraps it), and
// every test that needs a device skips with that message.
//
// This package is the loader and the device primitives (memory, modules,
// kernel launch, cuBLAS GEMM) plus the kernel sources; the engine's backend
// seam that dispatches tensor ops here is the next step (issue 16).
package cuda

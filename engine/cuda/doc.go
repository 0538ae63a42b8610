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
// kernel launch on 1-D or explicit grids, cuBLAS GEMM), the elementwise
// kernels (kernels.cu) and the layer kernels of a ResNet training step
// (nn.cu: im2col and a gather col2im, batch norm, max and global average
// pool, softmax cross-entropy, bias, layout swap), run through Ops with size
// checks. Host runs the same kernels' Go twins on the CPU behind the same
// Backend interface: the reference the GPU is compared with, and a way to
// test code built on Backend without a GPU. Package gpunet trains a ResNet
// on a Backend. The engine's backend seam that dispatches tensor ops here is
// the next step (issue 16).
//
// GAP_CUDA_SYNC=1 makes every kernel launch and GEMM wait for the device,
// so an asynchronous fault is reported with the kernel that caused it.
package cuda

package cuda

import _ "embed"

// KernelSource is the CUDA C of the elementwise kernels (kernels.cu).
//
//go:embed kernels.cu
var KernelSource string

// KernelNames lists the kernels KernelSource defines.
var KernelNames = []string{"add_f32", "relu_f32", "relu_bwd_f32", "mask_apply_f32", "sgd_f32"}

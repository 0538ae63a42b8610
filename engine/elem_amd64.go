//go:build !noasm

package engine

// asmKernels reports whether the engine's assembly kernels are built in
// (see Build).
const asmKernels = true

// AVX2 kernels of the batch-norm and ReLU passes (elem_amd64.s): bit for bit
// the pure-Go loops they replace, run where haveAVX2 holds.

//go:noescape
func normSumsAVX2(x *float32, n int, k float64, acc *[8]float64)

//go:noescape
func normGradSumsAVX2(dy *float32, x *float32, n int, mu float64, acc *[8]float64)

//go:noescape
func normAffineAVX2(dst *float32, x *float32, n int, a float32, b float32, relu int)

//go:noescape
func normGradAVX2(gp *float32, dy *float32, x *float32, n int, a float32, b float32, c float32, fresh int)

//go:noescape
func reluAVX2(dst *float32, x *float32, y *float32, n int)

//go:noescape
func reluBackAVX2(gx *float32, gs *float32, x *float32, n int, fresh int)

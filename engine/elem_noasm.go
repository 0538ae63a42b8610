//go:build !amd64 || noasm

package engine

// asmKernels reports whether the engine's assembly kernels are built in
// (see Build).
const asmKernels = false

func normSumsAVX2(x *float32, n int, k float64, acc *[8]float64) {
	panic("engine: no AVX2 kernels in this build")
}

func normGradSumsAVX2(dy *float32, x *float32, n int, mu float64, acc *[8]float64) {
	panic("engine: no AVX2 kernels in this build")
}

func normAffineAVX2(dst *float32, x *float32, n int, a float32, b float32, relu int) {
	panic("engine: no AVX2 kernels in this build")
}

func normGradAVX2(gp *float32, dy *float32, x *float32, n int, a float32, b float32, c float32, fresh int) {
	panic("engine: no AVX2 kernels in this build")
}

func reluAVX2(dst *float32, x *float32, y *float32, n int) {
	panic("engine: no AVX2 kernels in this build")
}

func reluBackAVX2(gx *float32, gs *float32, x *float32, n int, fresh int) {
	panic("engine: no AVX2 kernels in this build")
}

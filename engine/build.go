package engine

import "github.com/gap-harness/gap/engine/blas"

// Build names the arithmetic of this binary's engine: the BLAS it was built
// with ("openblas" or "gonum"), followed by "+noasm" when it was built
// without the engine's assembly kernels (the noasm tag, or a platform that
// has none). Builds sum in different orders, so their float32 results differ
// in the last bits, and after a few hundred training steps in the metrics;
// a run records the build that computed it, and refuses to mix with another
// (see package experiments). The processor matters too (OpenBLAS picks its
// kernels by CPU, the assembly paths need AVX2 and FMA): runs record the
// machine beside the build.
func Build() string {
	if !asmKernels {
		return blas.Impl + "+noasm"
	}
	return blas.Impl
}

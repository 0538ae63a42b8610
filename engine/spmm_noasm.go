//go:build !amd64 || noasm

package engine

// haveAVX2 is false where the assembly tiles are not built (other
// architectures, or the noasm tag): the sparse product runs in pure Go.
const haveAVX2 = false

func spmmTile64AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int) {
	panic("engine: no AVX2 kernels in this build")
}

func spmmTile32AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int) {
	panic("engine: no AVX2 kernels in this build")
}

func spmmTile8AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int) {
	panic("engine: no AVX2 kernels in this build")
}

func dotAVX2(a *float32, b *float32, n int) float32 {
	panic("engine: no AVX2 kernels in this build")
}

func dot4AVX2(a *float32, n int, b0, b1, b2, b3 *float32, out *[4]float32) {
	panic("engine: no AVX2 kernels in this build")
}

func spmmTile64EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int) {
	panic("engine: no AVX2 kernels in this build")
}

func spmmTile32EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int) {
	panic("engine: no AVX2 kernels in this build")
}

func spmmTile8EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int) {
	panic("engine: no AVX2 kernels in this build")
}

func spmmRows64AVX2(c *float32, ldc int, ptr *int32, pstride int, rows int, val *float32, col *int32, b *float32, ldb int, bias *float32, res *float32, relu int, pf uintptr, pfEnd uintptr, pfPerRow int) {
	panic("engine: no AVX2 kernels in this build")
}

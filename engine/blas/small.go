package blas

// smallMNK is the size up to which OpenBLAS's AVX-512 sgemm uses its unpacked
// "small matrix" kernels.
const smallMNK = 1_000_000

// smallPieces returns the block sizes (rows pm of C, columns pn) that split a
// row-major m x n x k product into pieces small enough for OpenBLAS's small
// kernels, where that was measured to pay (ResNet conv shapes on AMD EPYC with
// the Cooperlake kernels): products with op(B) = B are split along their larger
// output dimension (NN 16x1024x144: 83 -> 45 us; 64x64x576: 51 -> 43 us;
// TN 144x256x32: 27 -> 23 us); with op(B) = B^T only long-k products are split,
// along m (144x16x1024: 66 -> 47 us), as splitting short-k ones was slower.
// Blocks are multiples of 8 and at least 8; (m, n) means no split.
func smallPieces(transB bool, m, n, k int) (pm, pn int) {
	pm, pn = m, n
	if m*n*k <= smallMNK {
		return pm, pn
	}
	piece := func(other int) int { return smallMNK / (other * k) / 8 * 8 }
	switch {
	case transB:
		if k >= 512 {
			if p := piece(n); p >= 8 {
				pm = p
			}
		}
	case n >= m:
		if p := piece(m); p >= 8 {
			pn = p
		}
	default:
		if p := piece(n); p >= 8 {
			pm = p
		}
	}
	return pm, pn
}

package blas

import "sync"

// GemmParallel is Gemm split over up to threads goroutines, each calling the
// single-threaded kernel on a block of C's rows (or, when C has few rows, of its
// columns). Each element of C is computed by exactly one call, and the split
// depends only on the shape and threads, so results are deterministic for a
// given thread count. They may differ in the last bits between thread
// counts: a BLAS can pick its kernel (and so the order of each element's
// sums) by the block's size, as OpenBLAS does (the training runs record
// their threads in the run's identity for this reason). With OpenBLAS the
// library must run single-threaded (the package sets it so at start, see
// SetThreads) or the goroutines oversubscribe the cores.
func GemmParallel[T Float](threads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	// Below about 2 MFLOP a goroutine costs more than it saves.
	const minWork = 1 << 21
	work := m * n * max(k, 1)
	chunks := min(threads, work/minWork)
	if chunks <= 1 {
		Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Split the larger of m and n, in blocks that are multiples of 16 so the
	// kernels' register tiles stay full.
	splitRows := m >= n
	dim := n
	if splitRows {
		dim = m
	}
	blocks := (dim + 15) / 16
	chunks = min(chunks, blocks)
	if chunks <= 1 {
		Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	var wg sync.WaitGroup
	for ch := 0; ch < chunks; ch++ {
		lo := min(blocks*ch/chunks*16, dim)
		hi := min(blocks*(ch+1)/chunks*16, dim)
		if lo >= hi {
			continue
		}
		run := func() {
			if splitRows {
				aOff := lo * lda
				if transA {
					aOff = lo
				}
				Gemm(transA, transB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
			} else {
				bOff := lo
				if transB {
					bOff = lo * ldb
				}
				Gemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
			}
		}
		if ch == chunks-1 {
			run()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			run()
		}()
	}
	wg.Wait()
}

package engine

import "unsafe"

// csr is the pattern of a compressed-sparse-row matrix: row r's nonzeros are
// entries ptr[r] to ptr[r+1] of col (their column) and src (the position in
// the dense weight tensor the value is read from). Values are gathered from
// the weight at each use (csrValues), so the pattern stays valid while the
// weight's values change under a fixed mask.
type csr struct {
	rows, cols int
	ptr        []int32
	col, src   []int32
}

// nnz is the number of stored entries.
func (a *csr) nnz() int { return len(a.col) }

// values gathers the stored entries' values from the dense weight w into val.
func csrValues[T Float](a *csr, w, val []T) {
	for k, s := range a.src {
		val[k] = w[s]
	}
}

// spmm computes c[(r-r0)*ldc+j] += sum over row r's entries k of
// val[k] * b[col[k]*ldb+j], for rows r in [r0, r1) and columns j in [n0, n1):
// rows of a CSR matrix times a dense row-major matrix, accumulated into a
// dense row-major matrix. With asm (float32 only) the columns go through the
// AVX2 tiles of 64, 32 and 8 columns, the rest through Go loops. Each output
// element's terms are summed in the row's entry order, so the result does not
// depend on how rows or columns are split over threads.
func spmm[T Float](asm bool, a *csr, val []T, r0, r1 int, b []T, ldb int, c []T, ldc int, n0, n1 int) {
	spmmEp(asm, a, val, r0, r1, b, ldb, c, ldc, n0, n1, nil)
}

// rowEp is the start and the end of each output row fused into a sparse
// product (inference): with bias set, row r's sums start from bias[r-r0]
// instead of c's contents (c need not be initialised); after the product,
// res[(r-r0)*ldc+j] (laid out as c) is added when res is set, and negative
// sums are clamped to zero when relu is set. The result is bit-identical to
// filling c with the bias, running spmm and then the epilogue pass.
type rowEp[T Float] struct {
	bias []T
	res  []T
	relu bool
}

// finishes reports whether the epilogue writes anything a row without
// entries would otherwise leave untouched.
func (e *rowEp[T]) finishes() bool { return e != nil && (e.bias != nil || e.res != nil || e.relu) }

// end applies the residual and the clamp to one sum of row i = r-r0, column j.
func (e *rowEp[T]) end(s T, i, ldc, j int) T {
	if e.res != nil {
		s += e.res[i*ldc+j]
	}
	if e.relu {
		s = max(s, 0)
	}
	return s
}

// spmmEp is spmm with the row epilogue ep (nil: plain accumulation). With
// ep, rows without entries are still written (bias, residual, clamp).
func spmmEp[T Float](asm bool, a *csr, val []T, r0, r1 int, b []T, ldb int, c []T, ldc int, n0, n1 int, ep *rowEp[T]) {
	if r0 >= r1 || n0 >= n1 {
		return
	}
	if ep != nil && !ep.finishes() {
		ep = nil
	}
	j := n0
	if asm {
		if v32, ok := any(val).([]float32); ok && (len(v32) > 0 || ep != nil) {
			b32, c32 := any(b).([]float32), any(c).([]float32)
			j = spmmAVX2(a, v32, r0, r1, b32, ldb, c32, ldc, n0, n1, any(ep).(*rowEp[float32]))
		}
	}
	for ; j+8 <= n1; j += 8 {
		spmmGo8(a, val, r0, r1, b, ldb, c, ldc, j, ep)
	}
	if j < n1 {
		spmmGoCols(a, val, r0, r1, b, ldb, c, ldc, j, n1, ep)
	}
}

// kBlock is the number of rows of the dense operand one pass of spmmAVX2
// reads (its columns of a CSR row): a 64-column panel of kBlock rows is
// 32 KiB, which stays in L1/L2 while every CSR row of the block reads it
// (512 rows, 128 KiB, measured 1.2-1.4x slower on ResNet-50's 1x1 layers
// with 512 and 1024 input channels).
const kBlock = 128

// spmmAVX2 runs the assembly tiles over as many columns from n0 as fit in
// whole tiles of 8 and returns the first column left for the Go loops. When
// the dense operand has more than 2*kBlock rows, each tile is computed in
// passes over blocks of kBlock rows (column ranges of the CSR rows), so that
// the panel a pass reads stays in cache.
func spmmAVX2(a *csr, val []float32, r0, r1 int, b []float32, ldb int, c []float32, ldc int, n0, n1 int, ep *rowEp[float32]) int {
	j := n0
	if a.cols > 0 && len(val) > 0 {
		// One bounds check for the whole b: the last row's last column read.
		_ = b[(a.cols-1)*ldb+n1-1]
	}
	rows := r1 - r0
	nblk := 1
	var bp []int32 // bp[i*(nblk+1)+q]: first entry of row r0+i in block q
	if a.cols > 2*kBlock && ldb > 1 {
		nblk = (a.cols + kBlock - 1) / kBlock
		bp = make([]int32, rows*(nblk+1))
		for i := 0; i < rows; i++ {
			// Entries of a row are sorted by column: e[q] is the first with
			// column >= q*kBlock (so e[0] = row start, e[nblk] = row end).
			e := bp[i*(nblk+1) : (i+1)*(nblk+1)]
			k, p1 := a.ptr[r0+i], a.ptr[r0+i+1]
			for q := 0; q <= nblk; q++ {
				for k < p1 && int(a.col[k]) < q*kBlock {
					k++
				}
				e[q] = k
			}
		}
	}
	var bias, res []float32
	relu := 0
	if ep != nil {
		bias, res = ep.bias, ep.res
		if ep.relu {
			relu = 1
		}
	}
	tile := func(w int, kern func(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int),
		kernEp func(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)) {
		for ; j+w <= n1; j += w {
			for q := 0; q < nblk; q++ {
				first, last := ep != nil && q == 0, ep != nil && q == nblk-1
				for r := r0; r < r1; r++ {
					p0, p1 := a.ptr[r], a.ptr[r+1]
					if bp != nil {
						e := bp[(r-r0)*(nblk+1):]
						p0, p1 = e[q], e[q+1]
					}
					i := r - r0
					cr := c[i*ldc+j : i*ldc+j+w]
					if !first && !last {
						if p0 != p1 {
							kern(&cr[0], &val[p0], &a.col[p0], int(p1-p0), &b[j], ldb)
						}
						continue
					}
					var vp *float32
					var cp *int32
					if p0 != p1 {
						vp, cp = &val[p0], &a.col[p0]
					}
					var biasp, rp *float32
					if first && bias != nil {
						biasp = &bias[i]
					}
					rl := 0
					if last {
						if res != nil {
							rp = &res[i*ldc+j : i*ldc+j+w][0]
						}
						rl = relu
					}
					if p0 == p1 && biasp == nil && rp == nil && rl == 0 {
						continue
					}
					var b0 *float32
					if p0 != p1 {
						b0 = &b[j]
					}
					kernEp(&cr[0], vp, cp, int(p1-p0), b0, ldb, biasp, rp, rl)
				}
			}
		}
	}
	if r0 < r1 {
		// Whole 64-column tiles: the loop over rows runs in assembly, and
		// each panel (a tile's block of kBlock rows of b) prefetches the
		// next one (the tile's next block, or the next tile's first);
		// none for the direct convolution's ldb = 1.
		rows := r1 - r0
		var vp *float32
		var cp *int32
		if len(val) > 0 {
			vp, cp = &val[0], &a.col[0]
		}
		_ = c[(rows-1)*ldc+n1-1]
		if res != nil {
			_ = res[(rows-1)*ldc+n1-1]
		}
		if bias != nil {
			_ = bias[rows-1]
		}
		blkRows := min(a.cols, kBlock)
		if nblk == 1 {
			blkRows = a.cols
		}
		perRow := 0
		if ldb > 1 && a.cols > 0 {
			perRow = (blkRows + rows - 1) / rows
		}
		for ; j+64 <= n1; j += 64 {
			for q := 0; q < nblk; q++ {
				ptr, stride := &a.ptr[r0], 1
				if bp != nil {
					ptr, stride = &bp[q], nblk+1
				}
				var biasp, rp *float32
				rl := 0
				if q == 0 && bias != nil {
					biasp = &bias[0]
				}
				if q == nblk-1 {
					if res != nil {
						rp = &res[j]
					}
					rl = relu
				}
				var pf, pfEnd uintptr
				if perRow > 0 {
					// The next panel: rows [k0, k1) of b at columns from jn.
					k0, k1, jn := (q+1)*kBlock, min((q+2)*kBlock, a.cols), j
					if q == nblk-1 {
						k0, k1, jn = 0, blkRows, j+64
					}
					if jn < n1 && k0 < k1 {
						pf = uintptr(unsafe.Pointer(&b[k0*ldb+jn]))
						pfEnd = uintptr(unsafe.Pointer(&b[(k1-1)*ldb+jn])) + 1
					}
				}
				spmmRows64AVX2(&c[j], ldc, ptr, stride, rows, vp, cp, &b[j], ldb, biasp, rp, rl, pf, pfEnd, perRow)
			}
		}
	}
	tile(64, spmmTile64AVX2, spmmTile64EpAVX2)
	tile(32, spmmTile32AVX2, spmmTile32EpAVX2)
	tile(8, spmmTile8AVX2, spmmTile8EpAVX2)
	return j
}

// spmmGo8 is spmm for the eight columns j..j+7 in Go, with the eight sums of
// a row kept in locals across its entries.
func spmmGo8[T Float](a *csr, val []T, r0, r1 int, b []T, ldb int, c []T, ldc int, j int, ep *rowEp[T]) {
	for r := r0; r < r1; r++ {
		p0, p1 := a.ptr[r], a.ptr[r+1]
		if p0 == p1 && ep == nil {
			continue
		}
		cr := c[(r-r0)*ldc+j : (r-r0)*ldc+j+8]
		var s0, s1, s2, s3, s4, s5, s6, s7 T
		if ep != nil && ep.bias != nil {
			v := ep.bias[r-r0]
			s0, s1, s2, s3, s4, s5, s6, s7 = v, v, v, v, v, v, v, v
		} else {
			s0, s1, s2, s3, s4, s5, s6, s7 = cr[0], cr[1], cr[2], cr[3], cr[4], cr[5], cr[6], cr[7]
		}
		for k := p0; k < p1; k++ {
			v := val[k]
			o := int(a.col[k])*ldb + j
			br := b[o : o+8]
			s0 += v * br[0]
			s1 += v * br[1]
			s2 += v * br[2]
			s3 += v * br[3]
			s4 += v * br[4]
			s5 += v * br[5]
			s6 += v * br[6]
			s7 += v * br[7]
		}
		if ep != nil {
			i := r - r0
			s0, s1, s2, s3 = ep.end(s0, i, ldc, j), ep.end(s1, i, ldc, j+1), ep.end(s2, i, ldc, j+2), ep.end(s3, i, ldc, j+3)
			s4, s5, s6, s7 = ep.end(s4, i, ldc, j+4), ep.end(s5, i, ldc, j+5), ep.end(s6, i, ldc, j+6), ep.end(s7, i, ldc, j+7)
		}
		cr[0], cr[1], cr[2], cr[3], cr[4], cr[5], cr[6], cr[7] = s0, s1, s2, s3, s4, s5, s6, s7
	}
}

// spmmGoCols is spmm for columns [j0, j1) one column at a time (a sparse dot
// product per output element: the batch-1 linear layer, and the last < 8
// columns of wider products).
func spmmGoCols[T Float](a *csr, val []T, r0, r1 int, b []T, ldb int, c []T, ldc int, j0, j1 int, ep *rowEp[T]) {
	for r := r0; r < r1; r++ {
		p0, p1 := a.ptr[r], a.ptr[r+1]
		if p0 == p1 && ep == nil {
			continue
		}
		vals, cols := val[p0:p1], a.col[p0:p1]
		for j := j0; j < j1; j++ {
			s := c[(r-r0)*ldc+j]
			if ep != nil && ep.bias != nil {
				s = ep.bias[r-r0]
			}
			if ldb == 1 {
				bj := b[j:]
				for k, v := range vals {
					s += v * bj[cols[k]]
				}
			} else {
				for k, v := range vals {
					s += v * b[int(cols[k])*ldb+j]
				}
			}
			if ep != nil {
				s = ep.end(s, r-r0, ldc, j)
			}
			c[(r-r0)*ldc+j] = s
		}
	}
}

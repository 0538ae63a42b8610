package engine

import (
	"fmt"
	"math"
)

// Point-cloud operations of PointNet++: farthest point sampling, ball query,
// grouping, and three-nearest-neighbour inverse-distance interpolation.
// Coordinates are [B, N, 3] tensors (x y z per point, row-major); features
// are channels-first [B, C, N] as PyTorch's Conv1d takes them. Sampling and
// neighbour search return plain indices (they have no gradient); grouping
// and interpolation are differentiable in the features.

// checkXYZ checks that t is [B, N, 3] and returns B and N.
func checkXYZ[T Float](t *Tensor[T], op, what string) (b, n int) {
	s := t.shape
	if len(s) != 3 || s[2] != 3 {
		panic(fmt.Sprintf("engine: %s: %s has shape %v, want [B N 3]", op, what, s))
	}
	return s[0], s[1]
}

// FarthestPointSample picks m of the N points of each cloud of xyz [B, N, 3]
// by iterative farthest point sampling, as PointNet++'s CUDA op: the first
// pick is index 0, each next pick is the point whose squared distance to the
// picked set is largest (the lowest index among ties). It returns the
// indices [B*m] (row-major [B, m]). It panics unless 1 <= m <= N.
func (tp *Tape[T]) FarthestPointSample(xyz *Tensor[T], m int) []int32 {
	b, n := checkXYZ(xyz, "FarthestPointSample", "xyz")
	if m < 1 || m > n {
		panic(fmt.Sprintf("engine: FarthestPointSample: %d samples of %d points", m, n))
	}
	out := make([]int32, b*m)
	x := xyz.data
	Parallel(tp.threads, b, 1, func(lo, hi int) {
		scratch := make([]T, 4*n)
		for bi := lo; bi < hi; bi++ {
			fpsOne(x[bi*n*3:(bi+1)*n*3], scratch, out[bi*m:(bi+1)*m])
		}
	})
	return out
}

// fpsOne samples len(idx) points of one cloud p (n*3 coordinates) using
// dist (4n entries: the distances and the coordinates split by axis, which
// keeps the inner loop's loads contiguous) as scratch.
func fpsOne[T Float](p []T, scratch []T, idx []int32) {
	n := len(p) / 3
	dist, xs, ys, zs := scratch[:n], scratch[n:2*n], scratch[2*n:3*n], scratch[3*n:4*n]
	for i := range dist {
		dist[i] = 1e10
		xs[i], ys[i], zs[i] = p[3*i], p[3*i+1], p[3*i+2]
	}
	far := 0
	for j := range idx {
		idx[j] = int32(far)
		cx, cy, cz := xs[far], ys[far], zs[far]
		best, bi := T(-1), 0
		ys, zs := ys[:len(xs)], zs[:len(xs)]
		dist := dist[:len(xs)]
		for i, x := range xs {
			dx, dy, dz := x-cx, ys[i]-cy, zs[i]-cz
			d := min(dx*dx+dy*dy+dz*dz, dist[i])
			dist[i] = d
			if d > best {
				best, bi = d, i
			}
		}
		far = bi
	}
}

// BallQuery returns, for each of the M centres of centers [B, M, 3], the
// indices of the first k points of xyz [B, N, 3] (in index order) whose
// squared distance to the centre is below radius^2, padded to k with the
// first one found, as PointNet++'s query_ball_point. A centre with no point
// in its ball (impossible when the centres are points of xyz) gets index 0
// in every slot, as the CUDA op leaves its zero-initialised output. The
// result is [B*M*k] (row-major [B, M, k]).
func (tp *Tape[T]) BallQuery(xyz, centers *Tensor[T], radius float64, k int) []int32 {
	b, n := checkXYZ(xyz, "BallQuery", "xyz")
	cb, m := checkXYZ(centers, "BallQuery", "centers")
	if cb != b || k < 1 || !(radius > 0) {
		panic(fmt.Sprintf("engine: BallQuery: xyz %v, centers %v, radius %g, k %d", xyz.shape, centers.shape, radius, k))
	}
	out := make([]int32, b*m*k)
	r2 := T(radius * radius)
	x, c := xyz.data, centers.data
	// The coordinates split by axis keep the scan's loads contiguous.
	soa := make([]T, len(x))
	for bi := 0; bi < b; bi++ {
		xs, ys, zs := soa[bi*3*n:][:n], soa[bi*3*n+n:][:n], soa[bi*3*n+2*n:][:n]
		for i := 0; i < n; i++ {
			p := x[(bi*n+i)*3:][:3]
			xs[i], ys[i], zs[i] = p[0], p[1], p[2]
		}
	}
	tp.ParallelFor(b*m, 16, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			bi := q / m
			xs, ys, zs := soa[bi*3*n:][:n], soa[bi*3*n+n:][:n], soa[bi*3*n+2*n:][:n]
			cx, cy, cz := c[3*q], c[3*q+1], c[3*q+2]
			dst := out[q*k : (q+1)*k]
			cnt := 0
			for i, px := range xs {
				dx, dy, dz := px-cx, ys[i]-cy, zs[i]-cz
				if dx*dx+dy*dy+dz*dz < r2 {
					dst[cnt] = int32(i)
					cnt++
					if cnt == k {
						break
					}
				}
			}
			first := int32(0)
			if cnt > 0 {
				first = dst[0]
			}
			for j := cnt; j < k; j++ {
				dst[j] = first
			}
		}
	})
	return out
}

// GroupPoints gathers features x [B, C, N] at idx (B*M*K point indices in
// [0, N), row-major [B, M, K], e.g. from BallQuery) into [B, C, M, K]:
// out[b, c, m, k] = x[b, c, idx[b, m, k]]. The gradient scatter-adds back
// into x (repeated indices accumulate).
func (tp *Tape[T]) GroupPoints(x *Var[T], idx []int32, m, k int) *Var[T] {
	s := x.Value.shape
	if len(s) != 3 || m < 1 || k < 1 || len(idx) != s[0]*m*k {
		panic(fmt.Sprintf("engine: GroupPoints: x %v, %d indices for M=%d K=%d", s, len(idx), m, k))
	}
	b, c, n := s[0], s[1], s[2]
	checkIndices(idx, n, "GroupPoints")
	mk := m * k
	out := tp.AllocUninit(b, c, m, k)
	xd, od := x.Value.data, out.data
	tp.ParallelFor(b*c, max(1, elemGrain/mk), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst, ix := xd[r*n:(r+1)*n], od[r*mk:(r+1)*mk], idx[(r/c)*mk:(r/c+1)*mk]
			for j, i := range ix {
				dst[j] = src[i]
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gx := tp.GradOf(x)
		if gx == nil {
			return
		}
		gd, god := gx.data, o.Grad.data
		tp.ParallelFor(b*c, max(1, elemGrain/mk), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				dst, src, ix := gd[r*n:(r+1)*n], god[r*mk:(r+1)*mk], idx[(r/c)*mk:(r/c+1)*mk]
				for j, i := range ix {
					dst[i] += src[j]
				}
			}
		})
	}, x)
}

// ThreeNN finds, for each of the N points of unknown [B, N, 3], its
// k = min(3, M) nearest points of known [B, M, 3] by squared distance (the
// lower index first among ties), and the interpolation weights of
// PointNet++'s feature propagation as the common PyTorch implementation
// computes them: w_j = (1/(d_j + 1e-8)) / sum_i 1/(d_i + 1e-8), d the
// squared distances. It returns idx and w, both [B*N*k] (row-major
// [B, N, k]), and k.
func (tp *Tape[T]) ThreeNN(unknown, known *Tensor[T]) (idx []int32, w []T, k int) {
	b, n := checkXYZ(unknown, "ThreeNN", "unknown")
	kb, m := checkXYZ(known, "ThreeNN", "known")
	if kb != b || m < 1 {
		panic(fmt.Sprintf("engine: ThreeNN: unknown %v, known %v", unknown.shape, known.shape))
	}
	k = min(3, m)
	idx = make([]int32, b*n*k)
	w = make([]T, b*n*k)
	u, kn := unknown.data, known.data
	tp.ParallelFor(b*n, 16, func(lo, hi int) {
		var bd [3]T
		var bi [3]int32
		for q := lo; q < hi; q++ {
			p := kn[(q/n)*m*3 : (q/n+1)*m*3]
			ux, uy, uz := u[3*q], u[3*q+1], u[3*q+2]
			for j := range bd {
				bd[j], bi[j] = T(math.Inf(1)), 0
			}
			for i := 0; i < m; i++ {
				dx, dy, dz := p[3*i]-ux, p[3*i+1]-uy, p[3*i+2]-uz
				d := dx*dx + dy*dy + dz*dz
				if d >= bd[k-1] {
					continue
				}
				j := k - 1
				for j > 0 && d < bd[j-1] {
					bd[j], bi[j] = bd[j-1], bi[j-1]
					j--
				}
				bd[j], bi[j] = d, int32(i)
			}
			var sum T
			for j := 0; j < k; j++ {
				bd[j] = 1 / (bd[j] + 1e-8)
				sum += bd[j]
			}
			for j := 0; j < k; j++ {
				idx[q*k+j] = bi[j]
				w[q*k+j] = bd[j] / sum
			}
		}
	})
	return idx, w, k
}

// ThreeInterpolate interpolates features feat [B, C, M] at N points from
// their k neighbours idx and weights w ([B*N*k] each, as ThreeNN returns):
// out[b, c, n] = sum_j w[b, n, j] * feat[b, c, idx[b, n, j]], shape
// [B, C, N]. The gradient flows to feat (the weights are constants).
func (tp *Tape[T]) ThreeInterpolate(feat *Var[T], idx []int32, w []T, n, k int) *Var[T] {
	s := feat.Value.shape
	if len(s) != 3 || n < 1 || k < 1 || len(idx) != s[0]*n*k || len(w) != len(idx) {
		panic(fmt.Sprintf("engine: ThreeInterpolate: feat %v, %d indices, %d weights for N=%d k=%d", s, len(idx), len(w), n, k))
	}
	b, c, m := s[0], s[1], s[2]
	checkIndices(idx, m, "ThreeInterpolate")
	out := tp.AllocUninit(b, c, n)
	fd, od := feat.Value.data, out.data
	nk := n * k
	tp.ParallelFor(b*c, max(1, elemGrain/nk), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := fd[r*m:(r+1)*m], od[r*n:(r+1)*n]
			ix, wt := idx[(r/c)*nk:(r/c+1)*nk], w[(r/c)*nk:(r/c+1)*nk]
			for i := range dst {
				var acc T
				for j := i * k; j < (i+1)*k; j++ {
					acc += wt[j] * src[ix[j]]
				}
				dst[i] = acc
			}
		}
	})
	return tp.Op(out, func(o *Var[T]) {
		gf := tp.GradOf(feat)
		if gf == nil {
			return
		}
		gd, god := gf.data, o.Grad.data
		tp.ParallelFor(b*c, max(1, elemGrain/nk), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				dst, src := gd[r*m:(r+1)*m], god[r*n:(r+1)*n]
				ix, wt := idx[(r/c)*nk:(r/c+1)*nk], w[(r/c)*nk:(r/c+1)*nk]
				for i, g := range src {
					for j := i * k; j < (i+1)*k; j++ {
						dst[ix[j]] += wt[j] * g
					}
				}
			}
		})
	}, feat)
}

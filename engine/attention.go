package engine

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine/blas"
)

// AttentionOpts configures MultiHeadAttention and AttentionCached.
type AttentionOpts struct {
	// Heads is the number of heads; the model width must be a multiple of it.
	Heads int
	// Causal lets query i attend only to keys j <= i + (Lk - Lq) (the decoder's
	// self-attention; with Lq = Lk it is the usual lower-triangular mask).
	Causal bool
	// KeyPadding, when non-nil, has one entry per key ([batch * Lk], row-major):
	// true marks a padded key that no query attends to (fairseq's
	// key_padding_mask).
	KeyPadding []bool
	// Dropout is the attention-dropout probability applied to the attention
	// weights (after the softmax) when Training is set; RNG draws its mask.
	Dropout  float64
	RNG      *rand.Rand
	Training bool
}

// attnGeom is the layout of one attention call: q [B, Lq, D] with batch stride
// qs, k and v [B, Lk, D] with batch stride ks (the cache capacity times D for a
// KV cache), heads of width dh = D/H side by side in D.
type attnGeom struct {
	b, h, lq, lk, d, dh int
	qs, ks              int
	scale               float64
}

// MultiHeadAttention is scaled dot-product attention over heads, the core of
// torch.nn.MultiheadAttention without its projections: q [B, Lq, D] and k, v
// [B, Lk, D] (already projected, heads side by side along D) give
// softmax(q_h k_h^T / sqrt(D/H) + masks) v_h for each head h, concatenated to
// [B, Lq, D]. Masked keys get probability 0 (a query with every key masked
// gets a zero output, where PyTorch would give NaN). Attention dropout, when
// o.Training and o.Dropout > 0, zeroes weights with one o.RNG.Float64() per
// weight in [B, H, Lq, Lk] row-major order (kept when >= p, scaled by
// 1/(1-p)), as Dropout does. The op is fused: one pass per (batch, head) with
// two GEMMs forward and four backward, and the weights kept for backward.
func (tp *Tape[T]) MultiHeadAttention(q, k, v *Var[T], o AttentionOpts) *Var[T] {
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	if len(qs) != 3 || len(ks) != 3 || !SameShape(ks, vs) || qs[0] != ks[0] || qs[2] != ks[2] {
		panic(fmt.Sprintf("engine: MultiHeadAttention: q %v, k %v, v %v (want [B,Lq,D], [B,Lk,D], [B,Lk,D])", qs, ks, vs))
	}
	g := newAttnGeom(qs[0], qs[1], ks[1], qs[2], o.Heads, qs[1]*qs[2], ks[1]*ks[2])
	if o.KeyPadding != nil && len(o.KeyPadding) != g.b*g.lk {
		panic(fmt.Sprintf("engine: MultiHeadAttention: %d key-padding flags for %d keys", len(o.KeyPadding), g.b*g.lk))
	}
	if o.Dropout < 0 || o.Dropout > 1 {
		panic(fmt.Sprintf("engine: MultiHeadAttention: dropout %g outside [0,1]", o.Dropout))
	}
	np := g.b * g.h * g.lq * g.lk
	probs := tp.AllocUninit(np).data // softmax weights, kept for backward
	var drop []T                     // per-weight keep scale (0 or 1/(1-p)); nil without dropout
	if o.Training && o.Dropout > 0 {
		drop = tp.AllocUninit(np).data
		keep := T(0)
		if o.Dropout < 1 {
			keep = T(1 / (1 - o.Dropout))
		}
		for i := range drop {
			if o.RNG.Float64() >= o.Dropout {
				drop[i] = keep
			} else {
				drop[i] = 0
			}
		}
	}
	var used []T // weights multiplied by V: probs, or probs*drop
	if drop != nil {
		used = tp.AllocUninit(np).data
	} else {
		used = probs
	}
	out := tp.AllocUninit(g.b, g.lq, g.d)
	attnForward(tp.threads, g, q.Value.data, k.Value.data, v.Value.data, o.KeyPadding, o.Causal, probs, drop, used, out.data)
	return tp.Op(out, func(ov *Var[T]) {
		attnBackward(tp, g, q, k, v, ov.Grad.data, probs, drop, used)
	}, q, k, v)
}

func newAttnGeom(b, lq, lk, d, heads, qs, ks int) attnGeom {
	if heads < 1 || d%heads != 0 {
		panic(fmt.Sprintf("engine: attention: width %d is not a multiple of %d heads", d, heads))
	}
	dh := d / heads
	return attnGeom{b: b, h: heads, lq: lq, lk: lk, d: d, dh: dh, qs: qs, ks: ks, scale: 1 / math.Sqrt(float64(dh))}
}

// attnForward writes the attention output of every (batch, head) pair into out
// ([B, Lq, D], contiguous), the softmax weights into probs ([B, H, Lq, Lk]) and,
// with dropout, probs*drop into used.
func attnForward[T Float](threads int, g attnGeom, q, k, v []T, pad []bool, causal bool, probs, drop, used, out []T) {
	ll := g.lq * g.lk
	Parallel(threads, g.b*g.h, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			bi, h := p/g.h, p%g.h
			qp := q[bi*g.qs+h*g.dh:]
			kp := k[bi*g.ks+h*g.dh:]
			vp := v[bi*g.ks+h*g.dh:]
			s := probs[p*ll : (p+1)*ll]
			blas.Gemm(false, true, g.lq, g.lk, g.dh, T(g.scale), qp, g.d, kp, g.d, 0, s, g.lk)
			var padRow []bool
			if pad != nil {
				padRow = pad[bi*g.lk : (bi+1)*g.lk]
			}
			for i := 0; i < g.lq; i++ {
				limit := g.lk
				if causal {
					limit = min(g.lk, i+g.lk-g.lq+1)
				}
				maskedSoftmaxRow(s[i*g.lk:(i+1)*g.lk], padRow, limit)
			}
			u := s
			if drop != nil {
				u = used[p*ll : (p+1)*ll]
				dr := drop[p*ll : (p+1)*ll]
				for i := range u {
					u[i] = s[i] * dr[i]
				}
			}
			blas.Gemm(false, false, g.lq, g.dh, g.lk, 1, u, g.lk, vp, g.d, 0, out[bi*g.lq*g.d+h*g.dh:], g.d)
		}
	})
}

// maskedSoftmaxRow replaces the scores in row by their softmax over the keys
// j < limit that pad does not mark; the other entries become 0. A row with no
// key left becomes all zeros.
func maskedSoftmaxRow[T Float](row []T, pad []bool, limit int) {
	if r32, ok := any(row).([]float32); ok {
		maskedSoftmaxRow32(r32, pad, limit)
		return
	}
	m := math.Inf(-1)
	for j := 0; j < limit; j++ {
		if pad != nil && pad[j] {
			continue
		}
		if v := float64(row[j]); v > m {
			m = v
		}
	}
	if math.IsInf(m, -1) {
		clear(row)
		return
	}
	var sum float64
	for j := range row {
		if j >= limit || (pad != nil && pad[j]) {
			row[j] = 0
			continue
		}
		e := math.Exp(float64(row[j]) - m)
		row[j] = T(e)
		sum += e
	}
	inv := T(1 / sum)
	for j := 0; j < limit; j++ {
		row[j] *= inv
	}
}

// maskedSoftmaxRow32 is maskedSoftmaxRow in float32 arithmetic with Exp32
// (the sum accumulated in float64), for float32 tapes.
func maskedSoftmaxRow32(row []float32, pad []bool, limit int) {
	m := float32(math.Inf(-1))
	for j := 0; j < limit; j++ {
		if pad != nil && pad[j] {
			continue
		}
		if v := row[j]; v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		clear(row)
		return
	}
	var sum float64
	for j := range row {
		if j >= limit || (pad != nil && pad[j]) {
			row[j] = 0
			continue
		}
		e := Exp32(row[j] - m)
		row[j] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for j := 0; j < limit; j++ {
		row[j] *= inv
	}
}

// attnBackward accumulates the gradients of q, k and v. For one head with
// weights P, dropout keep scales M and U = P*M: dV += U^T dO; dU = dO V^T;
// dP = dU*M; dS = P*(dP - rowsum(dP*P)); dQ += scale dS K; dK += scale dS^T Q.
// Masked weights are 0 in P, so their dS is 0.
func attnBackward[T Float](tp *Tape[T], g attnGeom, q, k, v *Var[T], dout, probs, drop, used []T) {
	gq, gk, gv := tp.GradOf(q), tp.GradOf(k), tp.GradOf(v)
	ll := g.lq * g.lk
	ds := tp.AllocUninit(g.b * g.h * ll).data
	qd, kd, vd := q.Value.data, k.Value.data, v.Value.data
	sc := T(g.scale)
	// Pairs of one batch element write disjoint head columns of dQ, dK and dV,
	// so the split over (batch, head) is race-free and deterministic.
	Parallel(tp.threads, g.b*g.h, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			bi, h := p/g.h, p%g.h
			qo, ko := bi*g.qs+h*g.dh, bi*g.ks+h*g.dh
			do := dout[bi*g.lq*g.d+h*g.dh:]
			pr := probs[p*ll : (p+1)*ll]
			u := used[p*ll : (p+1)*ll]
			d := ds[p*ll : (p+1)*ll]
			if gv != nil {
				blas.Gemm(true, false, g.lk, g.dh, g.lq, 1, u, g.lk, do, g.d, 1, gv.data[ko:], g.d)
			}
			if gq == nil && gk == nil {
				continue
			}
			blas.Gemm(false, true, g.lq, g.lk, g.dh, 1, do, g.d, vd[ko:], g.d, 0, d, g.lk)
			if drop != nil {
				dr := drop[p*ll : (p+1)*ll]
				for i := range d {
					d[i] *= dr[i]
				}
			}
			for i := 0; i < g.lq; i++ {
				dr, pp := d[i*g.lk:(i+1)*g.lk], pr[i*g.lk:(i+1)*g.lk]
				var s T
				for j, x := range dr {
					s += x * pp[j]
				}
				for j := range dr {
					dr[j] = pp[j] * (dr[j] - s)
				}
			}
			if gq != nil {
				blas.Gemm(false, false, g.lq, g.dh, g.lk, sc, d, g.lk, kd[ko:], g.d, 1, gq.data[qo:], g.d)
			}
			if gk != nil {
				blas.Gemm(true, false, g.lk, g.dh, g.lq, sc, d, g.lk, qd[qo:], g.d, 1, gk.data[ko:], g.d)
			}
		}
	})
}

// KVCache holds the projected keys and values of the positions decoded so
// far (or of a whole source sentence, for encoder attention), for incremental
// decoding: K and V are [B, Cap, D], of which the first Len positions are
// filled. It needs no gradient.
type KVCache[T Float] struct {
	// K and V are the cached keys and values, [B, Cap, D].
	K, V *Tensor[T]
	// Len is the number of filled positions.
	Len int

	scratch []T // Reorder's copy of the filled rows
}

// NewKVCache returns an empty cache for batch rows of up to capacity
// positions of width d.
func NewKVCache[T Float](batch, capacity, d int) *KVCache[T] {
	return &KVCache[T]{K: NewTensor[T](batch, capacity, d), V: NewTensor[T](batch, capacity, d)}
}

// Append copies k and v ([B, n, D]) after the filled positions. It panics when
// the shapes disagree or the capacity would be exceeded.
func (c *KVCache[T]) Append(k, v *Tensor[T]) {
	b, capa, d := c.K.shape[0], c.K.shape[1], c.K.shape[2]
	if !SameShape(k.shape, v.shape) || len(k.shape) != 3 || k.shape[0] != b || k.shape[2] != d {
		panic(fmt.Sprintf("engine: KVCache.Append: k %v, v %v into cache [%d,%d,%d]", k.shape, v.shape, b, capa, d))
	}
	n := k.shape[1]
	if c.Len+n > capa {
		panic(fmt.Sprintf("engine: KVCache.Append: %d+%d positions exceed capacity %d", c.Len, n, capa))
	}
	for bi := 0; bi < b; bi++ {
		dst := (bi*capa + c.Len) * d
		copy(c.K.data[dst:dst+n*d], k.data[bi*n*d:(bi+1)*n*d])
		copy(c.V.data[dst:dst+n*d], v.data[bi*n*d:(bi+1)*n*d])
	}
	c.Len += n
}

// Reorder replaces the cache's batch rows by rows idx of the old cache (beam
// search keeps the histories of the surviving hypotheses); len(idx) must be
// the batch size. Only the filled positions move; an identity idx is free.
func (c *KVCache[T]) Reorder(idx []int32) {
	b, capa, d := c.K.shape[0], c.K.shape[1], c.K.shape[2]
	if len(idx) != b {
		panic(fmt.Sprintf("engine: KVCache.Reorder: %d indices for %d rows", len(idx), b))
	}
	identity := true
	for bi, src := range idx {
		if src < 0 || int(src) >= b {
			panic(fmt.Sprintf("engine: KVCache.Reorder: index %d out of range [0,%d)", src, b))
		}
		identity = identity && int(src) == bi
	}
	if identity || c.Len == 0 {
		return
	}
	n := c.Len * d
	if cap(c.scratch) < b*n {
		c.scratch = make([]T, b*n)
	}
	sc := c.scratch[:b*n]
	for _, t := range []*Tensor[T]{c.K, c.V} {
		for bi := 0; bi < b; bi++ {
			copy(sc[bi*n:(bi+1)*n], t.data[bi*capa*d:bi*capa*d+n])
		}
		for bi, src := range idx {
			copy(t.data[bi*capa*d:bi*capa*d+n], sc[int(src)*n:int(src+1)*n])
		}
	}
}

// AttentionCached attends queries q [B, Lq, D] to the Len cached keys and
// values of c, as MultiHeadAttention would with k and v the filled part of the
// cache (o.Causal counts the last query as the last cached position; key
// padding has one flag per cache position, [B * Cap], or is nil). It records
// no gradient and applies no dropout: it is for decoding.
func (tp *Tape[T]) AttentionCached(q *Var[T], c *KVCache[T], o AttentionOpts) *Var[T] {
	qs := q.Shape()
	b, capa, d := c.K.shape[0], c.K.shape[1], c.K.shape[2]
	if len(qs) != 3 || qs[0] != b || qs[2] != d {
		panic(fmt.Sprintf("engine: AttentionCached: q %v for cache [%d,%d,%d]", qs, b, capa, d))
	}
	if c.Len == 0 {
		panic("engine: AttentionCached: empty cache")
	}
	g := newAttnGeom(b, qs[1], c.Len, d, o.Heads, qs[1]*d, capa*d)
	var pad []bool
	if o.KeyPadding != nil {
		if len(o.KeyPadding) != b*capa {
			panic(fmt.Sprintf("engine: AttentionCached: %d key-padding flags for cache [%d,%d]", len(o.KeyPadding), b, capa))
		}
		if capa == c.Len {
			pad = o.KeyPadding
		} else {
			pad = make([]bool, b*c.Len)
			for bi := 0; bi < b; bi++ {
				copy(pad[bi*c.Len:(bi+1)*c.Len], o.KeyPadding[bi*capa:bi*capa+c.Len])
			}
		}
	}
	probs := tp.AllocUninit(b * g.h * g.lq * g.lk).data
	out := tp.AllocUninit(b, g.lq, d)
	attnForward(tp.threads, g, q.Value.data, c.K.data, c.V.data, pad, o.Causal, probs, nil, probs, out.data)
	return tp.Op(out, nil)
}

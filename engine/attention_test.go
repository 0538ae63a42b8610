package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

// attnComposed is multi-head attention written with the engine's existing ops
// (Reshape, Permute, MatMulTrans, Scale, MaskedFill, Softmax, MatMul): the
// unfused reference the fused op is compared with (and benchmarked against).
// mask is [B, 1, Lq, Lk] with 1 where a key is masked, or nil.
func attnComposed[T engine.Float](tp *engine.Tape[T], q, k, v *engine.Var[T], heads int, mask *engine.Tensor[T]) *engine.Var[T] {
	b, lq, d := q.Shape()[0], q.Shape()[1], q.Shape()[2]
	lk, dh := k.Shape()[1], d/heads
	split := func(x *engine.Var[T], l int) *engine.Var[T] {
		return tp.Permute(tp.Reshape(x, b, l, heads, dh), 0, 2, 1, 3)
	}
	qh, kh, vh := split(q, lq), split(k, lk), split(v, lk)
	s := tp.Scale(tp.MatMulTrans(qh, kh, false, true), T(1/math.Sqrt(float64(dh))))
	if mask != nil {
		s = tp.MaskedFill(s, mask, -1e9)
	}
	o := tp.MatMul(tp.Softmax(s, -1), vh)
	return tp.Reshape(tp.Permute(o, 0, 2, 1, 3), b, lq, d)
}

// attnMask builds the [B,1,Lq,Lk] mask of key padding and a causal offset mask.
func attnMask[T engine.Float](b, lq, lk int, pad []bool, causal bool) *engine.Tensor[T] {
	m := engine.NewTensor[T](b, 1, lq, lk)
	for bi := 0; bi < b; bi++ {
		for i := 0; i < lq; i++ {
			for j := 0; j < lk; j++ {
				if (pad != nil && pad[bi*lk+j]) || (causal && j > i+lk-lq) {
					m.Set(1, bi, 0, i, j)
				}
			}
		}
	}
	return m
}

// sinTensor fills a tensor with sin(a*(i+1)), so the PyTorch script that
// printed the expected values below can build the same inputs.
func sinTensor(a float64, shape ...int) *engine.Tensor[float64] {
	t := engine.NewTensor[float64](shape...)
	for i := range t.Data() {
		t.Data()[i] = math.Sin(a * float64(i+1))
	}
	return t
}

// TestMultiHeadAttentionGrad checks the fused op's gradients by finite
// differences, with and without masks and attention dropout, and its values
// and gradients against the composition of existing ops.
func TestMultiHeadAttentionGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const b, lq, lk, d, heads = 2, 3, 5, 6, 3
	q, k, v := gradcheck.Random(rng, b, lq, d), gradcheck.Random(rng, b, lk, d), gradcheck.Random(rng, b, lk, d)
	pad := []bool{false, false, false, false, false, false, false, true, false, true}
	for _, c := range []struct {
		name   string
		pad    []bool
		causal bool
		drop   float64
	}{
		{"plain", nil, false, 0}, {"pad", pad, false, 0}, {"causal", nil, true, 0},
		{"pad+causal", pad, true, 0}, {"pad+dropout", pad, false, 0.3},
	} {
		f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return tp.MultiHeadAttention(in[0], in[1], in[2], engine.AttentionOpts{Heads: heads, KeyPadding: c.pad,
				Causal: c.causal, Dropout: c.drop, Training: c.drop > 0, RNG: rand.New(rand.NewPCG(1, 2))})
		}
		out := gradcheck.Check(t, c.name, f, ewTensors{q, k, v}, nil, 3)
		if c.drop > 0 {
			continue
		}
		ref := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
			return attnComposed(tp, in[0], in[1], in[2], heads, attnMask[float64](b, lq, lk, c.pad, c.causal))
		}
		w := gradcheck.Weights(rng, out.Len())
		o1, g1, err := gradcheck.Analytic(f, ewTensors{q, k, v}, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		o2, g2, err := gradcheck.Analytic(ref, ewTensors{q, k, v}, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if msg := gradcheck.Close(o1.Data(), o2.Data(), 1e-12, 1e-10); msg != "" {
			t.Fatalf("%s: fused vs composed value: %s", c.name, msg)
		}
		for i := range g1 {
			if msg := gradcheck.Close(g1[i].Data(), g2[i].Data(), 1e-12, 1e-10); msg != "" {
				t.Fatalf("%s: fused vs composed grad %d: %s", c.name, i, msg)
			}
		}
	}
}

// TestMultiHeadAttentionGorgonia compares one unmasked head with gorgonia's
// softmax(q k^T / sqrt(d)) v.
func TestMultiHeadAttentionGorgonia(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	q, k, v := gradcheck.Random(rng, 1, 3, 4), gradcheck.Random(rng, 1, 5, 4), gradcheck.Random(rng, 1, 5, 4)
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Reshape(tp.MultiHeadAttention(in[0], in[1], in[2], engine.AttentionOpts{Heads: 1}), 3, 4)
	}
	ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		r := func(n *G.Node, l int) (*G.Node, error) { return G.Reshape(n, []int{l, 4}) }
		qn, err := r(in[0], 3)
		if err != nil {
			return nil, err
		}
		kn, err := r(in[1], 5)
		if err != nil {
			return nil, err
		}
		vn, err := r(in[2], 5)
		if err != nil {
			return nil, err
		}
		kt, err := G.Transpose(kn)
		if err != nil {
			return nil, err
		}
		s, err := G.Mul(qn, kt)
		if err != nil {
			return nil, err
		}
		s, err = G.Mul(s, G.NewConstant(0.5))
		if err != nil {
			return nil, err
		}
		p, err := G.SoftMax(s, 1)
		if err != nil {
			return nil, err
		}
		return G.Mul(p, vn)
	}
	gradcheck.CheckReference(t, "attention vs gorgonia", f, ref, ewTensors{q, k, v}, nil, 4)
}

// TestMultiHeadAttentionTorch compares with values PyTorch 1.13 printed
// (float64; 2 heads, key padding and a causal offset mask; the loss is
// sum(out * w) with w = sin(0.3 (i+1))).
func TestMultiHeadAttentionTorch(t *testing.T) {
	const b, lq, lk, d = 2, 3, 4, 4
	tp := engine.NewTape[float64](2)
	q := engine.NewParam("q", sinTensor(0.7, b, lq, d))
	k := engine.NewParam("k", sinTensor(1.3, b, lk, d))
	v := engine.NewParam("v", sinTensor(2.1, b, lk, d))
	pad := []bool{false, false, false, false, false, false, false, true}
	o := tp.MultiHeadAttention(q, k, v, engine.AttentionOpts{Heads: 2, KeyPadding: pad, Causal: true})
	l := tp.SumAll(tp.Mul(o, tp.Const(sinTensor(0.3, b, lq, d))))
	if err := tp.Backward(l); err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{
		"out": {-0.00635034354326, -0.419959438716, 0.557260467114, -0.281256077098, 0.0451016406409, 0.14761344852, 0.146563115399, 0.259829781967, 0.0797907272595, -0.151676429734, -0.174242673385, 0.332352611382, -0.38627215208, 0.456018160301, -0.469896844701, -0.140956384219, -0.127375299312, 0.00530215843951, 0.297814977821, -0.385629032646, 0.243991683653, -0.124227211859, -0.117527751461, 0.27941163603},
		"gq":  {0.000522605658785, -0.000337289664946, -0.157416764032, -0.00869710764627, -0.242454321499, -0.110695457861, -0.180277824895, -0.0878696766967, -0.0157333326357, -0.0715567378267, 0.0271692990109, -0.0878910085059, -0.217346144839, -0.154882557149, -0.0510948303576, -0.0861803692922, -0.184700414159, -0.156118425831, -0.0467553309451, -0.032808204548, -0.0104421217066, -0.0837688115944, 0.064535111033, -0.188931729061},
		"gk":  {0.0136195440262, 0.0604025530341, 0.00435450735388, -0.0340284019168, 0.0631310123654, 0.102170696477, -0.0668237027155, -0.00106429058391, -0.0771429641499, -0.177906196121, 0.143139211951, 0.104858655147, 0.000392407758297, 0.0153329466101, -0.0806700165891, -0.0697659626459, -0.0415333922183, -0.0765827845561, 0.0580476210234, 0.0726775127428, 0.0926416546781, 0.101366449848, 0.0345060753587, 0.125680037275, -0.0511082624598, -0.024783665292, -0.0925536963821, -0.198357550018, 0, 0, 0, 0},
		"gv":  {0.545079606783, 0.597058940697, 0.775125627611, 0.698052427912, 0.541751062993, 0.575542804863, 0.738759825384, 0.745293410488, 0.567500710235, 0.485194263234, 0.0461737091979, -0.0784358725262, 0.0660636934884, 0.0218141035382, -0.0712685800598, -0.19992814265, -0.728389853481, -0.700856409089, -0.49252023572, -0.300064640338, -0.610386957441, -0.554025312401, -0.646473484413, -0.522837843719, -0.257990130106, -0.0779171749666, 0.189217824259, 0.340990240872, 0, 0, 0, 0},
	}
	got := map[string][]float64{"out": o.Value.Data(), "gq": q.Grad.Data(), "gk": k.Grad.Data(), "gv": v.Grad.Data()}
	for name, w := range want {
		if msg := gradcheck.Close(got[name], w, 1e-11, 1e-9); msg != "" {
			t.Fatalf("%s vs PyTorch: %s", name, msg)
		}
	}
	// The same on a float32 tape (its softmax is maskedSoftmaxRow32, with
	// engine.Exp32): within float32 rounding of PyTorch's values.
	f32 := func(x *engine.Tensor[float64]) *engine.Tensor[float32] {
		d := make([]float32, x.Len())
		for i, v := range x.Data() {
			d[i] = float32(v)
		}
		return engine.FromSlice(d, x.Shape()...)
	}
	tp32 := engine.NewTape[float32](2)
	q32 := engine.NewParam("q", f32(sinTensor(0.7, b, lq, d)))
	k32 := engine.NewParam("k", f32(sinTensor(1.3, b, lk, d)))
	v32 := engine.NewParam("v", f32(sinTensor(2.1, b, lk, d)))
	o32 := tp32.MultiHeadAttention(q32, k32, v32, engine.AttentionOpts{Heads: 2, KeyPadding: pad, Causal: true})
	if err := tp32.Backward(tp32.SumAll(tp32.Mul(o32, tp32.Const(f32(sinTensor(0.3, b, lq, d)))))); err != nil {
		t.Fatal(err)
	}
	got32 := map[string][]float32{"out": o32.Value.Data(), "gq": q32.Grad.Data(), "gk": k32.Grad.Data(), "gv": v32.Grad.Data()}
	for name, w := range want {
		for i, g := range got32[name] {
			if math.Abs(float64(g)-w[i]) > 2e-6 {
				t.Fatalf("float32 %s[%d] = %.9g, PyTorch %.12g", name, i, g, w[i])
			}
		}
	}
}

// TestAttentionCached decodes position by position from a KV cache and
// requires each step's output to equal the causal full-sequence attention's
// row, including after a Reorder of the cache's batch rows.
func TestAttentionCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const b, l, d, heads = 3, 5, 8, 2
	q, k, v := gradcheck.Random(rng, b, l, d), gradcheck.Random(rng, b, l, d), gradcheck.Random(rng, b, l, d)
	tp := engine.NewTape[float64](2)
	tp.SetNoGrad(true)
	full := tp.MultiHeadAttention(tp.Const(q), tp.Const(k), tp.Const(v), engine.AttentionOpts{Heads: heads, Causal: true}).Value
	c := engine.NewKVCache[float64](b, l+2, d)
	row := func(x *engine.Tensor[float64], i int) *engine.Tensor[float64] {
		out := engine.NewTensor[float64](b, 1, d)
		for bi := 0; bi < b; bi++ {
			copy(out.Data()[bi*d:(bi+1)*d], x.Data()[(bi*l+i)*d:(bi*l+i+1)*d])
		}
		return out
	}
	for i := 0; i < l; i++ {
		c.Append(row(k, i), row(v, i))
		got := tp.AttentionCached(tp.Const(row(q, i)), c, engine.AttentionOpts{Heads: heads, Causal: true}).Value
		if msg := gradcheck.Close(got.Data(), row(full, i).Data(), 1e-12, 1e-10); msg != "" {
			t.Fatalf("position %d: %s", i, msg)
		}
	}
	// Reorder: row 0 <- 2, 1 <- 0, 2 <- 2; the attention of a query follows its source row.
	c.Reorder([]int32{2, 0, 2})
	qr := row(q, l-1)
	got := tp.AttentionCached(tp.Const(qr), c, engine.AttentionOpts{Heads: heads}).Value
	want := row(full, l-1)
	for bi, src := range []int{2, 0, 2} {
		if bi == src {
			if msg := gradcheck.Close(got.Data()[bi*d:(bi+1)*d], want.Data()[bi*d:(bi+1)*d], 1e-12, 1e-10); msg != "" {
				t.Fatalf("reorder row %d: %s", bi, msg)
			}
		}
	}
	// Row 1 now holds row 0's keys: with row 0's query it gives row 0's output.
	q1 := engine.NewTensor[float64](b, 1, d)
	copy(q1.Data()[d:2*d], qr.Data()[0:d])
	got = tp.AttentionCached(tp.Const(q1), c, engine.AttentionOpts{Heads: heads}).Value
	if msg := gradcheck.Close(got.Data()[d:2*d], want.Data()[0:d], 1e-12, 1e-10); msg != "" {
		t.Fatalf("reordered row 1: %s", msg)
	}
}

func benchAttention(bm *testing.B, fused bool) {
	const b, l, d, heads = 64, 32, 256, 4
	rng := rand.New(rand.NewPCG(1, 1))
	mk := func() *engine.Var[float32] {
		t := engine.NewTensor[float32](b, l, d)
		for i := range t.Data() {
			t.Data()[i] = float32(rng.NormFloat64())
		}
		return engine.NewParam("x", t)
	}
	q, k, v := mk(), mk(), mk()
	tp := engine.NewTape[float32](2)
	mask := attnMask[float32](b, l, l, nil, true)
	bm.ResetTimer()
	for i := 0; i < bm.N; i++ {
		tp.Reset()
		var o *engine.Var[float32]
		if fused {
			o = tp.MultiHeadAttention(q, k, v, engine.AttentionOpts{Heads: heads, Causal: true})
		} else {
			o = attnComposed(tp, q, k, v, heads, mask)
		}
		if err := tp.Backward(tp.SumAll(o)); err != nil {
			bm.Fatal(err)
		}
	}
}

// BenchmarkAttentionFused times forward+backward of the fused op at the bench
// configuration's size (batch 64, length 32, d 256, 4 heads, causal).
func BenchmarkAttentionFused(b *testing.B) { benchAttention(b, true) }

// BenchmarkAttentionComposed times the same attention composed of existing ops.
func BenchmarkAttentionComposed(b *testing.B) { benchAttention(b, false) }

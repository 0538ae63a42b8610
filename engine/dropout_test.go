package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
)

func TestDropoutClosedForm(t *testing.T) {
	const p = 0.3
	rng := rand.New(rand.NewPCG(61, 1))
	x := gradcheck.Random(rng, 4, 50)
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Dropout(in[0], p, rand.New(rand.NewPCG(7, 8)), true)
	}
	// Finite differences with the same mask every evaluation (same seed).
	out := gradcheck.Check(t, "dropout", f, ewTensors{x}, nil, 1)
	// The mask, reproduced from the same seed with the documented rule.
	mr := rand.New(rand.NewPCG(7, 8))
	mask := make([]float64, x.Len())
	for i := range mask {
		if mr.Float64() >= p {
			mask[i] = 1 / (1 - p)
		}
	}
	want := make([]float64, x.Len())
	for i, v := range x.Data() {
		want[i] = v * mask[i]
	}
	if msg := gradcheck.Close(out.Data(), want, 0, 0); msg != "" {
		t.Fatalf("dropout forward: %s", msg)
	}
	w := gradcheck.Weights(rand.New(rand.NewPCG(9, 9)), x.Len())
	_, grads, err := gradcheck.Analytic(f, ewTensors{x}, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range w {
		w[i] *= mask[i]
	}
	if msg := gradcheck.Close(grads[0].Data(), w, 0, 0); msg != "" {
		t.Fatalf("dropout gradient is not w*mask/(1-p): %s", msg)
	}
}

func TestDropoutStatistics(t *testing.T) {
	const n = 100000
	x := engine.NewTensor[float32](n)
	x.Fill(1)
	for _, p := range []float64{0.1, 0.5, 0.9} {
		tp := engine.NewTape[float32](2)
		y := tp.Dropout(tp.Const(x), p, rand.New(rand.NewPCG(1, 2)), true).Value.Data()
		kept := 0
		for _, v := range y {
			if v != 0 {
				kept++
				if math.Abs(float64(v)-1/(1-p)) > 1e-6 {
					t.Fatalf("p=%g: kept value %g, want %g", p, v, 1/(1-p))
				}
			}
		}
		se := math.Sqrt(p * (1 - p) / n)
		if frac := float64(kept) / n; math.Abs(frac-(1-p)) > 4*se {
			t.Fatalf("p=%g: kept fraction %g, want %g +- %g", p, frac, 1-p, 4*se)
		}
		y2 := tp.Dropout(tp.Const(x), p, rand.New(rand.NewPCG(1, 2)), true).Value.Data()
		y3 := tp.Dropout(tp.Const(x), p, rand.New(rand.NewPCG(3, 2)), true).Value.Data()
		same, diff := true, false
		for i := range y {
			same = same && y[i] == y2[i]
			diff = diff || y[i] != y3[i]
		}
		if !same || !diff {
			t.Fatalf("p=%g: same seed same mask %v, other seed differs %v", p, same, diff)
		}
	}
}

func TestDropoutIdentityAndAll(t *testing.T) {
	tp := engine.NewTape[float64](1)
	x := tp.Input(engine.FromSlice([]float64{1, 2, 3}, 3))
	rng := rand.New(rand.NewPCG(1, 1))
	if tp.Dropout(x, 0.5, rng, false) != x || tp.Dropout(x, 0, rng, true) != x {
		t.Fatal("dropout in evaluation mode or with p=0 is not the identity")
	}
	for _, v := range tp.Dropout(x, 1, rng, true).Value.Data() {
		if v != 0 {
			t.Fatal("dropout with p=1 kept an element")
		}
	}
}

package nn

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/gap-harness/gap/engine"
)

func testSet(t *testing.T) *ParamSet {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	ps := NewParamSet()
	NewConv2d(ps, "conv1", ConvSpec{In: 3, Out: 4, K: 3, Pad: 1}, rng)
	NewBatchNorm(ps, "bn1", 4)
	NewLinear(ps, "fc", 4, 2, true, rng)
	return ps
}

// TestParamSet checks order, lookup, prunable selection, counts and masks.
func TestParamSet(t *testing.T) {
	ps := testSet(t)
	want := []string{"conv1.weight", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"}
	if got := ps.Names(); !reflect.DeepEqual(got, want) {
		t.Fatalf("names %v, want %v", got, want)
	}
	var pr []string
	for _, p := range ps.Prunable() {
		pr = append(pr, p.Name)
	}
	if !reflect.DeepEqual(pr, []string{"conv1.weight", "fc.weight"}) {
		t.Fatalf("prunable %v", pr)
	}
	if n := ps.NumParams(); n != 4*3*9+4+4+8+2 {
		t.Fatalf("NumParams %d", n)
	}
	if ps.Get("fc.weight").V.Name() != "fc.weight" || ps.Get("nope") != nil || ps.Buffer("bn1.running_var") == nil {
		t.Fatal("Get / Buffer lookup")
	}
	if len(ps.Vars()) != 5 || len(ps.Buffers()) != 2 {
		t.Fatal("Vars / Buffers")
	}
	fc := ps.Get("fc.weight")
	fc.Mask = []float32{1, 0, 1, 0, 0, 0, 0, 1}
	ps.ApplyMasks()
	for i, m := range fc.Mask {
		if m == 0 && fc.V.Value.Data()[i] != 0 {
			t.Fatal("ApplyMasks left a pruned weight")
		}
		if m == 1 && fc.V.Value.Data()[i] == 0 {
			t.Fatal("ApplyMasks zeroed a kept weight")
		}
	}
	fc.V.Grad = engine.NewTensor[float32](2, 4)
	fc.V.Grad.Fill(3)
	ps.ZeroGrad()
	if fc.V.Grad.Data()[0] != 0 {
		t.Fatal("ZeroGrad")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate name accepted")
		}
	}()
	ps.Add("fc.weight", engine.NewTensor[float32](1), false)
}

// TestStateDictRoundTrip saves a set (weights, masks, buffers) and loads it
// into a differently seeded one, which must then be identical.
func TestStateDictRoundTrip(t *testing.T) {
	a := testSet(t)
	a.Get("conv1.weight").Mask = make([]float32, 108)
	a.Buffer("bn1.running_mean").T.Fill(0.25)
	sd := a.StateDict()
	if len(sd) != 5+2+1 {
		t.Fatalf("state dict has %d entries", len(sd))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	b := NewParamSet()
	NewConv2d(b, "conv1", ConvSpec{In: 3, Out: 4, K: 3, Pad: 1}, rng)
	NewBatchNorm(b, "bn1", 4)
	NewLinear(b, "fc", 4, 2, true, rng)
	b.Get("fc.weight").Mask = []float32{1}
	if err := b.LoadStateDict(sd); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.StateDict(), sd) {
		t.Fatal("round trip differs")
	}
	if b.Get("fc.weight").Mask != nil {
		t.Fatal("mask absent from the dict was kept")
	}
	sd["extra"] = []float32{1}
	if err := b.LoadStateDict(sd); err == nil {
		t.Fatal("unknown key accepted")
	}
	delete(sd, "extra")
	delete(sd, "bn1.running_var")
	if err := b.LoadStateDict(sd); err == nil {
		t.Fatal("missing buffer accepted")
	}
}

// TestConvGeometry checks output sizes and the FLOPs of a conv and a linear
// against hand numbers: conv 3->32, 3x3, pad 1 on 32x32 is 2*32*32*32*3*9 =
// 1,769,472 FLOPs; stride 2 halves each side; Linear 784->300 is 470,400.
func TestConvGeometry(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ps := NewParamSet()
	c := NewConv2d(ps, "c", ConvSpec{In: 3, Out: 32, K: 3, Pad: 1}, rng)
	if h, w := c.Plan(32, 32); h != 32 || w != 32 || c.W.FwdFLOPs != 1769472 {
		t.Fatalf("conv plan %d x %d, %g FLOPs", h, w, c.W.FwdFLOPs)
	}
	s := NewConv2d(ps, "s", ConvSpec{In: 16, Out: 32, K: 1, Stride: 2}, rng)
	if h, w := s.OutSize(32, 31); h != 16 || w != 16 {
		t.Fatalf("stride-2 1x1 out %d x %d", h, w)
	}
	g := NewConv2d(ps, "g", ConvSpec{In: 8, Out: 8, K: 3, Pad: 1, Groups: 8}, rng)
	if g.W.Shape()[1] != 1 {
		t.Fatalf("depthwise weight shape %v", g.W.Shape())
	}
	if l := NewLinear(ps, "l", 784, 300, true, rng); l.W.FwdFLOPs != 470400 {
		t.Fatalf("linear FLOPs %g", l.W.FwdFLOPs)
	}
}

// TestPrepareSparse checks that a mask of the wrong length is an error (no
// panic), that a fully pruned weight prepares, and that loading a state dict
// drops the prepared pattern.
func TestPrepareSparse(t *testing.T) {
	ps := NewParamSet()
	p := ps.Add("fc.weight", engine.NewTensor[float32](3, 4), true)
	p.Mask = make([]float32, 5)
	if err := p.PrepareSparse(engine.KernelSparse, engine.WeightGradDense); err == nil {
		t.Fatal("mask of 5 for 12 weights accepted")
	}
	p.Mask = make([]float32, 12)
	if err := p.PrepareSparse(engine.KernelSparse, engine.WeightGradDense); err != nil || p.Sparse.NNZ() != 0 {
		t.Fatalf("fully pruned: %v", err)
	}
	if err := ps.LoadStateDict(ps.StateDict()); err != nil || p.Sparse != nil {
		t.Fatalf("LoadStateDict kept the pattern (err %v)", err)
	}
}

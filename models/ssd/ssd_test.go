package ssd

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gap-harness/gap/engine"
)

// TestModelShapes builds both configurations: the heads' outputs must cover
// exactly the default boxes (8732 for SSD300), every parameter and buffer
// has a partition, the stem alone is FirstOrLast, and every conv weight is
// prunable.
func TestModelShapes(t *testing.T) {
	for _, c := range []struct {
		cfg     Config
		anchors int
	}{{Full(), 8732}, {Proxy(), 380}} {
		m, err := New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if m.NumAnchors() != c.anchors {
			t.Errorf("%s: %d anchors, want %d", c.cfg.Name, m.NumAnchors(), c.anchors)
		}
		for _, p := range m.Params().All() {
			if m.PartitionOf(p.Name) < 0 {
				t.Errorf("%s: %s has no partition", c.cfg.Name, p.Name)
			}
			conv := len(p.Shape()) == 4
			if p.Prunable != conv {
				t.Errorf("%s: %s prunable=%v", c.cfg.Name, p.Name, p.Prunable)
			}
			if p.FirstOrLast != (p.Name == "backbone.conv1.weight") {
				t.Errorf("%s: %s FirstOrLast=%v", c.cfg.Name, p.Name, p.FirstOrLast)
			}
			if conv && (p.FwdFLOPs <= 0 || p.Partition != m.PartitionOf(p.Name)) {
				t.Errorf("%s: %s FLOPs %g partition %d", c.cfg.Name, p.Name, p.FwdFLOPs, p.Partition)
			}
		}
		for _, b := range m.Params().Buffers() {
			if m.PartitionOf(b.Name) < 0 {
				t.Errorf("%s: buffer %s has no partition", c.cfg.Name, b.Name)
			}
		}
	}
	m, _ := New(Proxy())
	x := engine.NewTensor[float32](2, 1, 64, 64)
	tp := engine.NewTape[float32](1)
	loc, conf := m.Forward(tp, tp.Const(x), false)
	if s := loc.Shape(); s[0] != 2 || s[1] != 4 || s[2] != 380 {
		t.Errorf("loc %v", s)
	}
	if s := conf.Shape(); s[0] != 2 || s[1] != 11 || s[2] != 380 {
		t.Errorf("conf %v", s)
	}
	if err := m.SetKappa(2); err != nil {
		t.Fatal(err)
	}
	parts := map[int]bool{}
	for _, p := range m.Params().Prunable() {
		parts[p.Partition] = true
	}
	if len(parts) != 2 || !parts[0] || !parts[1] {
		t.Errorf("kappa 2 partitions %v", parts)
	}
}

// TestProxyFLOPs checks the stem's FLOPs by hand: 3x3 conv, 1->16 channels,
// stride 2 on 64x64 -> 32x32: 2*32*32*16*9.
func TestProxyFLOPs(t *testing.T) {
	m, _ := New(Proxy())
	if g := m.Params().Get("backbone.conv1.weight").FwdFLOPs; g != 2*32*32*16*9 {
		t.Errorf("stem FLOPs %g", g)
	}
	// conf.3 on the 1x1 map: 3x3 conv with pad 1, 64 -> 4*11.
	if g := m.Params().Get("conf.3.weight").FwdFLOPs; g != 2*1*44*64*9 {
		t.Errorf("conf.3 FLOPs %g", g)
	}
}

// TestMultiBoxLossBruteForce compares the loss with a float64 brute-force
// evaluation of its definition on random outputs and targets.
func TestMultiBoxLossBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, c, a := 3, 4, 20
	locT, confT := engine.NewTensor[float32](n, 4, a), engine.NewTensor[float32](n, c, a)
	for i := range locT.Data() {
		locT.Data()[i] = float32(rng.NormFloat64())
	}
	for i := range confT.Data() {
		confT.Data()[i] = float32(2 * rng.NormFloat64())
	}
	tg := Targets{N: n, A: a, Labels: make([]int32, n*a), Loc: make([]float32, n*a*4), NumPos: make([]int, n)}
	for i := 0; i < n; i++ {
		for k := 0; k < i+1; k++ { // image i has i+1 positives
			j := rng.IntN(a)
			if tg.Labels[i*a+j] != 0 {
				continue
			}
			tg.Labels[i*a+j] = int32(1 + rng.IntN(c-1))
			tg.NumPos[i]++
			for q := 0; q < 4; q++ {
				tg.Loc[(i*a+j)*4+q] = float32(rng.NormFloat64())
			}
		}
	}
	tp := engine.NewTape[float32](1)
	l, _, err := MultiBoxLoss(tp, tp.Input(locT), tp.Input(confT), tg)
	if err != nil {
		t.Fatal(err)
	}
	// Brute force.
	ld, cd := locT.Data(), confT.Data()
	ceOf := func(i, j int, label int32) float64 {
		lse := 0.0
		for k := 0; k < c; k++ {
			lse += math.Exp(float64(cd[i*c*a+k*a+j]))
		}
		return math.Log(lse) - float64(cd[i*c*a+int(label)*a+j])
	}
	var sum float64
	total := 0
	for i := 0; i < n; i++ {
		var negs []float64
		for j := 0; j < a; j++ {
			lab := tg.Labels[i*a+j]
			if lab == 0 {
				negs = append(negs, ceOf(i, j, 0))
				continue
			}
			total++
			sum += ceOf(i, j, lab)
			for q := 0; q < 4; q++ {
				d := math.Abs(float64(ld[i*4*a+q*a+j] - tg.Loc[(i*a+j)*4+q]))
				if d < 1 {
					sum += 0.5 * d * d
				} else {
					sum += d - 0.5
				}
			}
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(negs)))
		for _, v := range negs[:min(3*tg.NumPos[i], len(negs))] {
			sum += v
		}
	}
	want := sum / float64(total)
	if got := float64(l.Value.Data()[0]); math.Abs(got-want) > 1e-5*math.Abs(want) {
		t.Errorf("loss %g, brute force %g", got, want)
	}
	if _, _, err := MultiBoxLoss(tp, tp.Input(locT), tp.Input(confT), Targets{N: n, A: a, Labels: make([]int32, n*a), Loc: tg.Loc, NumPos: make([]int, n)}); err == nil {
		t.Error("a batch without positives gave no error")
	}
}

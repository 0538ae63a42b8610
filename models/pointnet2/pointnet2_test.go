package pointnet2

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
)

// tinyConfig is a small network for fast tests.
func tinyConfig() Config {
	return Config{NumPoints: 64, NumCategories: 3, NumParts: 5, Width: 0.125,
		NPoint1: 16, NPoint2: 8, K1: 8, K2: 8, Radius1: 0.5, Radius2: 0.8, Dropout: -1, Seed: 1}
}

// randomBatch returns b clouds on the unit sphere and their categories.
func randomBatch(b, n, cats int, rng *rand.Rand) Batch {
	xyz := engine.NewTensor[float32](b, n, 3)
	d := xyz.Data()
	for i := 0; i < len(d); i += 3 {
		v := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		r := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
		for k := range v {
			d[i+k] = float32(v[k] / r)
		}
	}
	cat := make([]int, b)
	for i := range cat {
		cat[i] = rng.IntN(cats)
	}
	return Batch{XYZ: xyz, Category: cat}
}

func TestNamesPartitionsFLOPs(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	want := map[string][]int{
		"sa1.mlp_convs.0.weight": {64, 6, 1, 1},
		"sa2.mlp_convs.0.weight": {128, 131, 1, 1},
		"sa3.mlp_convs.2.weight": {1024, 512, 1, 1},
		"fp3.mlp_convs.0.weight": {256, 1280, 1},
		"fp2.mlp_convs.0.weight": {256, 384, 1},
		"fp1.mlp_convs.0.weight": {128, 150, 1},
		"conv1.weight":           {128, 128, 1},
		"conv2.weight":           {50, 128, 1},
	}
	for name, shape := range want {
		p := ps.Get(name)
		if p == nil || !engine.SameShape(p.Shape(), shape) {
			t.Fatalf("%s: %v, want %v", name, p, shape)
		}
	}
	if ps.Buffer("sa1.mlp_bns.0.running_mean") == nil || ps.Buffer("bn1.running_var") == nil || ps.Get("bn1.weight") == nil {
		t.Fatal("batch-norm names missing")
	}
	nPrunable := 0
	for _, p := range ps.All() {
		if p.Prunable != (len(p.Shape()) >= 3) {
			t.Fatalf("%s: prunable %v", p.Name, p.Prunable)
		}
		if p.Prunable {
			nPrunable++
			if p.Partition < 0 || p.Partition > 3 || p.FwdFLOPs <= 0 {
				t.Fatalf("%s: partition %d, FLOPs %g", p.Name, p.Partition, p.FwdFLOPs)
			}
		}
		if m.PartitionOf(p.Name) < 0 {
			t.Fatalf("%s has no partition", p.Name)
		}
	}
	if nPrunable != 3+3+3+2+2+3+2 {
		t.Fatalf("%d prunable tensors", nPrunable)
	}
	for _, b := range ps.Buffers() {
		bn := strings.TrimSuffix(strings.TrimSuffix(b.Name, ".running_mean"), ".running_var")
		if p := m.PartitionOf(b.Name); p < 0 || p != m.PartitionOf(bn+".weight") {
			t.Fatalf("%s: partition %d, its batch norm's %d", b.Name, p, m.PartitionOf(bn+".weight"))
		}
	}
	if m.PartitionOf("sa1.mlp_bns.0.running_mean") != 0 || m.PartitionOf("sa3.mlp_bns.2.weight") != 1 ||
		m.PartitionOf("fp3.mlp_convs.1.bias") != 2 || m.PartitionOf("bn1.running_var") != 3 || m.PartitionOf("nope") != -1 {
		t.Fatal("wrong partitions")
	}
	// sa1's first conv: 512*32 positions, 6 -> 64.
	if f := ps.Get("sa1.mlp_convs.0.weight").FwdFLOPs; f != 2*512*32*6*64 {
		t.Fatalf("sa1.mlp_convs.0 FLOPs %g", f)
	}
	if got := m.DenseByDefault(); len(got) != 2 || got[0] != "sa1.mlp_convs.0.weight" || got[1] != "conv2.weight" {
		t.Fatalf("dense by default %v", got)
	}
	for _, k := range []int{1, 2} {
		mk, err := New(Config{Partitions: k})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, p := range mk.Params().Prunable() {
			seen[p.Partition] = true
		}
		if len(seen) != k {
			t.Fatalf("kappa %d: partitions %v", k, seen)
		}
	}
	if _, err := New(Config{Partitions: 3}); err == nil {
		t.Fatal("kappa 3 accepted")
	}
}

// TestForwardShapesAndTraining checks the logits' shape and that a few
// Adam steps on one batch lower the loss.
func TestForwardShapesAndTraining(t *testing.T) {
	cfg := tinyConfig()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	in := randomBatch(4, cfg.NumPoints, cfg.NumCategories, rng)
	labels := make([]int32, 4*cfg.NumPoints)
	for i := range labels {
		// Label by height: a learnable rule.
		labels[i] = int32(min(4, int((in.XYZ.Data()[(i)*3+1]+1)*2.5)))
	}
	opt, err := optim.NewAdam(m.Params().Vars(), optim.AdamConfig{LR: 1e-2, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	var first, last float32
	for step := 0; step < 15; step++ {
		tp.Reset()
		m.Params().ZeroGrad()
		logits, err := m.Forward(tp, in, true, rng)
		if err != nil {
			t.Fatal(err)
		}
		if s := logits.Shape(); step == 0 && (s[0] != 4 || s[1] != cfg.NumParts || s[2] != cfg.NumPoints) {
			t.Fatalf("logits %v", s)
		}
		l := tp.CrossEntropy(logits, labels, engine.CEOpts{})
		if step == 0 {
			first = l.Value.Data()[0]
		}
		last = l.Value.Data()[0]
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		opt.Step()
	}
	if !(last < 0.7*first) {
		t.Fatalf("loss %g -> %g", first, last)
	}
}

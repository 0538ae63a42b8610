package models

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// TestParamCounts checks parameter counts (weights, biases and BN affine
// parameters, not running statistics) against PyTorch: the four models of
// torch_reference.py (sum(p.numel() for p in model.parameters())), ResNet-32
// built the same way (5 blocks per stage), and torchvision's resnet18/resnet50
// with 1000 classes.
func TestParamCounts(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want int
	}{
		{"mlp", Config{}, 266610},
		{"lenet5", Config{}, 61706},
		{"conv2", Config{}, 19946},
		{"resnet20", Config{}, 272474},
		{"resnet32", Config{}, 466906},
		{"resnet18", Config{Classes: 1000}, 11689512},
		{"resnet50", Config{Classes: 1000}, 25557032},
	} {
		m, err := New(c.name, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Params().NumParams(); got != c.want {
			t.Errorf("%s: %d parameters, want %d", c.name, got, c.want)
		}
	}
}

// TestFLOPs checks dense forward FLOPs per example (multiply-adds x 2 over
// conv and linear layers) against PyTorch forward hooks on torch_reference.py's
// models (2 * output positions * weight[0].numel() per conv, 2 * weight.numel()
// per linear), one conv and one linear by hand, and ResNet-50 at 224x224
// against its well-known 4.09 GMACs.
func TestFLOPs(t *testing.T) {
	for _, c := range []struct {
		name string
		want float64
	}{{"mlp", 532400}, {"lenet5", 833040}, {"conv2", 39519488}, {"resnet20", 81626368}} {
		m, err := New(c.name, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.DenseForwardFLOPs(); got != c.want {
			t.Errorf("%s: %.0f FLOPs, want %.0f", c.name, got, c.want)
		}
	}
	m, _ := New("conv2", Config{})
	// conv1: 3->32, 3x3, pad 1, 32x32 output: 2*32*32*32*3*3*3.
	if f := m.Params().Get("conv1.weight").FwdFLOPs; f != 2*32*32*32*27 {
		t.Errorf("conv2 conv1 FLOPs %.0f", f)
	}
	// fc: 64 -> 10.
	if f := m.Params().Get("fc.weight").FwdFLOPs; f != 2*64*10 {
		t.Errorf("conv2 fc FLOPs %.0f", f)
	}
	r50, _ := New("resnet50", Config{Classes: 1000})
	if f := r50.DenseForwardFLOPs(); math.Abs(f/(2*4.089e9)-1) > 0.005 {
		t.Errorf("resnet50 FLOPs %.4g, want about %.4g", f, 2*4.089e9)
	}
}

// TestPartitionsAndNames checks prunable selection, FirstOrLast, partition
// ranges and PyTorch-style names.
func TestPartitionsAndNames(t *testing.T) {
	for _, c := range []struct {
		name        string
		parts       int
		first, last string
		some        string
	}{
		{"mlp", 3, "fc1.weight", "fc3.weight", "fc2.weight"},
		{"lenet5", 5, "conv1.weight", "fc3.weight", "fc1.weight"},
		{"conv2", 3, "conv1.weight", "fc.weight", "conv2.weight"},
		{"resnet20", 3, "conv1.weight", "fc.weight", "layer2.0.shortcut.0.weight"},
		{"resnet18", 4, "conv1.weight", "fc.weight", "layer3.0.downsample.0.weight"},
		{"resnet50", 4, "conv1.weight", "fc.weight", "layer4.2.conv3.weight"},
	} {
		m, err := New(c.name, Config{WidthMult: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		if m.NumPartitions() != c.parts {
			t.Errorf("%s: %d partitions", c.name, m.NumPartitions())
		}
		if got := m.DenseByDefault(); !reflect.DeepEqual(got, []string{c.first, c.last}) {
			t.Errorf("%s: dense by default %v", c.name, got)
		}
		ps := m.Params()
		if ps.Get(c.some) == nil || !ps.Get(c.some).Prunable {
			t.Errorf("%s: %s missing or not prunable", c.name, c.some)
		}
		seen := map[int]bool{}
		for _, p := range ps.All() {
			isW := strings.HasSuffix(p.Name, ".weight") && len(p.Shape()) >= 2
			if p.Prunable != isW {
				t.Errorf("%s: %s prunable=%v", c.name, p.Name, p.Prunable)
			}
			if p.Prunable {
				if p.Partition < 0 || p.Partition >= c.parts || p.FwdFLOPs <= 0 {
					t.Errorf("%s: %s partition %d FLOPs %g", c.name, p.Name, p.Partition, p.FwdFLOPs)
				}
				seen[p.Partition] = true
			} else if p.Partition != -1 {
				t.Errorf("%s: non-prunable %s in partition %d", c.name, p.Name, p.Partition)
			}
		}
		if len(seen) != c.parts {
			t.Errorf("%s: partitions used %v", c.name, seen)
		}
		if c.name == "resnet50" {
			if ps.Get("conv1.weight").Partition != 0 || ps.Get("fc.weight").Partition != 3 || ps.Get("layer2.1.conv2.weight").Partition != 1 {
				t.Errorf("resnet50 stage partitions wrong")
			}
		}
	}
	if _, err := New("nope", Config{}); err == nil {
		t.Fatal("unknown model accepted")
	}
	if _, err := ResNetCIFAR(21, Config{}); err == nil {
		t.Fatal("depth 21 accepted")
	}
}

// TestForwardBackward runs every model (ImageNet ResNets narrow, on 1x32x32
// input) forward and backward at batch 2 and checks the logits' shape and that
// every parameter received a gradient.
func TestForwardBackward(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"mlp", Config{}}, {"lenet5", Config{}}, {"conv2", Config{}},
		{"resnet20", Config{WidthMult: 0.5, Classes: 7}},
		{"resnet18", Config{WidthMult: 0.125, InChannels: 1, Height: 32, Width: 32}},
		{"resnet50", Config{WidthMult: 0.125, InChannels: 1, Height: 32, Width: 32}},
		{"resnet18", Config{WidthMult: 0.125, InChannels: 1, Height: 16, Width: 16, SmallStem: true}},
	} {
		m, err := New(c.name, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		ch, h, w := m.InputShape()
		x := engine.NewTensor[float32](2, ch, h, w)
		nn.Normal(x, 0, 1, rand.New(rand.NewPCG(1, 2)))
		tp := engine.NewTape[float32](2)
		y := m.Forward(tp, tp.Const(x), true)
		if !reflect.DeepEqual(y.Shape(), []int{2, m.NumClasses()}) {
			t.Fatalf("%s: logits %v", c.name, y.Shape())
		}
		if err := tp.Backward(tp.SumAll(tp.Square(y))); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params().All() {
			if p.V.Grad == nil {
				t.Errorf("%s: %s got no gradient", c.name, p.Name)
			}
		}
	}
}

// TestPartitionMapCoversEverything checks that every parameter and buffer of
// every model has a declared partition (or -1), that a batch norm goes with
// its conv (the stem's bn1 with conv1), a bias with its weight, and the
// dense-set rules.
func TestPartitionMapCoversEverything(t *testing.T) {
	for _, name := range Names() {
		m, err := New(name, Config{WidthMult: 0.25})
		if err != nil {
			t.Fatal(err)
		}
		ps := m.Params()
		var names []string
		for _, p := range ps.All() {
			names = append(names, p.Name)
		}
		for _, b := range ps.Buffers() {
			names = append(names, b.Name)
		}
		for _, n := range names {
			p := m.PartitionOf(n)
			if p < -1 || p >= m.NumPartitions() {
				t.Errorf("%s: %s in partition %d of %d", name, n, p, m.NumPartitions())
			}
			// A module's tensors share its weight's partition.
			if i := strings.LastIndex(n, "."); i > 0 {
				if w := ps.Get(n[:i] + ".weight"); w != nil && p != m.PartitionOf(w.Name) {
					t.Errorf("%s: %s in partition %d, its module's weight in %d", name, n, p, m.PartitionOf(w.Name))
				}
			}
		}
		if strings.HasPrefix(name, "resnet") {
			for _, n := range []string{"bn1.weight", "bn1.running_mean", "bn1.running_var", "bn1.bias"} {
				if got, want := m.PartitionOf(n), m.PartitionOf("conv1.weight"); got != want || got < 0 {
					t.Errorf("%s: stem %s in partition %d, conv1 in %d", name, n, got, want)
				}
			}
			if got := m.PartitionOf("layer2.0.bn2.running_var"); got != 1 {
				t.Errorf("%s: layer2.0.bn2.running_var in partition %d, want 1", name, got)
			}
		}
		first, err := m.DenseSet("first")
		if err != nil || len(first) != 1 || first[0] != m.DenseByDefault()[0] {
			t.Errorf("%s: DenseSet(first) = %v, %v", name, first, err)
		}
		if fl, _ := m.DenseSet("first-last"); !reflect.DeepEqual(fl, m.DenseByDefault()) {
			t.Errorf("%s: DenseSet(first-last) = %v", name, fl)
		}
		if none, _ := m.DenseSet("none"); len(none) != 0 {
			t.Errorf("%s: DenseSet(none) = %v", name, none)
		}
		if _, err := m.DenseSet("last"); err == nil {
			t.Errorf("%s: DenseSet(last) accepted", name)
		}
	}
}

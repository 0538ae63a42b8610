package experiments

import (
	"math"
	"testing"

	"github.com/gap-harness/gap/methods"
)

// TestResNet50WholeModelSparsity prunes ResNet-50 (1000 classes) to 90%
// uniform with the first conv kept dense (the imagenet table's rule) and
// checks the whole-model sparsity: within 0.5% of 90% of the prunable
// weights plus the dense stem, and far from what first-and-last dense
// (the 2M-weight fc kept) gives.
func TestResNet50WholeModelSparsity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a full ResNet-50")
	}
	model, err := buildModel(ModelSpec{Name: "resnet50", Width: 1, Classes: 1000, InputSize: 224, InputC: 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	whole := func(rule string) (prunableSp, modelSp float64, stem int) {
		dense, err := denseSet(model.Params(), rule)
		if err != nil {
			t.Fatal(err)
		}
		var ts []*methods.Tensor
		for _, p := range model.Params().Prunable() {
			m := make([]float32, p.Len())
			tn := &methods.Tensor{Name: p.Name, W: p.V.Value.Data(), M: m, Dense: dense[p.Name], Partition: p.Partition}
			if tn.Dense {
				stem += p.Len()
				for i := range m {
					m[i] = 1
				}
			} else {
				methods.MagnitudeMask(tn.W, 0.9, m)
			}
			ts = append(ts, tn)
		}
		return methods.OverallSparsity(ts), methods.ModelSparsity(ts), stem
	}
	total := 0
	for _, p := range model.Params().Prunable() {
		total += p.Len()
	}
	ps, ms, stem := whole("first")
	if stem != 64*3*7*7 {
		t.Fatalf("first-layer-only keeps %d weights dense, want the 7x7 stem's %d", stem, 64*3*7*7)
	}
	want := 0.9 * float64(total-stem) / float64(total)
	if math.Abs(ms-want) > 0.005 || math.Abs(ms-0.9) > 0.005 {
		t.Fatalf("whole-model sparsity %.4f, want %.4f (prunable-layer sparsity %.4f)", ms, want, ps)
	}
	if math.Abs(ps-0.9) > 1e-4 {
		t.Fatalf("prunable-layer sparsity %.5f, want 0.9", ps)
	}
	_, msFL, _ := whole("first-last")
	if ms-msFL < 0.05 {
		t.Fatalf("first-and-last dense gives %.4f, first-only %.4f: the fc should make a visible difference", msFL, ms)
	}
}

// TestMergeMovesBNWithItsConv merges four hand-made branches of a ResNet-18
// (every value of branch b equal to b) through the model's partition map:
// each batch norm (the stem's included) comes from the branch of its conv's
// partition, never averaged.
func TestMergeMovesBNWithItsConv(t *testing.T) {
	model, err := buildModel(ModelSpec{Name: "resnet18", Width: 1.0 / 16, Classes: 10, InputSize: 16, InputC: 1, SmallStem: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	sd := model.Params().StateDict()
	branches := make([]map[string][]float32, model.NumPartitions())
	for b := range branches {
		branches[b] = map[string][]float32{}
		for n, v := range sd {
			x := make([]float32, len(v))
			for i := range x {
				x[i] = float32(b)
			}
			branches[b][n] = x
		}
	}
	merged, _, err := methods.Merge(branches, model.PartitionOf, map[string]bool{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float32{
		"bn1.running_mean": 0, "bn1.weight": 0, "conv1.weight": 0,
		"layer2.0.bn1.running_var": 1, "layer2.0.downsample.1.bias": 1,
		"layer3.1.bn2.weight": 2, "layer4.0.bn1.running_mean": 3, "fc.bias": 3,
	} {
		if got := merged[name][0]; got != want {
			t.Errorf("%s merged from %g, want branch %g", name, got, want)
		}
	}
	for name, v := range merged {
		if v[0] != float32(int(v[0])) {
			t.Errorf("%s averaged (%g): it has no partition", name, v[0])
		}
	}
}

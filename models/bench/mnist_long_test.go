//go:build long

package bench

import (
	"math/rand/v2"
	"testing"

	imagedata "github.com/gap-harness/gap/datasets/image"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models"
)

// TestLeNet5MNISTOneEpoch trains LeNet-5 (torch_reference.py's) for one epoch
// of MNIST (Adam, learning rate cosine-annealed from 2e-3 to 0 over the epoch,
// batch 32, shuffled with a fixed seed) and requires at least 98% test
// accuracy. Run with `go test -tags long` (make test-long).
//
// PyTorch 1.13 with the same protocol (torch_reference.py's LeNet5, MNIST
// normalised with 0.1307/0.3081) reaches 98.72%, 98.77% and 98.68% for seeds
// 0, 1, 2; with a constant 1e-3 it gives 97.9-98.4%, too close to the bar.
func TestLeNet5MNISTOneEpoch(t *testing.T) {
	train, err := imagedata.LoadMNIST("", true)
	if err != nil {
		t.Fatalf("MNIST train: %v", err)
	}
	test, err := imagedata.LoadMNIST("", false)
	if err != nil {
		t.Fatalf("MNIST test: %v", err)
	}
	const batch = 32
	s, err := NewStepper("lenet5", models.Config{}, batch, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	perm := rng.Perm(train.Len())
	x := engine.NewTensor[float32](batch, 1, 28, 28)
	y := make([]int32, batch)
	steps := int64(len(perm) / batch)
	sched := optim.Cosine{Base: 2e-3, Floor: 0, Total: steps}
	for i := 0; i+batch <= len(perm); i += batch {
		s.Opt.SetLR(sched.LR(int64(i / batch)))
		if err := train.Batch(perm[i:i+batch], x.Data(), y, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StepOn(x, y); err != nil {
			t.Fatal(err)
		}
	}
	acc, err := accuracy(s.Model, test, 500)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LeNet-5, one MNIST epoch: test accuracy %.4f", acc)
	if acc < 0.98 {
		t.Fatalf("test accuracy %.4f < 0.98", acc)
	}
}

// accuracy evaluates m (eval mode, no gradient recording) on every example.
func accuracy(m models.Model, d *imagedata.Memory, batch int) (float64, error) {
	tp := engine.NewTape[float32](2)
	tp.SetNoGrad(true)
	c, h, w := m.InputShape()
	correct := 0
	for lo := 0; lo < d.Len(); lo += batch {
		n := min(batch, d.Len()-lo)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = lo + i
		}
		x := engine.NewTensor[float32](n, c, h, w)
		y := make([]int32, n)
		if err := d.Batch(idx, x.Data(), y, nil); err != nil {
			return 0, err
		}
		tp.Reset()
		logits := m.Forward(tp, tp.Const(x), false).Value
		k := logits.Dim(1)
		ld := logits.Data()
		for i := 0; i < n; i++ {
			best := 0
			for j := 1; j < k; j++ {
				if ld[i*k+j] > ld[i*k+best] {
					best = j
				}
			}
			if int32(best) == y[i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(d.Len()), nil
}

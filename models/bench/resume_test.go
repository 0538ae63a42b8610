package bench

import (
	"math"
	"testing"

	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models"
)

// TestResumeBitIdentical trains a narrow ResNet-20 (batch-norm buffers and
// masks included) 3 steps, checkpoints the model's state dict and Adam's state,
// trains 3 more; a second, differently seeded model loaded from the checkpoint
// must produce the same 3 losses bit for bit.
func TestResumeBitIdentical(t *testing.T) {
	cfg := models.Config{WidthMult: 0.25, Height: 8, Width: 8}
	a, err := NewStepper("resnet20", cfg, 4, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Model.Params().Get("layer2.0.conv1.weight")
	m := p.EnsureMask()
	for i := range m {
		m[i] = float32(i % 3 / 2)
	}
	for i := 0; i < 3; i++ {
		if _, err := a.Step(); err != nil {
			t.Fatal(err)
		}
	}
	names := a.Model.Params().Names()
	msd, osd := a.Model.Params().StateDict(), optim.StateDict(a.Opt, names)

	b, err := NewStepper("resnet20", cfg, 4, 2, 99)
	if err != nil {
		t.Fatal(err)
	}
	b.X, b.Y = a.X, a.Y
	if err := b.Model.Params().LoadStateDict(msd); err != nil {
		t.Fatal(err)
	}
	if err := optim.LoadStateDict(b.Opt, names, osd); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		la, err := a.Step()
		if err != nil {
			t.Fatal(err)
		}
		lb, err := b.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Float32bits(la) != math.Float32bits(lb) {
			t.Fatalf("step %d after resume: loss %v vs %v", i, la, lb)
		}
	}
}

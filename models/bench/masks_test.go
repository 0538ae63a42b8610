package bench

import (
	"testing"

	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/models"
)

// The optimisers can be handed to a sparsification method as its OptState.
var (
	_ methods.OptState = (*optim.Adam)(nil)
	_ methods.OptState = (*optim.SGD)(nil)
)

// TestMasksHold prunes half of every prunable MLP weight, zeroes the pruned
// elements' Adam state, trains a few steps, and checks that pruned weights stay
// exactly zero and kept ones move.
func TestMasksHold(t *testing.T) {
	s, err := NewStepper("mlp", models.Config{}, 8, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	ps := s.Model.Params()
	before := map[string][]float32{}
	for _, p := range ps.Prunable() {
		m := p.EnsureMask()
		for i := range m {
			m[i] = float32(i % 2)
		}
		s.Opt.ZeroPruned(p.Name, m)
	}
	ps.ApplyMasks()
	for _, p := range ps.Prunable() {
		before[p.Name] = append([]float32(nil), p.V.Value.Data()...)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Step(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ps.Prunable() {
		moved := 0
		for i, w := range p.V.Value.Data() {
			if p.Mask[i] == 0 && w != 0 {
				t.Fatalf("%s[%d] pruned but %v", p.Name, i, w)
			}
			if p.Mask[i] == 1 && w != before[p.Name][i] {
				moved++
			}
		}
		if moved == 0 {
			t.Fatalf("%s: no kept weight moved", p.Name)
		}
	}
}

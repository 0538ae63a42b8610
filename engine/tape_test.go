package engine

import "testing"

// TestBackwardReleasesSpentGradients checks that Backward returns each
// intermediate gradient to the pool once its node's backward has run: a
// chain of ten ops of one shape needs two gradient buffers in all, not ten;
// the gradient reaching the input is unchanged; and after Reset the pool
// holds every buffer once (a buffer listed twice would be handed out to two
// tensors).
func TestBackwardReleasesSpentGradients(t *testing.T) {
	const n, depth = 1000, 10
	tp := NewTape[float32](1)
	x := NewParam("x", NewTensor[float32](n))
	for i := range x.Value.data {
		x.Value.data[i] = float32(i%7) - 3
	}
	for step := 0; step < 2; step++ {
		tp.Reset()
		x.ZeroGrad()
		h := x
		for i := 0; i < depth; i++ {
			h = tp.Scale(h, 2)
		}
		if err := tp.Backward(tp.SumAll(h)); err != nil {
			t.Fatal(err)
		}
		for i, g := range x.Grad.data {
			if g != 1<<depth {
				t.Fatalf("step %d: dx[%d] = %g, want %d", step, i, g, 1<<depth)
			}
		}
		if got := len(tp.free[n]); got != 2 && step == 0 {
			t.Errorf("after the first backward, %d spent gradients of %d elements in the pool, want 2 (a chain holds two at a time)", got, n)
		}
		for _, v := range tp.nodes {
			if v.Grad != nil && v.looseGrad {
				t.Errorf("a node kept a released gradient")
			}
		}
	}
	tp.Reset()
	seen := map[*Tensor[float32]]bool{}
	for _, l := range tp.free {
		for _, b := range l {
			if seen[b] {
				t.Fatal("a buffer is in the pool twice")
			}
			seen[b] = true
		}
	}
	if got, want := len(tp.free[n]), depth+2; got != want {
		t.Errorf("pool holds %d buffers of %d elements after two steps, want %d (values and two gradients)", got, n, want)
	}
}

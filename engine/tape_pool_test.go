package engine

import "testing"

// TestTapePoolBounded checks the tape's buffer pool: a fixed-shape workload
// alternating between two step shapes (training and evaluation) gets the
// same buffers back every step and is never trimmed; a workload whose sizes
// change every step (token-based batches) keeps at most poolBound times its
// largest step in the pool instead of a buffer of every size it ever used.
func TestTapePoolBounded(t *testing.T) {
	tp := NewTape[float32](1)
	step := func(sizes ...int) []*float32 {
		var ptrs []*float32
		for _, n := range sizes {
			ptrs = append(ptrs, &tp.AllocUninit(n).data[0])
		}
		tp.Reset()
		return ptrs
	}
	train, eval := []int{4096, 4096, 1000, 64}, []int{8192, 300}
	first, firstEval := step(train...), step(eval...)
	for i := 0; i < 50; i++ {
		got, gotEval := step(train...), step(eval...)
		for j := range got {
			if !contains(first, got[j]) {
				t.Fatalf("step %d: training buffer %d not reused", i, j)
			}
		}
		for j := range gotEval {
			if !contains(firstEval, gotEval[j]) {
				t.Fatalf("step %d: evaluation buffer %d not reused", i, j)
			}
		}
	}
	tp = NewTape[float32](1)
	peak := 0
	for i := 0; i < 500; i++ {
		a, b := 1000+7*i, 3000+i
		step(a, a, b)
		peak = max(peak, 2*a+b)
		if tp.freeElems > poolBound*peak {
			t.Fatalf("step %d: %d elements pooled, bound %d", i, tp.freeElems, poolBound*peak)
		}
	}
	if n := len(tp.free); n > 3*poolBound {
		t.Fatalf("%d sizes kept after 500 steps of changing sizes", n)
	}
}

func contains(ps []*float32, p *float32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// TestTapePoolCountWithBackward checks the pool's element count against its
// contents after steps whose backward hands spent gradients back to the pool
// mid-pass (release): the bound of Reset reads that count, so a count that
// drifted would let the pool grow without bound.
func TestTapePoolCountWithBackward(t *testing.T) {
	tp := NewTape[float32](1)
	w := NewParam("w", NewTensor[float32](8, 8))
	for i := range w.Value.data {
		w.Value.data[i] = float32(i%5) / 7
	}
	for step := 0; step < 20; step++ {
		n := 3 + step%4 // the batch changes size from step to step
		x := tp.Const(NewTensor[float32](n, 8))
		for i := range x.Value.data {
			x.Value.data[i] = float32((i+step)%3) / 5
		}
		h := tp.Tanh(tp.MatMul(x, w))
		h = tp.Tanh(tp.MatMul(h, w))
		if err := tp.Backward(tp.SumAll(h)); err != nil {
			t.Fatal(err)
		}
		tp.Reset()
		sum := 0
		for _, l := range tp.free {
			for _, b := range l {
				sum += cap(b.data)
			}
		}
		if sum != tp.freeElems {
			t.Fatalf("step %d: pool holds %d elements, its count says %d", step, sum, tp.freeElems)
		}
	}
}

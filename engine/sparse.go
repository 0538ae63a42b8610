package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// KernelPolicy says which kernel SparseConv2D and SparseLinear run.
type KernelPolicy int

const (
	// KernelAuto times both kernels on the first call at each input shape and
	// thread count (a short calibration) and uses the faster from then on.
	KernelAuto KernelPolicy = iota
	// KernelSparse always runs the sparse (CSR) kernels.
	KernelSparse
	// KernelDense always runs the dense kernels on the masked weight.
	KernelDense
)

// String names the policy as the -kernels flags spell it.
func (p KernelPolicy) String() string {
	switch p {
	case KernelAuto:
		return "auto"
	case KernelSparse:
		return "sparse"
	case KernelDense:
		return "dense"
	}
	return fmt.Sprintf("KernelPolicy(%d)", int(p))
}

// ParseKernelPolicy parses "auto", "sparse" or "dense".
func ParseKernelPolicy(s string) (KernelPolicy, error) {
	for _, p := range []KernelPolicy{KernelAuto, KernelSparse, KernelDense} {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("engine: kernel policy %q (valid: auto, sparse, dense)", s)
}

// WeightGrad says what weight gradient a sparse op accumulates.
type WeightGrad int

const (
	// WeightGradDense accumulates the full dense dW, exactly what the dense op
	// on the masked weight gives (methods that grow weights by gradient need it).
	WeightGradDense WeightGrad = iota
	// WeightGradMasked accumulates dW only at the pattern's entries (the rest
	// of the gradient is left untouched), computed as sampled dot products.
	WeightGradMasked
)

// KernelChoice records the kernel a sparse op chose for one input shape and
// thread count, and the calibration that chose it.
type KernelChoice struct {
	// Layer is the weight's name; Op is "conv" or "linear".
	Layer, Op string
	// Input is the op's input shape; Threads the tape's thread count.
	Input   []int
	Threads int
	// Sparsity is the fraction of the weight outside the pattern.
	Sparsity float64
	// DenseSec and SparseSec are the calibration's best times (zero when
	// the choice was forced by the policy or set with SetChoice): of the
	// forward, and in training (an op that records its backward) of the
	// forward and the backward products that the choice implies.
	DenseSec, SparseSec float64
	// Sparse is true when the sparse kernels are used.
	Sparse bool
	// Policy is the policy that made the choice.
	Policy KernelPolicy
}

// SparseWeight is the fixed sparsity pattern of a conv or linear weight,
// prepared once (e.g. at the start of an epoch whose masks do not change) for
// SparseConv2D and SparseLinear. It holds the pattern in CSR form twice: W
// [O, C/G*KH*KW] per group for the forward product and W^T for the input
// gradient. Values are not stored: the ops read them from the weight at each
// call, so optimiser steps between calls need no refresh; weights outside the
// pattern are treated as zero. A SparseWeight may be shared by tapes running
// concurrently.
type SparseWeight[T Float] struct {
	// Name labels log lines and choices (the parameter's name).
	Name string
	// Policy selects the kernels (default KernelAuto).
	Policy KernelPolicy
	// WeightGrad selects the weight gradient (default WeightGradDense).
	WeightGrad WeightGrad
	// CalibrationReps is the number of timed forward runs of each kernel in a
	// calibration (default 3, interleaved, after one untimed run of each).
	CalibrationReps int

	shape    []int
	groups   int
	fwd, bwd csr

	busy atomic.Int64 // nanoseconds in the sparse kernels after calibration

	mu      sync.Mutex
	choices map[string]*KernelChoice
	order   []string
	offsets map[[4]int]*csr // direct-convolution patterns by padded geometry
}

// NewSparseWeight prepares the pattern of weight w ([O, C/groups, KH, KW] for
// a convolution with groups groups, [out, in] for a linear layer with groups
// = 1): the entries where mask is nonzero, or where w is nonzero when mask is
// nil. A mask of the wrong length, or groups that do not divide O, is an error.
func NewSparseWeight[T Float](name string, w *Tensor[T], mask []T, groups int) (*SparseWeight[T], error) {
	shape := w.Shape()
	if len(shape) < 2 {
		return nil, fmt.Errorf("engine: sparse weight %s: shape %v, want at least 2 dimensions", name, shape)
	}
	if groups < 1 || shape[0]%groups != 0 {
		return nil, fmt.Errorf("engine: sparse weight %s: %d groups do not divide %d outputs", name, groups, shape[0])
	}
	if mask != nil && len(mask) != w.Len() {
		return nil, fmt.Errorf("engine: sparse weight %s: mask has %d elements, weight %v has %d", name, len(mask), shape, w.Len())
	}
	if w.Len() >= 1<<31 {
		return nil, fmt.Errorf("engine: sparse weight %s: %d elements exceed int32 indices", name, w.Len())
	}
	o := shape[0]
	kg := 0
	if o > 0 {
		kg = w.Len() / o
	}
	og := o / groups
	keep := func(i int) bool {
		if mask != nil {
			return mask[i] != 0
		}
		return w.data[i] != 0
	}
	s := &SparseWeight[T]{Name: name, shape: slices.Clone(shape), groups: groups, choices: map[string]*KernelChoice{}}
	// Forward: row o, column j (inside o's group).
	f := csr{rows: o, cols: kg, ptr: make([]int32, o+1)}
	for r := 0; r < o; r++ {
		for j := 0; j < kg; j++ {
			if i := r*kg + j; keep(i) {
				f.col = append(f.col, int32(j))
				f.src = append(f.src, int32(i))
			}
		}
		f.ptr[r+1] = int32(len(f.col))
	}
	// Backward: per group the transpose, row gi*kg+j, column o inside the group.
	t := csr{rows: groups * kg, cols: og, ptr: make([]int32, groups*kg+1)}
	t.col = make([]int32, 0, len(f.col))
	t.src = make([]int32, 0, len(f.col))
	for gi := 0; gi < groups; gi++ {
		for j := 0; j < kg; j++ {
			for ol := 0; ol < og; ol++ {
				if i := (gi*og+ol)*kg + j; keep(i) {
					t.col = append(t.col, int32(ol))
					t.src = append(t.src, int32(i))
				}
			}
			t.ptr[gi*kg+j+1] = int32(len(t.col))
		}
	}
	s.fwd, s.bwd = f, t
	return s, nil
}

// Shape is the weight shape the pattern was prepared for.
func (s *SparseWeight[T]) Shape() []int { return s.shape }

// NNZ is the number of entries in the pattern.
func (s *SparseWeight[T]) NNZ() int { return s.fwd.nnz() }

// Sparsity is the fraction of the weight outside the pattern (1 for an empty
// weight).
func (s *SparseWeight[T]) Sparsity() float64 {
	n := 1
	for _, d := range s.shape {
		n *= d
	}
	if n == 0 {
		return 1
	}
	return 1 - float64(s.NNZ())/float64(n)
}

// SparseSeconds is the wall time spent so far in the sparse kernels (the
// forward product and the input gradient) after calibration.
func (s *SparseWeight[T]) SparseSeconds() float64 { return time.Duration(s.busy.Load()).Seconds() }

// timeSparse runs f and counts its wall time as time in the sparse kernels.
func (s *SparseWeight[T]) timeSparse(f func()) {
	t0 := time.Now()
	f()
	s.busy.Add(int64(time.Since(t0)))
}

// Choices returns the kernel choices made so far, in the order they were made.
func (s *SparseWeight[T]) Choices() []KernelChoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]KernelChoice, 0, len(s.order))
	for _, k := range s.order {
		c := *s.choices[k]
		c.Input = slices.Clone(c.Input)
		out = append(out, c)
	}
	return out
}

// SetChoice fixes the kernel for an input shape and thread count without
// calibrating (e.g. the choice a run recorded, so that a resumed run computes
// the same bits).
func (s *SparseWeight[T]) SetChoice(op string, input []int, threads int, sparse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := choiceKey(op, input, threads)
	if _, ok := s.choices[k]; !ok {
		s.order = append(s.order, k)
	}
	s.choices[k] = &KernelChoice{Layer: s.Name, Op: op, Input: slices.Clone(input), Threads: threads,
		Sparsity: s.Sparsity(), Sparse: sparse, Policy: s.Policy}
}

// calibrationBudget (seconds) and calibrationMaxReps bound the extra
// calibration runs of short ops.
const (
	calibrationBudget  = 2e-3
	calibrationMaxReps = 25
)

// chosen reports whether a kernel choice exists for this input and thread
// count (the op will not calibrate).
func (s *SparseWeight[T]) chosen(op string, input []int, threads int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.choices[choiceKey(op, input, threads)]
	return ok
}

func choiceKey(op string, input []int, threads int) string {
	return fmt.Sprintf("%s %v t%d", op, input, threads)
}

// choose returns whether the sparse kernel runs for this input and thread
// count, calibrating on first use under KernelAuto: each kernel runs once
// untimed and CalibrationReps times timed (interleaved), the faster best time
// wins, and the chosen kernel runs last so that its result is the one left in the output.
// Under the other policies the forced kernel runs once. The choice is logged.
//
// Calibration times calDense and calSparse when they are not nil (training:
// the forward and the backward products each kernel choice implies, see
// SparseConv2D), dense and sparse otherwise; dense and sparse compute the
// output.
func (s *SparseWeight[T]) choose(op string, input []int, threads int, dense, sparse, calDense, calSparse func()) bool {
	k := choiceKey(op, input, threads)
	s.mu.Lock()
	c, ok := s.choices[k]
	s.mu.Unlock()
	if ok {
		if c.Sparse {
			t0 := time.Now()
			sparse()
			s.busy.Add(int64(time.Since(t0)))
		} else {
			dense()
		}
		return c.Sparse
	}
	c = &KernelChoice{Layer: s.Name, Op: op, Input: slices.Clone(input), Threads: threads, Sparsity: s.Sparsity(), Policy: s.Policy}
	switch s.Policy {
	case KernelSparse:
		c.Sparse = true
		sparse()
	case KernelDense:
		dense()
	default:
		reps := s.CalibrationReps
		if reps < 1 {
			reps = 3
		}
		if calDense == nil || calSparse == nil {
			calDense, calSparse = dense, sparse
		}
		// Interleaved runs (sparse, dense, sparse, ...) so that both kernels
		// see the same machine load; the best time of each counts.
		calSparse()
		calDense()
		time1 := func(f func()) float64 {
			t0 := time.Now()
			f()
			return time.Since(t0).Seconds()
		}
		// Short ops get more runs (up to calibrationMaxReps, until each kernel
		// has run for about calibrationBudget), since a single run of a few
		// microseconds is easily disturbed on a shared machine.
		for i := 0; i < reps || (i < calibrationMaxReps && float64(i)*min(c.SparseSec, c.DenseSec) < calibrationBudget); i++ {
			ts, td := time1(calSparse), time1(calDense)
			if i == 0 || ts < c.SparseSec {
				c.SparseSec = ts
			}
			if i == 0 || td < c.DenseSec {
				c.DenseSec = td
			}
		}
		c.Sparse = c.SparseSec < c.DenseSec
		if c.Sparse {
			sparse()
		}
	}
	level := slog.LevelDebug // forced by the policy
	if s.Policy == KernelAuto {
		level = slog.LevelInfo
	}
	slog.Log(context.Background(), level, "engine: kernel choice", "layer", c.Layer, "op", op, "input", c.Input, "threads", threads,
		"sparsity", fmt.Sprintf("%.3f", c.Sparsity), "policy", c.Policy.String(), "sparse", c.Sparse,
		"dense_ms", fmt.Sprintf("%.3f", c.DenseSec*1e3), "sparse_ms", fmt.Sprintf("%.3f", c.SparseSec*1e3))
	s.mu.Lock()
	if _, ok := s.choices[k]; !ok {
		s.order = append(s.order, k)
		s.choices[k] = c
	}
	s.mu.Unlock()
	return c.Sparse
}

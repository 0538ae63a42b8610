// Package engine is the harness's compute engine: dense tensors, a define-by-run
// reverse-mode automatic differentiation tape, and the differentiable operations
// that models are built from.
//
// Everything is generic over the element type: float32 is what training uses,
// float64 is what the tests use to compare every operation with gorgonia and with
// finite differences.
//
// Memory: every intermediate value and gradient produced while recording is taken
// from the tape's pool and returned to it by Reset, so a training loop that calls
// Reset once per step allocates nothing in steady state. Parameters (see NewParam)
// own their values and gradients and are never pooled.
//
// Threads: a Tape carries its thread count; kernels split work into fixed,
// thread-count-determined chunks, and reductions combine chunk results in a fixed
// order, so a given seed, machine and thread count give bit-identical results.
package engine

// Package bench times the harness's training step on the models of
// /work/shared/bench/torch_reference.py, under the same protocol, so the two
// can be compared line for line: float32, Adam(lr=1e-3), cross-entropy on
// random N(0,1) inputs and uniform labels fixed for the run, warm-up steps,
// then the mean time of N steps. Step prints the same RESULT line as the
// PyTorch script.
//
// Threads: the engine's kernels split work over the tape's thread count and
// call a single-threaded BLAS per goroutine (engine/blas starts OpenBLAS with
// one thread), so the tape's thread count is the whole story; bench does not
// change OpenBLAS's setting.
package bench

package engine

import "sync"

// ParallelFor runs fn over [0, n) split into at most Threads() contiguous chunks of
// at least grain elements. The chunking depends only on n, grain and the thread
// count, so results that combine per-chunk partials in chunk order are deterministic.
func (tp *Tape[T]) ParallelFor(n, grain int, fn func(lo, hi int)) {
	Parallel(tp.threads, n, grain, fn)
}

// Parallel is ParallelFor for code that has a thread count but no tape.
func Parallel(threads, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	chunkedFor(Chunks(threads, n, grain), n, func(_, lo, hi int) { fn(lo, hi) })
}

// Chunks returns how many chunks Parallel splits n items into.
func Chunks(threads, n, grain int) int {
	if grain < 1 {
		grain = 1
	}
	c := (n + grain - 1) / grain
	if c > threads {
		c = threads
	}
	if c < 1 {
		c = 1
	}
	return c
}

// ChunkBounds returns the half-open range of chunk c when n items are split into
// chunks nearly equal parts.
func ChunkBounds(n, chunks, c int) (lo, hi int) {
	return n * c / chunks, n * (c + 1) / chunks
}

// chunkedFor runs fn(c, lo, hi) for each of the chunks parts of [0, n) (as split
// by ChunkBounds), chunk 0 on the calling goroutine, and waits for all. Kernels
// use the chunk index c to own per-chunk scratch and partial sums.
func chunkedFor(chunks, n int, fn func(c, lo, hi int)) {
	if chunks <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for c := 1; c < chunks; c++ {
		lo, hi := ChunkBounds(n, chunks, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(c, lo, hi)
		}()
	}
	lo, hi := ChunkBounds(n, chunks, 0)
	fn(0, lo, hi)
	wg.Wait()
}

package blas

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSgemm times single-threaded sgemm on ResNet-20's per-image conv
// shapes (m = out channels, n = output pixels, k = in channels*9) and reports
// GFLOP/s of process CPU time, which the other processes on a shared machine
// disturb less than wall time.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct {
		ta, tb  bool
		m, n, k int
	}{
		{false, false, 16, 1024, 144}, {false, true, 16, 144, 1024}, {true, false, 144, 1024, 16},
		{false, false, 64, 64, 576}, {false, true, 64, 576, 64}, {true, false, 576, 64, 64},
		{false, false, 16, 8192, 144}, {false, false, 64, 512, 576},
		{true, true, 1024, 16, 144}, {false, true, 144, 16, 1024}, {true, false, 16, 144, 1024},
		{false, true, 1024, 16, 144}, {false, false, 1024, 144, 16},
		{false, true, 144, 16, 8192}, {false, true, 288, 32, 2048}, {false, true, 288, 32, 256},
		{false, true, 576, 64, 64}, {false, true, 576, 64, 512}, {false, false, 64, 512, 576},
	} {
		b.Run(fmt.Sprintf("ta%v_tb%v_%dx%dx%d", s.ta, s.tb, s.m, s.n, s.k), func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bb {
				bb[i] = float32(i%5) - 2
			}
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			c0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				Gemm(s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			cpu := cpuTime() - c0
			b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/cpu.Seconds()/1e9, "cpuGFLOP/s")
		})
	}
}

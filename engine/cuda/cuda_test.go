package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// device opens GPU 0 or skips the test with the loader's message, naming
// what was looked for.
func device(t *testing.T) *Device {
	t.Helper()
	dv, err := Open(0)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			t.Skipf("no GPU: %v", err)
		}
		t.Fatal(err)
	}
	return dv
}

func TestCandidatesOrder(t *testing.T) {
	s := Search{Dirs: []string{"/opt/a"}, System: true, SitePackages: []string{"/sp"}}
	got := s.Candidates(nvrtcLib)
	if got[0] != "/opt/a/libnvrtc.so.13" || got[len(nvrtcLib.Sonames)] != "libnvrtc.so.13" ||
		got[2*len(nvrtcLib.Sonames)] != "/sp/nvidia/cuda_nvrtc/lib/libnvrtc.so.13" {
		t.Fatalf("order: %v", got)
	}
	// The driver never comes from a wheel.
	for _, c := range s.Candidates(driverLib) {
		if strings.Contains(c, "/sp/") {
			t.Fatalf("driver candidate from site-packages: %s", c)
		}
	}
}

func TestEnvironmentSearch(t *testing.T) {
	t.Setenv("GAP_CUDA_LIB_PATH", "/x:/y")
	s := DefaultSearch()
	if len(s.Dirs) != 2 || s.Dirs[0] != "/x" || s.Dirs[1] != "/y" {
		t.Fatalf("dirs %v", s.Dirs)
	}
}

// TestMissingLibraryError: with nothing to find, the error wraps
// ErrUnavailable and names the library, each path tried and the variable
// that adds folders.
func TestMissingLibraryError(t *testing.T) {
	dir := t.TempDir()
	// A file that is not a shared library: the loader's reason is reported.
	bad := filepath.Join(dir, "libcuda.so.1")
	if err := os.WriteFile(bad, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenWith(Search{Dirs: []string{dir}}, 0)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error %v does not wrap ErrUnavailable", err)
	}
	for _, want := range []string{"CUDA driver library not found", bad + " (", filepath.Join(dir, "libcuda.so") + " (absent)", "GAP_CUDA_LIB_PATH"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestPTXCacheKey(t *testing.T) {
	a := PTXCacheKey("src", []string{"-o1"}, "12.4")
	for _, b := range []string{PTXCacheKey("src2", []string{"-o1"}, "12.4"), PTXCacheKey("src", []string{"-o2"}, "12.4"), PTXCacheKey("src", []string{"-o1"}, "12.5")} {
		if a == b {
			t.Fatal("cache key ignores a change")
		}
	}
	if a != PTXCacheKey("src", []string{"-o1"}, "12.4") {
		t.Fatal("cache key not deterministic")
	}
}

func TestKernelSourceNamesEveryKernel(t *testing.T) {
	for _, k := range KernelNames {
		if !strings.Contains(KernelSource, `extern "C" __global__ void `+k+"(") {
			t.Errorf("kernel %s not in kernels.cu", k)
		}
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func upload(t *testing.T, dv *Device, v []float32) *Buffer {
	t.Helper()
	b, err := dv.Alloc(len(v))
	if err != nil {
		t.Fatal(err)
	}
	if err := dv.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func download(t *testing.T, dv *Device, b *Buffer) []float32 {
	t.Helper()
	if err := dv.Sync(); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, b.Len())
	if err := dv.Download(v, b); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestKernelsMatchCPU runs each elementwise kernel on the GPU against its
// CPU twin: bit-equal (no FMA contraction: --fmad=false, one op order).
func TestKernelsMatchCPU(t *testing.T) {
	dv := device(t)
	t.Logf("device: %+v", dv.Info())
	mod, err := dv.LoadKernels("kernels.cu", KernelSource)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 100003
	a, b, m := randVec(r, n), randVec(r, n), make([]float32, n)
	for i := range m {
		if r.IntN(10) < 9 {
			m[i] = 1
		}
	}
	da, db, dm := upload(t, dv, a), upload(t, dv, b), upload(t, dv, m)
	out, _ := dv.Alloc(n)
	check := func(name string, got, want []float32) {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %v, CPU %v", name, i, got[i], want[i])
			}
		}
	}
	if err := mod.Launch("add_f32", n, int32(n), da, db, out); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, n)
	for i := range want {
		want[i] = a[i] + b[i]
	}
	check("add", download(t, dv, out), want)
	if err := mod.Launch("relu_f32", n, int32(n), da, out); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = float32(math.Max(float64(a[i]), 0))
	}
	check("relu", download(t, dv, out), want)
	dx := upload(t, dv, b) // accumulate into b
	if err := mod.Launch("relu_bwd_f32", n, int32(n), da, da, dx); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = b[i]
		if a[i] > 0 {
			want[i] += a[i]
		}
	}
	check("relu_bwd", download(t, dv, dx), want)
	w := upload(t, dv, a)
	if err := mod.Launch("mask_apply_f32", n, int32(n), w, dm); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = a[i] * m[i]
	}
	check("mask_apply", download(t, dv, w), want)
	// Three SGD steps, Nesterov, against the CPU formula.
	wc, buf := append([]float32{}, a...), make([]float32, n)
	wg := upload(t, dv, a)
	bg, _ := dv.Alloc(n)
	const lr, mom, wd = 0.1, 0.9, 5e-4
	for s := 0; s < 3; s++ {
		if err := mod.Launch("sgd_f32", n, int32(n), wg, db, bg, float32(lr), float32(mom), float32(wd), int32(1)); err != nil {
			t.Fatal(err)
		}
		for i := range wc {
			gi := b[i] + float32(wd)*wc[i]
			bb := float32(mom)*buf[i] + gi
			buf[i] = bb
			wc[i] -= float32(lr) * (gi + float32(mom)*bb)
		}
	}
	check("sgd", download(t, dv, wg), wc)
}

// TestGemmMatchesCPU checks cuBLAS SGEMM with every transpose against a
// float64 CPU product (relative tolerance 1e-5: cuBLAS sums in its own order).
func TestGemmMatchesCPU(t *testing.T) {
	dv := device(t)
	r := rand.New(rand.NewPCG(3, 4))
	const m, n, k = 67, 45, 129
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		a, b := randVec(r, m*k), randVec(r, k*n)
		at := func(i, p int) float64 { // op(A)[i,p]
			if tr[0] {
				return float64(a[p*m+i])
			}
			return float64(a[i*k+p])
		}
		bt := func(p, j int) float64 {
			if tr[1] {
				return float64(b[j*k+p])
			}
			return float64(b[p*n+j])
		}
		da, db := upload(t, dv, a), upload(t, dv, b)
		dc, _ := dv.Alloc(m * n)
		if err := dv.Gemm(tr[0], tr[1], m, n, k, 1, da, db, 0, dc); err != nil {
			t.Fatal(err)
		}
		got := download(t, dv, dc)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s, abs float64
				for p := 0; p < k; p++ {
					s += at(i, p) * bt(p, j)
					abs += math.Abs(at(i, p) * bt(p, j))
				}
				if math.Abs(float64(got[i*n+j])-s) > 1e-5*abs+1e-6 {
					t.Fatalf("trans %v: C[%d,%d] = %v, want %v", tr, i, j, got[i*n+j], s)
				}
			}
		}
	}
}

// TestWheelLayouts: a library in CUDA 13's shared wheel folder
// (nvidia/cu13/lib) is found after the per-library folder, and the
// toolkit folders come between the system loader and the wheels.
func TestWheelLayouts(t *testing.T) {
	sp := t.TempDir()
	lib := filepath.Join(sp, "nvidia", "cu13", "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "libcublas.so.13"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := Search{System: true, Toolkit: []string{"/tk"}, SitePackages: []string{sp}}
	got := s.Candidates(cublasLib)
	idx := func(p string) int {
		for i, c := range got {
			if c == p {
				return i
			}
		}
		return -1
	}
	shared := filepath.Join(lib, "libcublas.so.13")
	perLib := filepath.Join(sp, "nvidia", "cublas", "lib", "libcublas.so.13")
	sys, tk := idx("libcublas.so.13"), idx("/tk/libcublas.so.13")
	if sys < 0 || tk < 0 || idx(perLib) < 0 || idx(shared) < 0 || !(sys < tk && tk < idx(perLib) && idx(perLib) < idx(shared)) {
		t.Fatalf("order system %d, toolkit %d, per-library wheel %d, shared wheel %d: %v", sys, tk, idx(perLib), idx(shared), got)
	}
	for _, c := range s.Candidates(driverLib) {
		if strings.HasPrefix(c, "/tk") {
			t.Fatalf("driver candidate from the toolkit folder: %s", c)
		}
	}
}

// TestGemmDeterministic: the same product twice on one device is bit-equal
// (the harness's runs on one GPU must repeat bit for bit).
func TestGemmDeterministic(t *testing.T) {
	dv := device(t)
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 256, 784, 576 // a ResNet-50 3x3 convolution as a GEMM, small batch
	da, db := upload(t, dv, randVec(r, m*k)), upload(t, dv, randVec(r, k*n))
	var first []float32
	for rep := 0; rep < 3; rep++ {
		dc, err := dv.Alloc(m * n)
		if err != nil {
			t.Fatal(err)
		}
		if err := dv.Gemm(false, true, m, n, k, 1, da, db, 0, dc); err != nil {
			t.Fatal(err)
		}
		got := download(t, dv, dc)
		if first == nil {
			first = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
				t.Fatalf("repeat %d: C[%d] = %v, first run %v", rep, i, got[i], first[i])
			}
		}
	}
}

// BenchmarkGemm times a square float32 SGEMM through this package's cuBLAS
// binding and reports TFLOP/s (2n^3 per product).
func BenchmarkGemm(b *testing.B) {
	dv, err := Open(0)
	if err != nil {
		b.Skipf("no GPU: %v", err)
	}
	for _, n := range []int{1024, 4096, 8192} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 8))
			a, err1 := dv.Alloc(n * n)
			c, err2 := dv.Alloc(n * n)
			if err := firstErr(err1, err2, dv.Upload(a, randVec(r, n*n))); err != nil {
				b.Fatal(err)
			}
			defer dv.Free(a)
			defer dv.Free(c)
			if err := firstErr(dv.Gemm(false, false, n, n, n, 1, a, a, 0, c), dv.Sync()); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := dv.Gemm(false, false, n, n, n, 1, a, a, 0, c); err != nil {
					b.Fatal(err)
				}
			}
			if err := dv.Sync(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
		})
	}
}

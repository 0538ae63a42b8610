package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// The CUDA source run on the CPU: testdata/emu compiles kernels.cu and nn.cu
// with g++ against a header of stand-ins for the CUDA built-ins (a block's
// threads are fibers switched at __syncthreads), and Ops, given this
// emulator, sends every launch there with its real arguments. The
// conformance tests then check the kernels' actual source, the Go argument
// lists against the kernels' parameter types, and the grid sizes, without a
// GPU. Skipped where g++ is missing.

var buildEmu = sync.OnceValues(func() (string, error) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		return "", fmt.Errorf("g++ not found: %w", err)
	}
	dir, err := os.MkdirTemp("", "gap-cuda-emu")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "emu")
	out, err := exec.Command(gxx, "-std=c++17", "-O1", "-w", "-o", bin, "testdata/emu/emu.cpp").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("g++: %v\n%s", err, out)
	}
	return bin, nil
})

type cppEmu struct {
	bin, dir string
}

func (e *cppEmu) launch(src, fn string, grid, block [3]int, args []any) error {
	if grid[1] != 1 || grid[2] != 1 || block[1] != 1 || block[2] != 1 {
		return fmt.Errorf("emu: %s: only 1-D grids", fn)
	}
	cmd := []string{fn, strconv.Itoa(grid[0]), strconv.Itoa(block[0])}
	var files []string
	var bufs []*Buffer
	for i, a := range args {
		switch v := a.(type) {
		case *Buffer:
			if v == nil || v.host == nil {
				return fmt.Errorf("emu: %s: argument %d is not a host buffer", fn, i)
			}
			p := filepath.Join(e.dir, fmt.Sprintf("b%d", i))
			raw := make([]byte, 4*len(v.host))
			for j, x := range v.host {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(x))
			}
			if err := os.WriteFile(p, raw, 0o644); err != nil {
				return err
			}
			cmd = append(cmd, "b:"+p)
			files, bufs = append(files, p), append(bufs, v)
		case int32:
			cmd = append(cmd, "i:"+strconv.Itoa(int(v)))
		case float32:
			cmd = append(cmd, "f:"+strconv.FormatUint(uint64(math.Float32bits(v)), 10))
		default:
			return fmt.Errorf("emu: %s: argument %d has type %T", fn, i, a)
		}
	}
	if out, err := exec.Command(e.bin, cmd...).CombinedOutput(); err != nil {
		return fmt.Errorf("emu %v: %v\n%s", cmd, err, out)
	}
	for i, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for j := range bufs[i].host {
			bufs[i].host[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
	}
	return nil
}

func (e *cppEmu) gemm(transA, transB bool, m, n, k int, alpha float32, a, b *Buffer, beta float32, c *Buffer) error {
	if alpha != 1 {
		return fmt.Errorf("emu: gemm with alpha %v", alpha)
	}
	for _, x := range []struct {
		b *Buffer
		n int
	}{{a, m * k}, {b, k * n}, {c, m * n}} {
		if err := need("emu gemm", x.b, x.n); err != nil {
			return err
		}
	}
	gemmHost(transA, transB, m, n, k, a.host, b.host, beta, c.host)
	return nil
}

func (e *cppEmu) gemmSlices(m, n, chunk, ld, count int, dy, col, work *Buffer) error {
	if count*chunk > ld || dy.n < m*ld || col.n < n*ld || work.n < count*m*n {
		return fmt.Errorf("emu: weight slices out of range")
	}
	for s := 0; s < count; s++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var v float64
				for p := s * chunk; p < (s+1)*chunk; p++ {
					v += float64(dy.host[i*ld+p]) * float64(col.host[j*ld+p])
				}
				work.host[s*m*n+i*n+j] = float32(v)
			}
		}
	}
	return nil
}

// emuOps is Ops over host buffers with every launch run by the emulator.
func emuOps(t *testing.T) *Ops {
	t.Helper()
	if testing.Short() {
		t.Skip("the CUDA emulator is skipped in -short mode (g++ build and fiber-run kernels: ~20 s)")
	}
	bin, err := buildEmu()
	if err != nil {
		t.Skipf("no CUDA emulator: %v", err)
	}
	return &Ops{emu: &cppEmu{bin: bin, dir: t.TempDir()}}
}

// TestEmulatorChecksArguments: a launch whose arguments do not match the
// kernel's parameters is refused by the emulator (so the conformance tests
// on it check the Go argument lists).
func TestEmulatorChecksArguments(t *testing.T) {
	o := emuOps(t)
	b, _ := Host{}.Alloc(4)
	if err := o.launchN("elem", "relu_f32", 4, int32(4), b, b); err != nil {
		t.Fatalf("good launch: %v", err)
	}
	for _, bad := range [][]any{{int32(4), b}, {float32(4), b, b}, {int32(4), int32(1), b}} {
		if err := o.launchN("elem", "relu_f32", 4, bad...); err == nil {
			t.Errorf("launch with %v accepted", bad)
		}
	}
}

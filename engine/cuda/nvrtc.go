package cuda

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"github.com/gap-harness/gap/internal/atomicfile"
)

type nvrtcAPI struct {
	file                string
	nvrtcVersion        func(major, minor *int32) result
	nvrtcCreateProgram  func(prog *uintptr, src, name string, nh int32, headers, includes unsafe.Pointer) result
	nvrtcCompileProgram func(prog uintptr, nopt int32, opts unsafe.Pointer) result
	nvrtcGetPTXSize     func(prog uintptr, n *uint64) result
	nvrtcGetPTX         func(prog uintptr, ptx *byte) result
	nvrtcGetLogSize     func(prog uintptr, n *uint64) result
	nvrtcGetLog         func(prog uintptr, log *byte) result
	nvrtcDestroyProgram func(prog *uintptr) result
}

func loadNVRTC(s Search) (*nvrtcAPI, error) {
	h, file, err := s.open(nvrtcLib)
	if err != nil {
		return nil, err
	}
	n := &nvrtcAPI{file: file}
	for _, e := range []struct {
		name string
		f    any
	}{
		{"nvrtcVersion", &n.nvrtcVersion}, {"nvrtcCreateProgram", &n.nvrtcCreateProgram},
		{"nvrtcCompileProgram", &n.nvrtcCompileProgram}, {"nvrtcGetPTXSize", &n.nvrtcGetPTXSize},
		{"nvrtcGetPTX", &n.nvrtcGetPTX}, {"nvrtcGetProgramLogSize", &n.nvrtcGetLogSize},
		{"nvrtcGetProgramLog", &n.nvrtcGetLog}, {"nvrtcDestroyProgram", &n.nvrtcDestroyProgram},
	} {
		if err := sym(h, file, e.name, e.f); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n *nvrtcAPI) version() string {
	var maj, min int32
	if n.nvrtcVersion(&maj, &min) != 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", maj, min)
}

// compile turns CUDA C source into PTX for the given options; the error
// carries NVRTC's log.
func (n *nvrtcAPI) compile(name, src string, opts []string) ([]byte, error) {
	var prog uintptr
	if r := n.nvrtcCreateProgram(&prog, src, name, 0, nil, nil); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcCreateProgram(%s): error %d", name, r)
	}
	defer n.nvrtcDestroyProgram(&prog)
	// NVRTC wants char**: C strings in memory the GC won't move or free
	// during the call, pinned for its duration.
	cstrs := make([][]byte, len(opts))
	ptrs := make([]*byte, len(opts))
	var pin runtime.Pinner
	defer pin.Unpin()
	for i, o := range opts {
		cstrs[i] = append([]byte(o), 0)
		ptrs[i] = &cstrs[i][0]
		pin.Pin(ptrs[i])
	}
	var optp unsafe.Pointer
	if len(ptrs) > 0 {
		optp = unsafe.Pointer(&ptrs[0])
	}
	if r := n.nvrtcCompileProgram(prog, int32(len(opts)), optp); r != 0 {
		var ls uint64
		log := ""
		if n.nvrtcGetLogSize(prog, &ls) == 0 && ls > 1 {
			b := make([]byte, ls)
			if n.nvrtcGetLog(prog, &b[0]) == 0 {
				log = string(b[:ls-1])
			}
		}
		return nil, fmt.Errorf("cuda: compiling %s with %v: NVRTC error %d:\n%s", name, opts, r, log)
	}
	var size uint64
	if r := n.nvrtcGetPTXSize(prog, &size); r != 0 || size == 0 {
		return nil, fmt.Errorf("cuda: nvrtcGetPTXSize(%s): error %d", name, r)
	}
	ptx := make([]byte, size)
	if r := n.nvrtcGetPTX(prog, &ptx[0]); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcGetPTX(%s): error %d", name, r)
	}
	return ptx, nil
}

// PTXCacheKey is the cache key of a compilation: a SHA-256 of the source,
// the options and the NVRTC version, so a changed kernel or compiler never
// reuses stale PTX.
func PTXCacheKey(src string, opts []string, nvrtcVersion string) string {
	h := sha256.New()
	fmt.Fprintf(h, "nvrtc %s\n", nvrtcVersion)
	for _, o := range opts {
		fmt.Fprintf(h, "opt %s\n", o)
	}
	h.Write([]byte(src))
	return hex.EncodeToString(h.Sum(nil))
}

// cacheDir is $GAP_PTX_CACHE, else <user cache>/gap-harness/ptx.
func cacheDir() string {
	if v := os.Getenv("GAP_PTX_CACHE"); v != "" {
		return v
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "gap-harness", "ptx")
}

// writeFileAtomic writes b to path atomically (package atomicfile).
func writeFileAtomic(path string, b []byte) error {
	return atomicfile.WriteBytes(path, b)
}

// Module is a loaded set of kernels.
type Module struct {
	dv  *Device
	mod uintptr
	fns map[string]uintptr
}

// LoadKernels compiles src (CUDA C, extern "C" kernels) for this device's
// architecture, using the PTX cache, and loads it.
func (dv *Device) LoadKernels(name, src string) (*Module, error) {
	maj, min := 0, 0
	fmt.Sscanf(dv.info.ComputeCapability, "%d.%d", &maj, &min)
	opts := []string{fmt.Sprintf("--gpu-architecture=compute_%d%d", maj, min), "--fmad=false", "-default-device"}
	key := PTXCacheKey(src, opts, dv.info.NVRTCVersion)
	path := filepath.Join(cacheDir(), key+".ptx")
	ptx, err := os.ReadFile(path)
	if err != nil {
		if ptx, err = dv.nvrtc.compile(name, src, opts); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(path, ptx); err != nil {
			return nil, fmt.Errorf("cuda: PTX cache %s: %w", path, err)
		}
	}
	if len(ptx) == 0 || ptx[len(ptx)-1] != 0 {
		ptx = append(ptx, 0)
	}
	unlock, err := dv.bind()
	if err != nil {
		return nil, err
	}
	defer unlock()
	m := &Module{dv: dv, fns: map[string]uintptr{}}
	if err := dv.d.check("cuModuleLoadData("+name+")", dv.d.cuModuleLoadData(&m.mod, unsafe.Pointer(&ptx[0]))); err != nil {
		return nil, err
	}
	return m, nil
}

// Launch runs kernel fn over a 1-D grid covering n threads (256 a block).
// args are the kernel's parameters in order: *Buffer (passed as its device
// pointer), int32, uint32, uint64 or float32.
func (m *Module) Launch(fn string, n int, args ...any) error {
	if n == 0 {
		return nil
	}
	const block = 256
	return m.LaunchGrid(fn, [3]int{(n + block - 1) / block, 1, 1}, [3]int{block, 1, 1}, args...)
}

// LaunchGrid runs kernel fn over an explicit grid of blocks (grid and block
// sizes in x, y, z; no dynamic shared memory). args are as Launch's. The
// error names the call and the kernel.
func (m *Module) LaunchGrid(fn string, grid, block [3]int, args ...any) error {
	for i := range 3 {
		if grid[i] < 1 || block[i] < 1 || grid[i] > 1<<31-1 || block[i] > 1024 {
			return fmt.Errorf("cuda: launch %s: grid %v, block %v out of range", fn, grid, block)
		}
	}
	unlock, err := m.dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	f, ok := m.fns[fn]
	if !ok {
		if err := m.dv.d.check("cuModuleGetFunction("+fn+")", m.dv.d.cuModuleGetFunction(&f, m.mod, fn)); err != nil {
			return err
		}
		m.fns[fn] = f
	}
	// kernelParams is void**: one pointer to each argument's value.
	vals := make([]uint64, len(args)+1)
	params := make([]unsafe.Pointer, len(args)+1)
	for i, a := range args {
		switch v := a.(type) {
		case *Buffer:
			if v == nil || v.host != nil {
				return fmt.Errorf("cuda: launch %s: argument %d is a nil or host buffer", fn, i)
			}
			vals[i] = v.ptr
		case int32:
			*(*int32)(unsafe.Pointer(&vals[i])) = v
		case uint32:
			*(*uint32)(unsafe.Pointer(&vals[i])) = v
		case uint64:
			vals[i] = v
		case float32:
			*(*float32)(unsafe.Pointer(&vals[i])) = v
		default:
			return fmt.Errorf("cuda: launch %s: argument %d has unsupported type %T", fn, i, a)
		}
		params[i] = unsafe.Pointer(&vals[i])
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&vals[0])
	pin.Pin(&params[0])
	start := time.Now()
	if err := m.dv.d.check("cuLaunchKernel("+fn+")", m.dv.d.cuLaunchKernel(f, uint32(grid[0]), uint32(grid[1]), uint32(grid[2]),
		uint32(block[0]), uint32(block[1]), uint32(block[2]), 0, 0, unsafe.Pointer(&params[0]), nil)); err != nil {
		return err
	}
	return m.dv.afterLaunch("kernel "+fn, fn, start)
}

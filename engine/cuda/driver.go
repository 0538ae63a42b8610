package cuda

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
	"unsafe"
)

// result is a CUresult / nvrtcResult / cublasStatus_t.
type result int32

// driverAPI holds the CUDA driver entry points the backend uses (the _v2
// names are the 64-bit ABI the headers map the plain names to).
type driverAPI struct {
	file                  string
	cuInit                func(flags uint32) result
	cuDriverGetVersion    func(v *int32) result
	cuDeviceGetCount      func(n *int32) result
	cuDeviceGet           func(dev *int32, ordinal int32) result
	cuDeviceGetName       func(name *byte, n int32, dev int32) result
	cuDeviceTotalMem      func(bytes *uint64, dev int32) result
	cuDeviceGetAttribute  func(v *int32, attr int32, dev int32) result
	cuDevicePrimaryCtxRet func(ctx *uintptr, dev int32) result
	cuCtxSetCurrent       func(ctx uintptr) result
	cuCtxSynchronize      func() result
	cuMemAlloc            func(p *uint64, bytes uint64) result
	cuMemFree             func(p uint64) result
	cuMemcpyHtoD          func(dst uint64, src unsafe.Pointer, bytes uint64) result
	cuMemcpyDtoH          func(dst unsafe.Pointer, src uint64, bytes uint64) result
	cuMemsetD8            func(dst uint64, v uint8, n uint64) result
	cuModuleLoadData      func(mod *uintptr, image unsafe.Pointer) result
	cuModuleGetFunction   func(fn *uintptr, mod uintptr, name string) result
	cuLaunchKernel        func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) result
	cuGetErrorString      func(r result, s **byte) result
}

func loadDriver(s Search) (*driverAPI, error) {
	h, file, err := s.open(driverLib)
	if err != nil {
		return nil, err
	}
	d := &driverAPI{file: file}
	for _, e := range []struct {
		name string
		f    any
	}{
		{"cuInit", &d.cuInit}, {"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuDeviceGetCount", &d.cuDeviceGetCount}, {"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName}, {"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRet}, {"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuCtxSynchronize", &d.cuCtxSynchronize}, {"cuMemAlloc_v2", &d.cuMemAlloc},
		{"cuMemFree_v2", &d.cuMemFree}, {"cuMemcpyHtoD_v2", &d.cuMemcpyHtoD},
		{"cuMemcpyDtoH_v2", &d.cuMemcpyDtoH}, {"cuMemsetD8_v2", &d.cuMemsetD8},
		{"cuModuleLoadData", &d.cuModuleLoadData}, {"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuLaunchKernel", &d.cuLaunchKernel}, {"cuGetErrorString", &d.cuGetErrorString},
	} {
		if err := sym(h, file, e.name, e.f); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// check turns a CUresult into an error naming the call and CUDA's message.
func (d *driverAPI) check(call string, r result) error {
	if r == 0 {
		return nil
	}
	var s *byte
	msg := "unknown error"
	if d.cuGetErrorString(r, &s) == 0 && s != nil {
		msg = goString(s)
	}
	return fmt.Errorf("cuda: %s: error %d (%s)", call, r, msg)
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
	}
	return string(b)
}

// Info describes the device for run records.
type Info struct {
	// Name is the GPU's marketing name ("NVIDIA H100 80GB HBM3").
	Name string
	// Ordinal is the device index.
	Ordinal int
	// MemoryBytes is its total memory.
	MemoryBytes uint64
	// ComputeCapability is "major.minor".
	ComputeCapability string
	// DriverVersion is the CUDA version the driver supports ("12.4").
	DriverVersion string
	// DriverLib, NVRTCLib and CublasLib are the files loaded.
	DriverLib, NVRTCLib, CublasLib string
	// NVRTCVersion is the NVRTC library's version ("12.4").
	NVRTCVersion string
}

// Device is one GPU with its primary context, bound to the calling OS
// thread whenever it is used (Device methods lock the goroutine to its
// thread for the duration of a call).
type Device struct {
	d     *driverAPI
	nvrtc *nvrtcAPI
	blas  *cublasAPI
	dev   int32
	ctx   uintptr
	info  Info
	cache string
	mods  map[string]uintptr
	blasH uintptr
	// syncEach ($GAP_CUDA_SYNC=1) waits after every launch and GEMM, so an
	// asynchronous fault is reported with the kernel that caused it.
	syncEach bool
	// prof, when set (Profile), collects the time of each kernel and GEMM
	// kind, each waited for.
	prof map[string]*ProfileEntry
}

// ProfileEntry is the time one kind of launch took while profiling.
type ProfileEntry struct {
	// Name is the kernel's name or "sgemm NN" (the transposes).
	Name string
	// Calls and Time: how many launches and their total wall time, each
	// measured from its launch to the device's idle.
	Calls int
	Time  time.Duration
}

// Profile switches per-launch timing on (every launch then waits for the
// device: slower, for finding where time goes) or off, and returns the
// entries collected while it was on, slowest first.
func (dv *Device) Profile(on bool) []ProfileEntry {
	var out []ProfileEntry
	for _, e := range dv.prof {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time > out[j].Time })
	dv.prof = nil
	if on {
		dv.prof = map[string]*ProfileEntry{}
	}
	return out
}

const (
	attrCCMajor = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	attrCCMinor = 76
)

// Open loads the libraries with DefaultSearch and opens device ordinal. The
// error wraps ErrUnavailable when there is no driver, no NVRTC, no cuBLAS or
// no device, naming what was looked for.
func Open(ordinal int) (*Device, error) { return OpenWith(DefaultSearch(), ordinal) }

// OpenWith is Open with an explicit library search.
func OpenWith(s Search, ordinal int) (*Device, error) {
	d, err := loadDriver(s)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return nil, fmt.Errorf("%w: %v (driver %s loaded, but no usable GPU)", ErrUnavailable, err, d.file)
	}
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return nil, err
	}
	if ordinal < 0 || int32(ordinal) >= n {
		return nil, fmt.Errorf("%w: device %d requested, %d present", ErrUnavailable, ordinal, n)
	}
	dev := &Device{d: d, mods: map[string]uintptr{}, syncEach: os.Getenv("GAP_CUDA_SYNC") == "1"}
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev.dev, int32(ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev.dev)); err != nil {
		return nil, err
	}
	var mem uint64
	var ver, maj, min int32
	if err := firstErr(
		d.check("cuDeviceTotalMem", d.cuDeviceTotalMem(&mem, dev.dev)),
		d.check("cuDriverGetVersion", d.cuDriverGetVersion(&ver)),
		d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&maj, attrCCMajor, dev.dev)),
		d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&min, attrCCMinor, dev.dev)),
		d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRet(&dev.ctx, dev.dev)),
	); err != nil {
		return nil, err
	}
	dev.info = Info{Name: goString(&name[0]), Ordinal: ordinal, MemoryBytes: mem,
		ComputeCapability: fmt.Sprintf("%d.%d", maj, min),
		DriverVersion:     fmt.Sprintf("%d.%d", ver/1000, (ver%1000)/10), DriverLib: d.file}
	if dev.nvrtc, err = loadNVRTC(s); err != nil {
		return nil, err
	}
	dev.info.NVRTCLib, dev.info.NVRTCVersion = dev.nvrtc.file, dev.nvrtc.version()
	if dev.blas, err = loadCublas(s); err != nil {
		return nil, err
	}
	dev.info.CublasLib = dev.blas.file
	return dev, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// afterLaunch waits for the device when syncEach is set, naming what was
// launched in the error.
func (dv *Device) afterLaunch(what, kind string, start time.Time) error {
	if !dv.syncEach && dv.prof == nil {
		return nil
	}
	if err := dv.d.check("cuCtxSynchronize", dv.d.cuCtxSynchronize()); err != nil {
		return fmt.Errorf("after %s: %w", what, err)
	}
	if dv.prof != nil {
		e := dv.prof[kind]
		if e == nil {
			e = &ProfileEntry{Name: kind}
			dv.prof[kind] = e
		}
		e.Calls++
		e.Time += time.Since(start)
	}
	return nil
}

// Info returns the device's description.
func (dv *Device) Info() Info { return dv.info }

// bind makes the device's context current on this (locked) thread.
func (dv *Device) bind() (unlock func(), err error) {
	runtime.LockOSThread()
	if err := dv.d.check("cuCtxSetCurrent", dv.d.cuCtxSetCurrent(dv.ctx)); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return runtime.UnlockOSThread, nil
}

// Buffer is device memory of n float32 values.
type Buffer struct {
	ptr  uint64
	n    int
	host []float32 // a Host backend's buffer: its values in host memory
}

// Len is the number of float32 values.
func (b *Buffer) Len() int { return b.n }

// Alloc allocates n float32 values (zeroed).
func (dv *Device) Alloc(n int) (*Buffer, error) {
	unlock, err := dv.bind()
	if err != nil {
		return nil, err
	}
	defer unlock()
	b := &Buffer{n: n}
	size := uint64(max(n, 1)) * 4
	if err := dv.d.check("cuMemAlloc", dv.d.cuMemAlloc(&b.ptr, size)); err != nil {
		return nil, fmt.Errorf("alloc %d floats: %w", n, err)
	}
	if err := dv.d.check("cuMemsetD8", dv.d.cuMemsetD8(b.ptr, 0, size)); err != nil {
		return nil, err
	}
	return b, nil
}

// Free releases a buffer.
func (dv *Device) Free(b *Buffer) error {
	unlock, err := dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	return dv.d.check("cuMemFree", dv.d.cuMemFree(b.ptr))
}

// Upload copies src to the buffer (len(src) must equal b.Len()).
func (dv *Device) Upload(b *Buffer, src []float32) error { return copyIn(dv, b, src, "") }

// Download copies the buffer to dst (len(dst) must equal b.Len()).
func (dv *Device) Download(dst []float32, b *Buffer) error { return copyOut(dv, dst, b, "") }

// UploadInt32 copies int32 values (class labels, indices) into a buffer of
// the same length; kernels read it as int*.
func (dv *Device) UploadInt32(b *Buffer, src []int32) error { return copyIn(dv, b, src, " int32") }

// DownloadInt32 copies a buffer of int32 values (as a kernel wrote them through int*) to dst.
func (dv *Device) DownloadInt32(dst []int32, b *Buffer) error { return copyOut(dv, dst, b, " int32") }

// copyIn and copyOut move 4-byte values between host and device; kind
// names the values in the length error.
func copyIn[T float32 | int32](dv *Device, b *Buffer, src []T, kind string) error {
	if len(src) != b.n {
		return fmt.Errorf("cuda: upload of %d%s values into a buffer of %d", len(src), kind, b.n)
	}
	if b.n == 0 {
		return nil
	}
	unlock, err := dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	return dv.d.check("cuMemcpyHtoD", dv.d.cuMemcpyHtoD(b.ptr, unsafe.Pointer(&src[0]), uint64(b.n)*4))
}

func copyOut[T float32 | int32](dv *Device, dst []T, b *Buffer, kind string) error {
	if len(dst) != b.n {
		return fmt.Errorf("cuda: download of a buffer of %d values into %d%s", b.n, len(dst), kind)
	}
	if b.n == 0 {
		return nil
	}
	unlock, err := dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	return dv.d.check("cuMemcpyDtoH", dv.d.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), b.ptr, uint64(b.n)*4))
}

// Sync waits for every launched kernel to finish.
func (dv *Device) Sync() error {
	unlock, err := dv.bind()
	if err != nil {
		return err
	}
	defer unlock()
	return dv.d.check("cuCtxSynchronize", dv.d.cuCtxSynchronize())
}

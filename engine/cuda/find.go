package cuda

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ebitengine/purego"
)

// ErrUnavailable is wrapped by every error that means "no usable GPU or CUDA
// library here" (as opposed to a failure on a working device).
var ErrUnavailable = errors.New("cuda: not available")

// Library describes one shared library to find: its versioned sonames, most
// preferred first, and the folder of its pip wheel (site-packages/nvidia/DIR/lib).
type Library struct {
	// Name is what error messages call it ("CUDA driver", "NVRTC", "cuBLAS").
	Name string
	// Sonames are tried in order.
	Sonames []string
	// WheelDir is the package folder under site-packages/nvidia ("" = none:
	// the driver ships with the kernel module, never in a wheel).
	WheelDir string
}

// The libraries the backend loads.
var (
	driverLib = Library{Name: "CUDA driver", Sonames: []string{"libcuda.so.1", "libcuda.so"}}
	nvrtcLib  = Library{Name: "NVRTC", Sonames: []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}, WheelDir: "cuda_nvrtc"}
	cublasLib = Library{Name: "cuBLAS", Sonames: []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}, WheelDir: "cublas"}
)

// Search is where Find looks: extra folders first (from $GAP_CUDA_LIB_PATH),
// then the system loader's path, then the site-packages folders.
type Search struct {
	// Dirs are tried first, in order.
	Dirs []string
	// System says whether to try the bare sonames through the system loader.
	System bool
	// DriverDirs are where container runtimes mount the driver's library
	// (tried for the driver only, after the system loader).
	DriverDirs []string
	// Toolkit are the CUDA toolkit's library folders, tried after the
	// system loader (a toolkit installed outside the loader's path).
	Toolkit []string
	// SitePackages are Python site-packages folders holding nvidia/*/lib.
	SitePackages []string
}

// DefaultSearch reads $GAP_CUDA_LIB_PATH, adds the driver folders that
// container runtimes mount (/usr/local/nvidia/lib64, WSL's /usr/lib/wsl/lib)
// and the CUDA toolkit's library folders (/usr/local/cuda/lib64 and its
// targets folder) after the system loader, and lists the site-packages folders of the usual Python
// installations ($VIRTUAL_ENV, the environment of the python3 on $PATH,
// /usr/lib/python3*, /usr/local/lib/python3*, ~/.local/lib/python3*).
func DefaultSearch() Search {
	s := Search{System: true,
		DriverDirs: []string{"/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"},
		Toolkit:    []string{"/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"}}
	if v := os.Getenv("GAP_CUDA_LIB_PATH"); v != "" {
		for _, d := range strings.Split(v, ":") {
			if d != "" {
				s.Dirs = append(s.Dirs, d)
			}
		}
	}
	var pats []string
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		pats = append(pats, filepath.Join(v, "lib", "python3*", "site-packages"))
	}
	// A virtual environment's python3 on $PATH (PyTorch images put theirs
	// there without setting VIRTUAL_ENV): <env>/bin/python3.
	if py, err := exec.LookPath("python3"); err == nil {
		env := filepath.Dir(filepath.Dir(py))
		pats = append(pats, filepath.Join(env, "lib", "python3*", "site-packages"))
	}
	pats = append(pats, "/usr/lib/python3*/dist-packages", "/usr/lib/python3/dist-packages",
		"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages")
	if h, err := os.UserHomeDir(); err == nil {
		pats = append(pats, filepath.Join(h, ".local", "lib", "python3*", "site-packages"))
	}
	seen := map[string]bool{}
	for _, p := range pats {
		m, _ := filepath.Glob(p)
		sort.Strings(m)
		for _, d := range m {
			if !seen[d] {
				seen[d] = true
				s.SitePackages = append(s.SitePackages, d)
			}
		}
	}
	return s
}

// Candidates lists the paths Find would try for lib, in order.
func (s Search) Candidates(lib Library) []string {
	var out []string
	for _, d := range s.Dirs {
		for _, so := range lib.Sonames {
			out = append(out, filepath.Join(d, so))
		}
	}
	if s.System {
		out = append(out, lib.Sonames...)
	}
	if lib.WheelDir == "" { // the driver: never from a toolkit folder or a wheel
		for _, d := range s.DriverDirs {
			for _, so := range lib.Sonames {
				out = append(out, filepath.Join(d, so))
			}
		}
		return out
	}
	for _, d := range s.Toolkit {
		for _, so := range lib.Sonames {
			out = append(out, filepath.Join(d, so))
		}
	}
	for _, sp := range s.SitePackages {
		for _, so := range lib.Sonames {
			out = append(out, filepath.Join(sp, "nvidia", lib.WheelDir, "lib", so))
		}
		// CUDA 13's wheels share one folder per major version
		// (nvidia/cu13/lib); any other nvidia/*/lib comes last.
		for _, so := range lib.Sonames {
			m, _ := filepath.Glob(filepath.Join(sp, "nvidia", "*", "lib", so))
			sort.Strings(m)
			for _, p := range m {
				if p != filepath.Join(sp, "nvidia", lib.WheelDir, "lib", so) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// open dlopens the first candidate that loads. Its error names the library
// and every path tried with the loader's reason for the ones that exist.
func (s Search) open(lib Library) (uintptr, string, error) {
	var tried []string
	for _, c := range s.Candidates(lib) {
		if filepath.IsAbs(c) {
			if _, err := os.Stat(c); err != nil {
				tried = append(tried, c+" (absent)")
				continue
			}
		}
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, c, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", c, err))
	}
	return 0, "", fmt.Errorf("%w: %s library not found; looked for: %s (set GAP_CUDA_LIB_PATH to the folder that holds it)",
		ErrUnavailable, lib.Name, strings.Join(tried, "; "))
}

// sym resolves name in h and registers it into fptr; a missing symbol is an
// error naming the library file and the symbol (purego would panic).
func sym(h uintptr, file, name string, fptr any) error {
	p, err := purego.Dlsym(h, name)
	if err != nil {
		return fmt.Errorf("cuda: %s has no symbol %s: %w", file, name, err)
	}
	purego.RegisterFunc(fptr, p)
	return nil
}

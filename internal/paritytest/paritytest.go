// Package paritytest holds what the models' PyTorch parity tests share:
// finding python3-torch, running a script of scripts/torch/ and reading the
// numbers it prints, writing batches as safetensors, and comparing loss
// curves to a relative tolerance.
package paritytest

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine/nn"
)

// Python is the interpreter the parity checks use (Debian's python3-torch).
const Python = "/usr/bin/python3"

// RequireTorch skips the test when Python cannot import torch.
func RequireTorch(t testing.TB) {
	t.Helper()
	if err := exec.Command(Python, "-c", "import torch").Run(); err != nil {
		t.Skip("python3-torch not installed (make setup-torch installs it): skipping the PyTorch parity check")
	}
}

// ScriptDir finds scripts/torch by walking up from the working directory.
func ScriptDir(t testing.TB) string {
	t.Helper()
	dir, err := scriptDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func scriptDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "torch")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("paritytest: scripts/torch not found above the working directory")
		}
		dir = up
	}
}

// Run runs scripts/torch/<script> with args and returns the lines it printed
// whose first field is key, as key -> list of the remaining fields parsed as
// float64 (one slice per line). stderr is shown on failure.
func Run(t testing.TB, script string, args ...string) map[string][][]float64 {
	t.Helper()
	res, err := RunE(script, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunE is Run returning its error (for use off the test's goroutine).
func RunE(script string, args ...string) (map[string][][]float64, error) {
	dir, err := scriptDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(Python, append([]string{filepath.Join(dir, script)}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("paritytest: %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, out.String(), errb.String())
	}
	res := map[string][][]float64{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var vals []float64
		ok := true
		for _, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				ok = false
				break
			}
			vals = append(vals, v)
		}
		if ok {
			res[f[0]] = append(res[f[0]], vals)
		}
	}
	return res, nil
}

// WriteTensors writes named float32 tensors to path as safetensors.
func WriteTensors(t testing.TB, path string, ts map[string]nn.STensor) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.WriteSafetensors(f, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// MaxRelDiff returns max_i |a_i-b_i|/max(|b_i|, 1e-12) and an error when the
// lengths differ.
func MaxRelDiff(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("paritytest: %d values against %d", len(a), len(b))
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i])/math.Max(math.Abs(b[i]), 1e-12))
	}
	return m, nil
}

// Column returns field i of every line printed under key.
func Column(lines [][]float64, i int) []float64 {
	out := make([]float64, 0, len(lines))
	for _, l := range lines {
		if i < len(l) {
			out = append(out, l[i])
		}
	}
	return out
}

// ReadTensors reads a safetensors file.
func ReadTensors(t testing.TB, path string) map[string]nn.STensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := nn.ReadSafetensors(path, b)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

package slurm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fake is a folder of stand-in Slurm commands for tests without daemons:
// sbatch records its argv (one line per call, in sbatch.calls) and prints
// ids from 100 up; squeue prints squeue.out (or squeue-name.out for --name)
// and fails with squeue.err when that exists; scontrol ping reports UP
// unless a file "down" exists; scontrol show config prints config.out.
type fake struct{ dir string }

func newFake(t testing.TB) *fake {
	d := t.TempDir()
	scripts := map[string]string{
		"sbatch": `#!/bin/sh
d=$(dirname "$0")
printf '%s\n' "$*" >>"$d/sbatch.calls"
if [ -f "$d/sbatch.err" ]; then cat "$d/sbatch.err" >&2; exit 1; fi
n=$(cat "$d/next" 2>/dev/null || echo 100)
echo $((n + 1)) >"$d/next"
echo "$n"
`,
		"squeue": `#!/bin/sh
d=$(dirname "$0")
if [ -f "$d/squeue.err" ]; then cat "$d/squeue.err" >&2; exit 1; fi
case "$*" in *--name=*) cat "$d/squeue-name.out" 2>/dev/null; exit 0 ;; esac
cat "$d/squeue.out" 2>/dev/null
exit 0
`,
		"scontrol": `#!/bin/sh
d=$(dirname "$0")
case "$1" in
ping) if [ -f "$d/down" ]; then echo "Slurmctld(primary) at vm is DOWN"; exit 1; fi
      echo "Slurmctld(primary) at vm is UP" ;;
show) cat "$d/config.out" ;;
esac
`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &fake{d}
}

func (f *fake) client() *Client {
	return &Client{Sbatch: filepath.Join(f.dir, "sbatch"), Squeue: filepath.Join(f.dir, "squeue"), Scontrol: filepath.Join(f.dir, "scontrol")}
}

func (f *fake) set(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fake) unset(name string) { os.Remove(filepath.Join(f.dir, name)) }

// calls returns the argv of every sbatch call so far.
func (f *fake) calls(t testing.TB) []string {
	b, err := os.ReadFile(filepath.Join(f.dir, "sbatch.calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

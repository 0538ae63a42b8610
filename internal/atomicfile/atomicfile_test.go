package atomicfile

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteReplacesOrKeeps checks that a failed write leaves the old file
// and no temporary, and a good one replaces it.
func TestWriteReplacesOrKeeps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.bin")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Fatalf("written file has mode %v, want 0644", fi.Mode().Perm())
	}
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("a failing write returned nil")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("after a failed write the file holds %q", b)
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("file holds %q", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// TestCleanStale removes a dead writer's temporary file and keeps a live one's.
func TestCleanStale(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` command")
	}
	dead := cmd.Process.Pid // exited and reaped
	deadTmp := filepath.Join(dir, ".main.ckpt."+strconv.Itoa(dead)+".123.tmp")
	liveTmp := filepath.Join(dir, ".main.ckpt."+strconv.Itoa(os.Getpid())+".456.tmp")
	other := filepath.Join(dir, "main.ckpt")
	for _, p := range []string{deadTmp, liveTmp, other} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := CleanStale(dir)
	if err != nil || n != 1 {
		t.Fatalf("CleanStale: %d, %v", n, err)
	}
	if _, err := os.Stat(deadTmp); err == nil {
		t.Fatal("the dead writer's temporary file is still there")
	}
	for _, p := range []string{liveTmp, other} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s removed: %v", p, err)
		}
	}
	if !IsTemp(filepath.Base(deadTmp)) || IsTemp("main.ckpt") {
		t.Fatal("IsTemp")
	}
}

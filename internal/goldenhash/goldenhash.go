// Package goldenhash keeps a file of recorded hashes for tests that pin
// results bit for bit: a JSON object from a key (what was computed, and the
// build, thread count and processor it depends on) to a hash of the result.
// A test loads the file, checks (or, when recording, records) one key per
// result, and saves the file when recording.
package goldenhash

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// File is a loaded hash file.
type File struct {
	path   string
	record bool
	hashes map[string]string
}

// Load reads the hash file at path. With record set the file may be
// missing, and Check records instead of comparing.
func Load(t testing.TB, path string, record bool) *File {
	t.Helper()
	f := &File{path: path, record: record, hashes: map[string]string{}}
	b, err := os.ReadFile(path)
	if err != nil {
		if !record {
			t.Fatalf("%s: %v", path, err)
		}
		return f
	}
	if err := json.Unmarshal(b, &f.hashes); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// Check compares got with the hash recorded under key: a difference is a
// test error that says what changed (what, e.g. "training bits"), and a key
// with no hash is logged and skipped (a build or machine nobody recorded).
// When recording, it records got instead.
func (f *File) Check(t testing.TB, key, got, what string) {
	t.Helper()
	if f.record {
		f.hashes[key] = got
		return
	}
	want, ok := f.hashes[key]
	if !ok {
		t.Logf("%s: no recorded hash for this configuration, skipped", key)
		return
	}
	if got != want {
		t.Errorf("%s: %s changed: hash %.16s, recorded %.16s", key, what, got, want)
	}
}

// Save writes the file back when recording; otherwise it does nothing.
func (f *File) Save(t testing.TB) {
	t.Helper()
	if !f.record {
		return
	}
	b, err := json.MarshalIndent(f.hashes, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

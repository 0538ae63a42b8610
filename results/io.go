package results

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// Ext is the file name extension of run files.
const Ext = ".arrow"

// Write stores r as <dir>/<r.ID>.arrow and returns the path. The file is
// written to a temporary file in dir, synced and renamed, so a reader sees
// either the old file, the complete new one, or none; on error nothing is
// left behind. dir is created when missing.
func Write(dir string, r *Run) (path string, err error) {
	if r == nil {
		return "", errors.New("results: write: nil run")
	}
	if err := checkID(r.ID); err != nil {
		return "", fmt.Errorf("results: write: %w", err)
	}
	path = filepath.Join(dir, r.ID+Ext)
	if err := atomicfile.Write(path, func(w io.Writer) error { return encode(w, r) }); err != nil {
		return "", fmt.Errorf("results: %w", err)
	}
	return path, nil
}

func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("run has no ID")
	case id == "." || id == ".." || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, "."):
		return fmt.Errorf("run ID %q is not a plain file name", id)
	}
	return nil
}

// Read loads the run stored at path.
func Read(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: read run: %w", err)
	}
	defer f.Close()
	r, err := decode(f)
	if err != nil {
		return nil, fmt.Errorf("results: read %s: %w", path, err)
	}
	return r, nil
}

// ReadDir loads every run file (*.arrow, not hidden) in dir whose Table is
// table; an empty table name selects all runs. Runs are sorted by Row, Seed
// and ID. A missing or unreadable folder, or any file that cannot be read,
// is an error that names it.
func ReadDir(dir string, table string) ([]*Run, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("results: read results folder %s: %w", dir, err)
	}
	var runs []*Run
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || filepath.Ext(name) != Ext {
			continue
		}
		r, err := Read(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if table == "" || r.Table == table {
			runs = append(runs, r)
		}
	}
	SortRuns(runs)
	return runs, nil
}

// SortRuns orders runs by Table, Row, Seed and ID.
func SortRuns(runs []*Run) {
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		if a.Seed != b.Seed {
			return a.Seed < b.Seed
		}
		return a.ID < b.ID
	})
}

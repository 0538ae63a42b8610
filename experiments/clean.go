package experiments

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gap-harness/gap/internal/atomicfile"
	"github.com/gap-harness/gap/results"
)

// CleanOptions say what Clean removes.
type CleanOptions struct {
	// Unfinished also removes the checkpoints of runs without a result.
	Unfinished bool
	// DryRun only reports.
	DryRun bool
}

// CleanReport is what Clean removed (or would remove).
type CleanReport struct {
	Removed        []string
	Folders        int
	TempFiles      int
	Bytes          int64
	KeptUnfinished int
}

// Clean removes, under a results root (<root>/<table>/ckpt/<id>/), the
// checkpoint folders of finished runs (those with <root>/<table>/<id>.arrow),
// and everywhere the temporary files of writers that are no longer running.
// Unfinished runs keep their checkpoints unless opt.Unfinished.
func Clean(root string, opt CleanOptions) (CleanReport, error) {
	var rep CleanReport
	tables, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("clean %s: %w", root, err)
	}
	for _, tab := range tables {
		if !tab.IsDir() {
			continue
		}
		tdir := filepath.Join(root, tab.Name())
		if !opt.DryRun { // result files a killed writer left half-written
			n, err := atomicfile.CleanStale(tdir)
			if err != nil {
				return rep, err
			}
			rep.TempFiles += n
		}
		runs, err := os.ReadDir(filepath.Join(tdir, "ckpt"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("clean %s: %w", tdir, err)
		}
		for _, r := range runs {
			if !r.IsDir() {
				continue
			}
			dir := filepath.Join(tdir, "ckpt", r.Name())
			_, ferr := os.Stat(filepath.Join(tdir, r.Name()+results.Ext))
			if ferr != nil && !opt.Unfinished {
				rep.KeptUnfinished++
				if !opt.DryRun {
					n, err := atomicfile.CleanStale(dir)
					if err != nil {
						return rep, err
					}
					rep.TempFiles += n
				}
				continue
			}
			rep.Bytes += dirSize(dir)
			rep.Folders++
			rep.Removed = append(rep.Removed, dir)
			if !opt.DryRun {
				if err := os.RemoveAll(dir); err != nil {
					return rep, fmt.Errorf("clean: %w", err)
				}
			}
		}
	}
	return rep, nil
}

// dirSize is the total size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gap-harness/gap/internal/atomicfile"
	"github.com/gap-harness/gap/results"
)

// ErrNoRuns is returned (wrapped) by Generate when the table has no runs.
var ErrNoRuns = errors.New("no runs")

// Figures draws the report's figures for runs (see the package comment)
// and returns them by file name (<stem>.png and <stem>.svg) with their
// captions in order; figures without data are left out and named in
// missing.
func Figures(runs []*results.Run, spec TableSpec) (files map[string][]byte, captions [][2]string, missing []string, err error) {
	figs, missing, err := figureSpecs(runs, spec)
	if err != nil {
		return nil, nil, nil, err
	}
	files = map[string][]byte{}
	for _, f := range figs {
		png, svg, err := encodeFigure(f)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reports: %w", err)
		}
		files[f.stem+".png"], files[f.stem+".svg"] = png, svg
		captions = append(captions, [2]string{f.stem, f.caption})
	}
	return files, captions, missing, nil
}

// figureSpecs builds the report's figures (see the package comment); the
// stems of figures without data are returned in missing.
func figureSpecs(runs []*results.Run, spec TableSpec) (figs []*figure, missing []string, err error) {
	fc := newFigContext(runs, spec)
	makers := []struct {
		stem string
		make func(*figContext) (*figure, error)
	}{
		{"metric_vs_sparsity", figMetricVsSparsity},
		{"curves", figCurves},
		{"metric_vs_flops", figMetricVsFLOPs},
		{"mask_changes", figMaskChanges},
		{"layer_sparsity", figLayers},
	}
	for _, m := range makers {
		f, err := m.make(fc)
		if err != nil {
			return nil, nil, fmt.Errorf("reports: figure %s: %w", m.stem, err)
		}
		if f == nil {
			missing = append(missing, m.stem)
			continue
		}
		figs = append(figs, f)
	}
	for i, mk := range spec.Extra {
		f, err := mk(runs, spec)
		if err != nil {
			return nil, nil, fmt.Errorf("reports: extra figure %d: %w", i, err)
		}
		if f == nil {
			missing = append(missing, fmt.Sprintf("extra figure %d", i))
			continue
		}
		if f.Stem == "" || f.Draw == nil || f.Height <= 0 {
			return nil, nil, fmt.Errorf("reports: extra figure %d: needs a stem, a height and a drawing", i)
		}
		for _, g := range figs {
			if g.stem == f.Stem {
				return nil, nil, fmt.Errorf("reports: extra figure %d: stem %q is taken", i, f.Stem)
			}
		}
		figs = append(figs, &figure{stem: f.Stem, caption: f.Caption, w: figW, h: f.Height, draw: f.Draw, colors: usedColors(fc, f.Methods)})
	}
	return figs, missing, nil
}

// Generate reads the runs of table from resultsDir and writes
// outDir/README.md (Table plus the figures) and the figures as PNG and
// SVG. A missing results folder or a table without runs is an error, and
// then nothing is written.
func Generate(resultsDir, table, outDir string, spec TableSpec) error {
	_, err := Report(resultsDir, table, outDir, spec)
	return err
}

// Report is Generate, and returns the report's entry for the index (its
// Dir is outDir).
func Report(resultsDir, table, outDir string, spec TableSpec) (IndexEntry, error) {
	if fi, err := os.Stat(resultsDir); err != nil {
		return IndexEntry{}, fmt.Errorf("reports: results folder %s: %w", resultsDir, err)
	} else if !fi.IsDir() {
		return IndexEntry{}, fmt.Errorf("reports: results folder %s is not a folder", resultsDir)
	}
	runs, err := results.ReadDir(resultsDir, table)
	if err != nil {
		return IndexEntry{}, fmt.Errorf("reports: %w", err)
	}
	if len(runs) == 0 {
		return IndexEntry{}, fmt.Errorf("reports: table %q: %w in %s", table, ErrNoRuns, resultsDir)
	}
	if spec.Table == "" {
		spec.Table = table
	}
	if spec.Speedups == nil {
		if spec.Speedups, err = ReadSpeedups(resultsDir); err != nil {
			return IndexEntry{}, err
		}
	}
	files, captions, missing, err := Figures(runs, spec)
	if err != nil {
		return IndexEntry{}, err
	}
	var md strings.Builder
	md.WriteString(Table(runs, spec))
	md.WriteString("\n## Figures\n\n")
	for i, c := range captions {
		fmt.Fprintf(&md, "![%s](%s.png)\n\n*Figure %d.* %s ([SVG](%s.svg))\n\n", c[0], c[0], i+1, c[1], c[0])
	}
	if len(missing) > 0 {
		fmt.Fprintf(&md, "Not drawn (no data in these runs): %s.\n", strings.Join(missing, ", "))
	}
	files["README.md"] = []byte(md.String())

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return IndexEntry{}, fmt.Errorf("reports: output folder: %w", err)
	}
	for _, name := range sortedKeys(files) {
		if err := writeAtomic(filepath.Join(outDir, name), files[name]); err != nil {
			return IndexEntry{}, fmt.Errorf("reports: %w", err)
		}
	}
	e := IndexEntry{Table: table, Title: spec.Title, Dir: outDir, Runs: len(runs),
		Profiles: uniq(runs, func(r *results.Run) string { return r.Profile }), Claims: claimCounts(spec, byRow(runs))}
	if len(captions) > 0 {
		e.Headline, e.Caption = captions[0][0]+".png", captions[0][1]
	}
	return e, nil
}

// writeAtomic writes data to path atomically (package atomicfile).
func writeAtomic(path string, data []byte) error {
	return atomicfile.WriteBytes(path, data)
}

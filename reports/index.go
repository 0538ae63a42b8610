package reports

import (
	"fmt"
	"path/filepath"
	"strings"
)

// IndexEntry is one table's section of the reports index
// (reports/README.md, written by `gap report -all`).
type IndexEntry struct {
	Table    string   // table key, e.g. "imagenet"
	Title    string   // report heading
	Dir      string   // report folder relative to the index, e.g. "imagenet"
	Headline string   // headline figure's file name in Dir, "" when none
	Caption  string   // the headline figure's caption
	Runs     int      // runs behind the report
	Profiles []string // profiles of those runs
	Claims   string   // verdict counts, e.g. "2 confirmed, 30 not significant"
	Missing  string   // why there is no report (then the rest is empty)
	Stale    string   // why an existing report was not regenerated (Runs and Claims unknown)
}

// Index renders the reports index: per table its report, headline figure
// with caption, runs and claim verdicts, or why it has no report; then a
// note on how the reports are made. The same entries give the same bytes.
func Index(entries []IndexEntry) []byte {
	var b strings.Builder
	b.WriteString("# Reports\n\n")
	b.WriteString("One report per paper table, generated from the runs in `results/runs` by `gap report -all` (which also rewrites this index); regenerate rather than edit. Each report has the table with our numbers beside the paper's, a Reading paragraph on which rows share a training budget, the paper's claims tested across seeds, and figures with captions.\n\n")
	for _, e := range entries {
		title := e.Title
		if title == "" {
			title = e.Table
		}
		if e.Missing != "" {
			fmt.Fprintf(&b, "## %s\n\nNo report: %s.\n\n", title, e.Missing)
			continue
		}
		readme := filepath.ToSlash(filepath.Join(e.Dir, "README.md"))
		fmt.Fprintf(&b, "## [%s](%s)\n\n", title, readme)
		if e.Headline != "" {
			fig := filepath.ToSlash(filepath.Join(e.Dir, e.Headline))
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(e.Headline, filepath.Ext(e.Headline)), fig)
			if e.Caption != "" {
				fmt.Fprintf(&b, "%s\n\n", e.Caption)
			}
		}
		if e.Stale != "" {
			fmt.Fprintf(&b, "Not regenerated: %s.\n\n", e.Stale)
			continue
		}
		fmt.Fprintf(&b, "Runs: %d (%s profile). Paper claims: %s.\n\n", e.Runs, strings.Join(e.Profiles, ", "), e.Claims)
	}
	b.WriteString("## How the reports are made\n\n")
	b.WriteString("The Go package `reports` (`Report`/`Generate`) reads a table's runs (`results.ReadDir`) and writes its README.md and five figures, each as PNG (a paper column, 3.4 in, at 200 dpi) and SVG: `metric_vs_sparsity`, `curves`, `metric_vs_flops`, `mask_changes`, `layer_sparsity`. Every figure uses one visual identity (reports/style.go): a colour per method (Paul Tol's colour-blind-safe muted scheme, Okabe-Ito beyond it), a marker and line style per distribution, a shade per sparsity. `ExportBench` writes runs as Go benchmark lines for `benchstat`, and `Compare` is an offline `benchstat old new`. Tests: `go test ./reports` (golden table in reports/testdata, regenerate with `go test ./reports -run Golden -update`).\n")
	return []byte(b.String())
}

// WriteIndex writes Index(entries) to path atomically.
func WriteIndex(path string, entries []IndexEntry) error {
	if err := writeAtomic(path, Index(entries)); err != nil {
		return fmt.Errorf("reports: index: %w", err)
	}
	return nil
}

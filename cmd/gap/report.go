package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/reports"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	table := fs.String("table", "imagenet", "table")
	resultsDir := fs.String("results", "results/runs", "results folder")
	out := fs.String("out", "", "output folder (default reports/<table>; with -all the folder of every table's report and the index, default reports)")
	profile := fs.String("profile", "default", "profile whose proxy note the report carries")
	all := fs.Bool("all", false, "report every table that has runs and rewrite the index <out>/README.md")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *all {
		root := *out
		if root == "" {
			root = "reports"
		}
		return reportAll(*resultsDir, root, stdout)
	}
	t, err := experiments.LookupTable(*table)
	if err != nil {
		return usageError{err}
	}
	p, err := t.Profile(*profile)
	if err != nil {
		return usageError{err}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("reports", t.Name)
	}
	tableDir := filepath.Join(*resultsDir, t.Name)
	spec := withSuiteFigures(reportSpec(t, p), t, tableDir)
	spec.Extra = append(spec.Extra, reports.ExtraFigures(t.Name, tableDir)...)
	e, err := reports.Report(tableDir, t.Name, dir, spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (paper claims: %s)\n", filepath.Join(dir, "README.md"), e.Claims)
	return nil
}

// reportSpec is the table's report spec with every profile's proxy note.
func reportSpec(t *experiments.Table, p experiments.Profile) reports.TableSpec {
	spec := tableSpec(t, p)
	for _, pn := range t.ProfileNames() {
		if pp := t.Profiles[pn]; pp.Proxy != "" {
			spec.Proxies[pn] = pn + " profile: " + pp.Proxy
		}
	}
	return spec
}

// reportAll writes the report of every table with runs under root/<table>
// and the index root/README.md; a table without runs gets a line in the
// index saying so.
func reportAll(resultsDir, root string, stdout io.Writer) error {
	var entries []reports.IndexEntry
	for _, name := range experiments.TableNames() {
		t, err := experiments.LookupTable(name)
		if err != nil {
			return err
		}
		pname := "default"
		if _, ok := t.Profiles[pname]; !ok && len(t.ProfileNames()) > 0 {
			pname = t.ProfileNames()[0]
		}
		p, err := t.Profile(pname)
		if err != nil {
			return err
		}
		dir := filepath.Join(resultsDir, t.Name)
		spec := withSuiteFigures(reportSpec(t, p), t, dir)
		spec.Extra = append(spec.Extra, reports.ExtraFigures(t.Name, dir)...)
		e, err := reports.Report(dir, t.Name, filepath.Join(root, t.Name), spec)
		switch {
		case errors.Is(err, reports.ErrNoRuns) || errors.Is(err, fs.ErrNotExist):
			why := fmt.Sprintf("no runs in %s (run: gap reproduce -table %s)", dir, t.Name)
			e = reports.IndexEntry{Table: t.Name, Title: spec.Title, Missing: why}
			// A report made earlier stays listed, marked as not regenerated.
			if _, serr := os.Stat(filepath.Join(root, t.Name, "README.md")); serr == nil {
				e.Missing, e.Stale = "", why+"; the report is from earlier runs"
				if _, serr := os.Stat(filepath.Join(root, t.Name, "metric_vs_sparsity.png")); serr == nil {
					e.Headline = "metric_vs_sparsity.png"
				}
			}
		case err != nil:
			return err
		default:
			fmt.Fprintf(stdout, "wrote %s (paper claims: %s)\n", filepath.Join(root, t.Name, "README.md"), e.Claims)
		}
		e.Dir = t.Name
		entries = append(entries, e)
	}
	index := filepath.Join(root, "README.md")
	if err := reports.WriteIndex(index, entries); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", index)
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/reports"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	table := fs.String("table", "imagenet", "table")
	resultsDir := fs.String("results", "results/runs", "results folder")
	out := fs.String("out", "", "output folder (default reports/<table>)")
	profile := fs.String("profile", "default", "profile whose proxy note the report carries")
	if err := parse(fs, args); err != nil {
		return err
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
	spec := tableSpec(t, p)
	for _, pn := range t.ProfileNames() {
		if pp := t.Profiles[pn]; pp.Proxy != "" {
			spec.Proxies[pn] = pn + " profile: " + pp.Proxy
		}
	}
	if err := reports.Generate(filepath.Join(*resultsDir, t.Name), t.Name, dir, spec); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, "README.md"))
	return nil
}

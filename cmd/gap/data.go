package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gap-harness/gap/datasets/catalog"
)

func cmdData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: gap data list | gap data check -dataset NAME [-path DIR]")
	}
	switch args[0] {
	case "list":
		return dataList(args[1:], stdout, stderr)
	case "check":
		return dataCheck(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown data command %q (valid: list, check)", args[0])
}

func dataList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data list", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, e := range catalog.Entries() {
		status := "available"
		if err := catalog.Available(e, ""); err != nil {
			status = "not available: " + err.Error()
		}
		fmt.Fprintf(stdout, "%-14s %-11s %s\n  %-26s source: %s\n  %-26s %s\n", e.Name, e.Suite, e.About, "", e.Source, "", status)
	}
	return nil
}

func dataCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data check", stderr)
	name := fs.String("dataset", "", "data set name (gap data list)")
	path := fs.String("path", "", "folder of a real data set")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("-dataset is required")
	}
	if _, err := catalog.Lookup(*name); err != nil {
		return usageError{err}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	s, err := catalog.Check(ctx, *name, *path, filepath.Join(cache, "gap-harness"))
	if err != nil {
		return err
	}
	s.Format(stdout)
	return nil
}

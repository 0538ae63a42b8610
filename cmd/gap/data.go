package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gap-harness/gap/datasets/catalog"
)

func cmdData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: gap data list | gap data check -dataset NAME [-path DIR] | gap data inspect [-format F] FILE")
	}
	switch args[0] {
	case "list":
		return dataList(args[1:], stdout, stderr)
	case "inspect":
		return dataInspect(args[1:], stdout, stderr)
	case "check":
		return dataCheck(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown data command %q (valid: list, check, inspect)", args[0])
}

// dataInspect parses one file with the harness's reader for its format and
// prints what it holds, or the reader's error (file and position).
func dataInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data inspect", stderr)
	format := fs.String("format", "", "file format: "+strings.Join(catalog.Formats, ", ")+" (default: from the file name)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gap data inspect [-format F] FILE\n\nReads FILE with the harness's parser and prints a summary, or the first defect found.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usagef("want one FILE, got %d arguments (usage: gap data inspect [-format F] FILE)", fs.NArg())
	}
	if *format != "" && !slices.Contains(catalog.Formats, *format) {
		return usagef("-format %q: want one of %s", *format, strings.Join(catalog.Formats, ", "))
	}
	s, err := catalog.Inspect(fs.Arg(0), *format)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, s)
	return err
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

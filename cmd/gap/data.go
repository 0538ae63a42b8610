package main

import (
	"context"
	"fmt"
	"io"
)

func cmdData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: gap data list | gap data check -dataset NAME")
	}
	switch args[0] {
	case "list":
		return dataList(args[1:], stdout, stderr)
	case "check":
		return dataCheck(args[1:], stdout, stderr)
	}
	return usagef("unknown data command %q (valid: list, check)", args[0])
}

func dataList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data list", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	return fmt.Errorf("not wired yet")
}

func dataCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("data check", stderr)
	name := fs.String("dataset", "", "data set name")
	if err := parse(fs, args); err != nil {
		return err
	}
	_ = name
	return fmt.Errorf("not wired yet")
}

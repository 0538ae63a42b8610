package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/models"
)

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	what := "all"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		what, args = args[0], args[1:]
	}
	fs := newFlags("list", stderr)
	method := fs.String("method", "", "describe one method's parameters (types, defaults, valid ranges) and its plan")
	budget := fs.Int("base", 8, "with -method or -markdown: the base budget in epochs the plan is shown for")
	markdown := fs.Bool("markdown", false, "print the methods' parameter and plan tables as markdown (the generated section of methods/README.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *budget < 1 || *budget > 1<<20 {
		return usagef("-base %d: expected 1..2^20 epochs", *budget)
	}
	if *markdown {
		md, err := methods.Default().Markdown(*budget)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, md)
		return err
	}
	if *method != "" {
		return listMethod(stdout, *method, *budget)
	}
	valid := []string{"all", "tables", "methods", "models", "data", "profiles", "executors"}
	switch what {
	case "all", "tables", "methods", "models", "data", "profiles", "executors":
	default:
		return usagef("unknown list %q (valid: %s)", what, strings.Join(valid, ", "))
	}
	if what == "all" || what == "tables" || what == "profiles" {
		fmt.Fprintln(stdout, "tables:")
		tables := experiments.Tables()
		for _, n := range experiments.TableNames() {
			t := tables[n]
			fmt.Fprintf(stdout, "  %-12s %s (%d rows)\n", n, t.Title, len(t.Rows))
			if what != "tables" {
				for _, pn := range t.ProfileNames() {
					p := t.Profiles[pn]
					desc := p.Proxy
					if desc == "" {
						desc = fmt.Sprintf("%s on %s", p.Model.Name, p.Data.Name)
					}
					fmt.Fprintf(stdout, "    profile %-8s %s; %d base epochs, batch %d\n", pn, desc, p.Epochs, p.Batch)
					if what == "profiles" {
						fmt.Fprintf(stdout, "      optim %s\n", p.Optim.Summary(p.Epochs))
					}
				}
			}
		}
	}
	if what == "all" || what == "methods" {
		fmt.Fprintln(stdout, "methods:")
		for _, m := range methods.Default().List() {
			fmt.Fprintf(stdout, "  %-18s %s\n", m.Name, m.Description)
		}
	}
	if what == "all" || what == "models" {
		fmt.Fprintln(stdout, "models:")
		names := models.Names()
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stdout, "  %s\n", n)
		}
	}
	if what == "all" || what == "data" {
		fmt.Fprintln(stdout, "data sets:")
		for _, n := range []string{"mnist", "fashion-mnist", "imagenet"} {
			status := "available"
			if err := experiments.Available(n, ""); err != nil {
				status = "not available: " + err.Error()
			}
			fmt.Fprintf(stdout, "  %-14s %s\n", n, status)
		}
	}
	if what == "all" || what == "executors" {
		fmt.Fprintln(stdout, "executors (gap reproduce -executor):")
		for _, e := range executors {
			fmt.Fprintf(stdout, "  %-6s %s\n", e.name, e.desc)
		}
	}
	return nil
}

// listMethod prints one method's description, parameters and its plan at
// a base budget.
func listMethod(w io.Writer, name string, budget int) error {
	reg := methods.Default()
	help, err := reg.Help(name)
	if err != nil {
		return usageError{err}
	}
	for _, m := range reg.List() {
		if m.Name == name {
			fmt.Fprintf(w, "%s: %s\n", m.Name, m.Description)
		}
	}
	if len(help) == 0 {
		fmt.Fprintln(w, "  no parameters")
	} else {
		fmt.Fprintln(w, "parameters (-param key=value; a profile may set other defaults):")
	}
	for _, p := range help {
		valid := ""
		if p.Valid != "" {
			valid = "; " + p.Valid
		}
		fmt.Fprintf(w, "  %-16s %-6s default %s%s\n", p.Name, p.Type, p.Default, valid)
	}
	m, err := reg.New(name, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "plan at a base budget of %d epochs (defaults; -base N for another):\n", budget)
	for _, line := range strings.Split(strings.TrimRight(methods.PlanOf(m, budget).String(), "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	return nil
}

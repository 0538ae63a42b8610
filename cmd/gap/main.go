// Command gap is the harness's one command line: it trains single runs,
// reproduces the paper's tables, lists what is available, benchmarks the
// engine, writes reports and scores outputs of any system.
//
//	gap train      one run from flags
//	gap reproduce  a whole table (make reproduce TABLE=imagenet)
//	gap list       tables, methods, models, data sets, profiles
//	gap bench      step | export | compare
//	gap report     paper-style markdown and figures from results
//	gap score      bleu | map | miou
//	gap data       list | check
//	gap status     where each Slurm task of a results folder stands
//	gap run-stage  one stage of one run (what a Slurm array task runs)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// commit is the git commit this binary was built from, set by the Makefile
// (-ldflags "-X main.commit=..."); results record it.
var commit string

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"train":       {"train one run from flags", cmdTrain},
		"reproduce":   {"run a whole table and print it", cmdReproduce},
		"list":        {"list tables, methods, models, data sets and profiles", cmdList},
		"bench":       {"engine step benchmark (step), benchstat export (export) and comparison (compare)", cmdBench},
		"report":      {"write reports/<table>/README.md and figures from results", cmdReport},
		"status":      {"where each Slurm task of a results folder stands (done, running, pending, failed + log)", cmdStatus},
		"score":       {"score a system's outputs: bleu, map or miou", cmdScore},
		"data":        {"list the data sets or check one", cmdData},
		"pgap-branch": {"train one P-GaP branch (started by reproduce and train)", cmdBranch},
		"run-stage":   {"run one stage of one run (what each Slurm array task runs)", cmdRunStage},
		"clean":       {"remove checkpoints of finished runs and stale temporary files", cmdClean},
		"translate":   {"translate standard input with a finished run's model (-run ID) or an exported one (-weights)", cmdTranslate},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gap <command> [flags]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'gap <command> -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gap: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "gap %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "gap %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usageError marks an error in the command line (exit status 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gap "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags and rejects stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return nil
}

// logger writes structured logs to stderr.
func logger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

package reports

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"unicode"

	"github.com/gap-harness/gap/results"
)

// ExportBench writes runs in the Go benchmark format, one result line per
// run, so that the seeds of a row are repeated measurements of one
// benchmark:
//
//	BenchmarkImagenet/method=cgap/sparsity=0.9/dist=uniform 1 77.1 top1 1.52 train-xdense 0.10 infer-xdense 345 sec/run
//
// The headline metric comes first, then the other Final metrics in name
// order, then train-xdense and infer-xdense (FLOPs as multiples of dense,
// when known) and sec/run (wall time); NaN and infinite values are left
// out. Configuration lines (goos, goarch,
// pkg, commit, profile, machine) precede the results they apply to and are
// repeated when they change. Runs are written in table, row, seed order.
func ExportBench(runs []*results.Run, w io.Writer) error {
	sorted := append([]*results.Run(nil), runs...)
	results.SortRuns(sorted)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "goos: %s\ngoarch: %s\npkg: github.com/gap-harness/gap/experiments\n", runtime.GOOS, runtime.GOARCH)
	cfg := map[string]string{}
	for _, r := range sorted {
		for _, kv := range [][2]string{{"commit", r.Commit}, {"profile", r.Profile}, {"machine", r.Machine}} {
			v := oneLine(kv[1])
			if cur, ok := cfg[kv[0]]; !ok || cur != v {
				cfg[kv[0]] = v
				fmt.Fprintf(bw, "%s: %s\n", kv[0], v)
			}
		}
		fmt.Fprintf(bw, "%s 1", benchName(r))
		put := func(v float64, unit string) {
			if !math.IsNaN(v) && !math.IsInf(v, 0) { // benchfmt has no spelling for them
				fmt.Fprintf(bw, " %s %s", strconv.FormatFloat(v, 'g', -1, 64), unit)
			}
		}
		if v, ok := r.Final[r.Metric]; ok && r.Metric != "" {
			put(v, unitName(r.Metric))
		}
		for _, k := range sortedKeys(r.Final) {
			if k != r.Metric {
				put(r.Final[k], unitName(k))
			}
		}
		if r.DenseTrainFLOPs > 0 {
			put(r.TrainCost(), "train-xdense")
		}
		if r.DenseInferFLOPs > 0 {
			put(r.InferCost(), "infer-xdense")
		}
		put(r.WallSeconds, "sec/run")
		bw.WriteString("\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("reports: export bench: %w", err)
	}
	return nil
}

// benchName is "Benchmark<Table>/method=<m>/sparsity=<s>/dist=<d>".
func benchName(r *results.Run) string {
	table := nameChars(r.Table)
	if table == "" {
		table = "Run"
	}
	table = strings.ToUpper(table[:1]) + table[1:]
	return fmt.Sprintf("Benchmark%s/method=%s/sparsity=%s/dist=%s", table,
		nameChars(r.Method), strconv.FormatFloat(r.Sparsity, 'g', -1, 64), nameChars(r.Distribution))
}

// nameChars keeps a name part free of spaces, '/', '=' and a trailing
// "-<digits>" that benchfmt would read as GOMAXPROCS.
func nameChars(s string) string {
	s = strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) || c == '/' || c == '=' {
			return '_'
		}
		return c
	}, s)
	if i := strings.LastIndexByte(s, '-'); i >= 0 && i < len(s)-1 && strings.Trim(s[i+1:], "0123456789") == "" {
		s = s[:i] + "_" + s[i+1:]
	}
	return s
}

// unitName makes a metric name a valid benchmark unit (no spaces).
func unitName(s string) string {
	if s == "" {
		return "value"
	}
	return strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) {
			return '_'
		}
		return c
	}, s)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "unknown"
	}
	return s
}

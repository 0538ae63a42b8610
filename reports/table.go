package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gap-harness/gap/results"
)

// Table renders runs as a paper-style markdown table following spec: one
// line per row key with the mean ± sample std over seeds, the number of
// runs, epochs, measured sparsity, training and inference FLOPs as
// multiples of dense, and the paper's number; rows without runs read
// "pending", and runs whose row is not in spec are listed after them. Then
// the profile(s), data, commits and machines behind the numbers. The same
// runs give the same bytes.
func Table(runs []*results.Run, spec TableSpec) string {
	var b strings.Builder
	groups := byRow(runs)
	title := spec.Title
	if title == "" {
		title = spec.Table
	}
	fmt.Fprintf(&b, "# %s\n\n", title)

	speedCol, speedSep := "", ""
	if spec.Speedups != nil {
		speedCol, speedSep = " Inference speed-up, measured (batch 1 / 64) |", "---:|"
	}
	header := fmt.Sprintf("| Method | Distribution | Sparsity | %s, ours | n | Epochs | Measured sparsity (prunable) | Whole-model sparsity | Train FLOPs (× dense) | Inference FLOPs (× dense) |%s Paper |\n",
		escape(spec.metricLabel()), speedCol)
	b.WriteString(header)
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + speedSep + "---|\n")
	known := map[string]bool{}
	for _, row := range spec.Rows {
		known[row.Key] = true
		writeRow(&b, spec, row, groups[row.Key])
	}
	var extra []string
	for k := range groups {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		_, s, _ := splitKey(k)
		sp, _ := strconv.ParseFloat(s, 64)
		writeRow(&b, spec, RowSpec{Key: k, Sparsity: sp}, groups[k])
	}
	b.WriteString("\n")
	if len(extra) > 0 {
		fmt.Fprintf(&b, "Rows not in the paper's table: %s.\n\n", strings.Join(codes(extra), ", "))
	}
	fmt.Fprintf(&b, "Ours: mean ± sample standard deviation (n-1) of final %s over seeds; \"—\" where n = 1. Measured sparsity is over the prunable layers; whole-model sparsity over every conv and linear weight, the dense ones included (\"—\" for runs that did not record it). FLOPs (counted as RigL does: a sparse layer costs its density times the dense FLOPs, backward twice forward, RigL's dense-gradient steps added): training FLOPs of the whole schedule (every P-GaP branch counted) as a multiple of dense training at the table's base epoch budget, and inference FLOPs per example as a multiple of the dense model's.\n\n",
		code(spec.Metric))
	writeSpeedupNote(&b, spec, runs)
	writeSources(&b, spec)
	writeReading(&b, spec, runs)
	writeClaims(&b, spec, groups)
	writeProvenance(&b, spec, runs)
	return b.String()
}

func writeRow(b *strings.Builder, spec TableSpec, row RowSpec, g []*results.Run) {
	paper := "—"
	if p := row.Paper; p != nil {
		paper = paperNum(p.Value)
		if p.Source != "" {
			paper += " [" + p.Source + "]"
		}
		if p.Epochs > 0 {
			paper += fmt.Sprintf(" (%d ep.)", p.Epochs)
		}
	}
	sp := pct(row.Sparsity)
	speed := ""
	if spec.Speedups != nil {
		speed = " " + speedupCell(spec.Speedups, row, g) + " |"
	}
	if len(g) == 0 {
		fmt.Fprintf(b, "| %s | %s | %s | pending | 0 | — | — | — | — | — |%s %s |\n",
			escape(row.methodLabel()), escape(row.distLabel()), sp, speed, paper)
		return
	}
	m, s := meanStd(values(g, metricOf(spec.Metric)))
	ours := fixed(m, spec.digits()) + " ± " + fixed(s, spec.digits())
	ms, _ := meanStd(values(g, measured))
	wm, _ := meanStd(values(g, wholeModel))
	tc, _ := meanStd(values(g, trainCost))
	ic, _ := meanStd(values(g, inferCost))
	fmt.Fprintf(b, "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |%s %s |\n",
		escape(row.methodLabel()), escape(row.distLabel()), sp, ours, len(g), epochs(g),
		pctOrDash(ms), pctOrDash(wm), fixed(tc, 2), fixed(ic, 2), speed, paper)
}

// speedupCell is a sparse row's measured inference speed-up (process CPU
// time, dense kernels over sparse, mean over the seeds measured) at batch 1
// and 64, "—" where nothing was measured or the row is dense.
func speedupCell(s *InferSpeedups, row RowSpec, g []*results.Run) string {
	if row.Sparsity == 0 {
		return "—"
	}
	cell := func(batch int) string {
		var sum float64
		n := 0
		for _, r := range g {
			if e, ok := s.Get(r.ID, batch); ok && e.CPUSpeedup > 0 {
				sum += e.CPUSpeedup
				n++
			}
		}
		if n == 0 {
			return "—"
		}
		return fixed(sum/float64(n), 2) + "×"
	}
	b1, b64 := cell(1), cell(64)
	if b1 == "—" && b64 == "—" {
		return "—"
	}
	return b1 + " / " + b64
}

// writeSpeedupNote says how the measured speed-up column was measured: on
// which machines, with how many threads, under what load.
func writeSpeedupNote(b *strings.Builder, spec TableSpec, runs []*results.Run) {
	if spec.Speedups == nil {
		return
	}
	var machines, threads []string
	lo, hi := math.Inf(1), math.Inf(-1)
	seen := map[string]bool{}
	add := func(l *[]string, v string) {
		if !seen[v] {
			seen[v] = true
			*l = append(*l, v)
		}
	}
	for _, r := range runs {
		for _, e := range spec.Speedups.Runs[r.ID] {
			add(&machines, e.Machine)
			add(&threads, strconv.Itoa(e.Threads)+" threads")
			lo, hi = math.Min(lo, e.Load1), math.Max(hi, e.Load1)
		}
	}
	sort.Strings(machines)
	sort.Strings(threads)
	load := "load unknown"
	switch {
	case lo == hi:
		load = "1-minute load " + fixed(lo, 1)
	case lo < hi:
		load = "1-minute load " + fixed(lo, 1) + "–" + fixed(hi, 1)
	}
	fmt.Fprintf(b, "Inference speed-up, measured: each run's final model with its own masks, forward passes in evaluation mode (batch norm folded, epilogues fused, on both sides) through the dense kernels over the sparse kernels where the per-layer calibration chose them (all dense where those choices together lost to the dense model in a whole-model check), as a ratio of process CPU time per forward (median), at batch 1 and 64 (`gap bench infer -table`); mean over the seeds measured, \"—\" where none was. Measured on %s with %s (%s); timings are noisy and are kept out of the runs' records.\n\n",
		escape(strings.Join(machines, ", ")), strings.Join(threads, ", "), load)
}

func writeSources(b *strings.Builder, spec TableSpec) {
	tags := make([]string, 0, len(spec.Sources))
	for t := range spec.Sources {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	if len(tags) > 0 {
		b.WriteString("Paper numbers:\n\n")
		for _, t := range tags {
			fmt.Fprintf(b, "- [%s] %s\n", t, spec.Sources[t])
		}
		b.WriteString("\n")
	}
	for _, n := range spec.Notes {
		fmt.Fprintf(b, "%s\n\n", n)
	}
}

func writeProvenance(b *strings.Builder, spec TableSpec, runs []*results.Run) {
	b.WriteString("## Where the numbers come from\n\n")
	fmt.Fprintf(b, "- Runs: %d\n", len(runs))
	profiles := uniq(runs, func(r *results.Run) string { return r.Profile })
	var pl []string
	for _, p := range profiles {
		s := code(p)
		if note, ok := spec.Proxies[p]; ok {
			s += " (" + note + ")"
		}
		pl = append(pl, s)
	}
	item(b, "Profile", pl)
	item(b, "Data", codes(uniq(runs, func(r *results.Run) string { return r.Dataset })))
	item(b, "Models", codes(uniq(runs, func(r *results.Run) string { return r.Model })))
	item(b, "Seeds", uniq(runs, func(r *results.Run) string { return strconv.FormatInt(r.Seed, 10) }))
	item(b, "Commits", codes(uniq(runs, func(r *results.Run) string { return r.Commit })))
	item(b, "Machines", uniq(runs, func(r *results.Run) string { return r.Machine }))
	item(b, "Go", uniq(runs, func(r *results.Run) string { return r.GoVersion }))
	// The engine build (BLAS, assembly kernels): runs of another build give
	// other last bits, so a reader reproducing the table needs it.
	builds := uniq(runs, func(r *results.Run) string { return r.Build })
	if n := countIf(runs, func(r *results.Run) bool { return r.Build == "" }); n > 0 && len(builds) > 0 {
		s := "s"
		if n == 1 {
			s = ""
		}
		builds = append(builds, fmt.Sprintf("not recorded in %d run%s", n, s))
	}
	item(b, "Engine build", builds)
	var wall float64
	for _, r := range runs {
		wall += r.WallSeconds
	}
	fmt.Fprintf(b, "- Total wall time: %s s\n", fixed(wall, 0))
}

// countIf counts the runs for which f holds.
func countIf(runs []*results.Run, f func(*results.Run) bool) int {
	n := 0
	for _, r := range runs {
		if f(r) {
			n++
		}
	}
	return n
}

func item(b *strings.Builder, label string, vals []string) {
	if len(vals) == 0 {
		vals = []string{"unknown"}
	}
	fmt.Fprintf(b, "- %s: %s\n", label, escape(strings.Join(vals, ", ")))
}

// epochs gives the runs' epochs, "a–b" when they differ.
func epochs(g []*results.Run) string {
	lo, hi := g[0].Epochs, g[0].Epochs
	for _, r := range g {
		lo, hi = min(lo, r.Epochs), max(hi, r.Epochs)
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

// paperNum formats a paper's number as printed there, with at least one
// decimal (72.0, 77.856).
func paperNum(x float64) string {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEN") {
		s += ".0"
	}
	return s
}

// fixed formats x with d decimals, "—" for NaN.
func fixed(x float64, d int) string {
	if math.IsNaN(x) {
		return "—"
	}
	s := strconv.FormatFloat(x, 'f', d, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // no "-0.00"
	}
	return s
}

// pct formats a share as a percentage with at most two decimals.
func pct(s float64) string {
	v := strconv.FormatFloat(100*s, 'f', 2, 64)
	v = strings.TrimRight(strings.TrimRight(v, "0"), ".")
	return v + "%"
}

func pctOrDash(s float64) string {
	if math.IsNaN(s) {
		return "—"
	}
	return fixed(100*s, 1) + "%"
}

func code(s string) string { return "`" + s + "`" }

func codes(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = code(x)
	}
	return out
}

// escape keeps a cell from breaking the markdown table.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

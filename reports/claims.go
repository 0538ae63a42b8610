package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/gap-harness/gap/results"
)

// Claim is one claim of the paper about two rows of a table: row A does
// better than row B, or at least as well ("≥" in Text). Both are checked
// alike: a U test cannot show two rows equal, so "≥" is confirmed only by
// a significant lead and refuted by a significant deficit.
type Claim struct {
	Text string // e.g. "C-GaP ≥ dense at 80%, uniform"
	A, B string // row keys
}

// Verdicts of a claim.
const (
	Confirmed      = "confirmed"
	Refuted        = "refuted"
	NotSignificant = "not significant"
	Pending        = "pending"
)

// ClaimResult is a claim checked against our runs.
type ClaimResult struct {
	Claim
	MeanA, MeanB float64
	NA, NB       int
	P            float64 // two-sided Mann-Whitney U p-value, NaN when not tested
	MinP         float64 // the smallest p the test can give at NA, NB
	Matched      bool    // the rows' epoch budgets are equal
	Budget       string  // e.g. "6 vs 3 epochs; 0.74× vs 0.22× dense FLOPs"
	Verdict      string
}

// CheckClaim tests a claim on the runs by row: a two-sided Mann-Whitney U
// test (golang.org/x/perf/benchmath, as benchstat) of the final metric
// across seeds at Alpha; confirmed when significant in the claimed
// direction, refuted when significant the other way, else not significant;
// pending when a row has no runs.
func CheckClaim(c Claim, groups map[string][]*results.Run, metric string) ClaimResult {
	a := values(groups[c.A], metricOf(metric))
	b := values(groups[c.B], metricOf(metric))
	res := ClaimResult{Claim: c, NA: len(a), NB: len(b), P: math.NaN(), MinP: math.NaN(), Verdict: Pending}
	res.MeanA, _ = meanStd(a)
	res.MeanB, _ = meanStd(b)
	if len(a) == 0 || len(b) == 0 {
		return res
	}
	res.Matched, res.Budget = budget(groups[c.A], groups[c.B])
	th := benchmath.Thresholds{CompareAlpha: Alpha}
	cmp := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, &th), benchmath.NewSample(b, &th))
	res.P = cmp.P
	res.MinP = minMannWhitneyP(len(a), len(b))
	switch {
	case res.P >= Alpha || math.IsNaN(res.P):
		res.Verdict = NotSignificant
	case res.MeanA > res.MeanB:
		res.Verdict = Confirmed
	default:
		res.Verdict = Refuted
	}
	return res
}

// minMannWhitneyP is the smallest two-sided p-value of an exact
// Mann-Whitney U test with samples of n1 and n2 values: 2 / C(n1+n2, n1).
func minMannWhitneyP(n1, n2 int) float64 {
	c := 1.0
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return math.Min(1, 2/c)
}

// budget compares the epoch budgets of two rows' runs.
func budget(a, b []*results.Run) (matched bool, text string) {
	ea, eb := epochs(a), epochs(b)
	ca, _ := meanStd(values(a, trainCost))
	cb, _ := meanStd(values(b, trainCost))
	flops := ""
	if !math.IsNaN(ca) && !math.IsNaN(cb) {
		flops = fmt.Sprintf("; %s× vs %s× dense FLOPs", fixed(ca, 2), fixed(cb, 2))
	}
	if ea == eb && !strings.Contains(ea, "–") {
		return true, fmt.Sprintf("matched: %s epochs%s", ea, flops)
	}
	return false, fmt.Sprintf("not budget-matched: %s vs %s epochs%s", ea, eb, flops)
}

// writeClaims writes the "Paper claims" section: one line per claim with
// our means, n, the p-value, the budgets and the verdict.
func writeClaims(b *strings.Builder, spec TableSpec, groups map[string][]*results.Run) {
	b.WriteString("## Paper claims\n\n")
	if len(spec.Claims) == 0 {
		b.WriteString("None recorded: the table's spec lists no comparison the paper draws from this table.\n\n")
		return
	}
	fmt.Fprintf(b, "Each claim the paper makes with this table, tested on our runs: mean final %s over seeds (n), a two-sided Mann-Whitney U test across seeds (golang.org/x/perf/benchmath, as benchstat), α = %s. Verdict: *confirmed* when significant in the claimed direction, *refuted* when significant the other way, *not significant* otherwise, *pending* without runs. A comparison is budget-matched only when both rows train for the same epochs.\n\n",
		code(spec.Metric), strconv.FormatFloat(Alpha, 'f', -1, 64))
	b.WriteString("| Claim | Paper | Ours (n) | Baseline, ours (n) | p | Budget | Verdict |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---|\n")
	paper := map[string]*PaperNumber{}
	for _, r := range spec.Rows {
		paper[r.Key] = r.Paper
	}
	minP := math.Inf(1) // the most a tested claim could reach
	for _, c := range spec.Claims {
		r := CheckClaim(c, groups, spec.Metric)
		pp := "—"
		if pa, pb := paper[c.A], paper[c.B]; pa != nil && pb != nil {
			pp = paperNum(pa.Value) + " vs " + paperNum(pb.Value)
		}
		ours := func(m float64, n int) string {
			if n == 0 {
				return "pending"
			}
			return fmt.Sprintf("%s (%d)", fixed(m, spec.digits()), n)
		}
		p, bud := "—", "—"
		if !math.IsNaN(r.P) {
			p = strconv.FormatFloat(r.P, 'f', 3, 64)
			minP = math.Min(minP, r.MinP)
		}
		if r.Budget != "" {
			bud = r.Budget
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", escape(c.Text), pp, ours(r.MeanA, r.NA), ours(r.MeanB, r.NB), p, escape(bud), r.Verdict)
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "Claims: %s.", claimCounts(spec, groups))
	if !math.IsInf(minP, 1) && minP >= Alpha {
		fmt.Fprintf(b, " With these numbers of seeds the smallest p-value the test can give is %s ≥ α, so no claim can be confirmed or refuted; 4 seeds per row (smallest p = %s) are the fewest that can.",
			strconv.FormatFloat(minP, 'f', 3, 64), strconv.FormatFloat(minMannWhitneyP(4, 4), 'f', 3, 64))
	}
	b.WriteString("\n\n")
}

// claimCounts summarises the verdicts of spec's claims, "none recorded"
// without claims.
func claimCounts(spec TableSpec, groups map[string][]*results.Run) string {
	if len(spec.Claims) == 0 {
		return "none recorded"
	}
	counts := map[string]int{}
	for _, c := range spec.Claims {
		counts[CheckClaim(c, groups, spec.Metric).Verdict]++
	}
	var parts []string
	for _, v := range []string{Confirmed, Refuted, NotSignificant, Pending} {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	return strings.Join(parts, ", ")
}

// writeReading writes the "Reading" paragraph of each profile in runs:
// which rows share an epoch budget (so compare fairly), with their range
// of training FLOPs, then the spec's own reading for the profile.
func writeReading(b *strings.Builder, spec TableSpec, runs []*results.Run) {
	profiles := uniq(runs, func(r *results.Run) string { return r.Profile })
	if len(profiles) == 0 {
		return
	}
	b.WriteString("## Reading\n\n")
	for _, prof := range profiles {
		var sel []*results.Run
		for _, r := range runs {
			if r.Profile == prof {
				sel = append(sel, r)
			}
		}
		groups := byRow(sel)
		byEpochs := map[string][]string{} // epochs -> row keys
		for _, k := range rowOrder(spec, groups) {
			e := epochs(groups[k])
			byEpochs[e] = append(byEpochs[e], k)
		}
		es := sortedKeys(byEpochs)
		sort.SliceStable(es, func(i, j int) bool { return atoiPrefix(es[i]) < atoiPrefix(es[j]) })
		var parts []string
		for _, e := range es {
			keys := byEpochs[e]
			var lo, hi float64 = math.Inf(1), math.Inf(-1)
			for _, k := range keys {
				c, _ := meanStd(values(groups[k], trainCost))
				if !math.IsNaN(c) {
					lo, hi = math.Min(lo, c), math.Max(hi, c)
				}
			}
			fl := ""
			switch {
			case math.IsInf(lo, 1):
			case fixed(lo, 2) == fixed(hi, 2):
				fl = fmt.Sprintf(", %s× dense training FLOPs", fixed(lo, 2))
			default:
				fl = fmt.Sprintf(", %s–%s× dense training FLOPs", fixed(lo, 2), fixed(hi, 2))
			}
			n := fmt.Sprintf("%d rows", len(keys))
			if len(keys) == 1 {
				n = "1 row"
			}
			parts = append(parts, fmt.Sprintf("%s epochs: %s (%s%s)", e, strings.Join(rowsByMethod(spec, keys, groups), ", "), n, fl))
		}
		fmt.Fprintf(b, "**%s profile.** ", prof)
		if len(es) == 1 {
			fmt.Fprintf(b, "Every row trains for %s epochs (%s), so every comparison in the table is budget-matched in epochs.", es[0], strings.TrimPrefix(parts[0], es[0]+" epochs: "))
		} else {
			fmt.Fprintf(b, "Rows train for %d different epoch budgets: %s. Comparisons within one budget are budget-matched; across budgets they are not, and the claims below say so.", len(es), strings.Join(parts, "; "))
		}
		b.WriteString(" Training FLOPs can still differ at one epoch budget (sparse steps cost less, P-GaP trains κ branches).")
		if extra := spec.Reading[prof]; extra != "" {
			b.WriteString(" " + extra)
		}
		b.WriteString("\n\n")
	}
}

// rowsByMethod names the rows of keys by method: the method alone when
// all its rows are in keys, else with each row's distribution and
// sparsity.
func rowsByMethod(spec TableSpec, keys []string, groups map[string][]*results.Run) []string {
	group := func(k string) string { m, _, _ := splitKey(k); return m + "@" + keyBudget(k) }
	total := map[string]int{}
	for k := range groups {
		total[group(k)]++
	}
	in := map[string][]string{}
	var order []string
	for _, k := range keys {
		g := group(k)
		if _, ok := in[g]; !ok {
			order = append(order, g)
		}
		in[g] = append(in[g], k)
	}
	var out []string
	for _, g := range order {
		m, b, _ := strings.Cut(g, "@")
		label := groupLabel(spec, m, b)
		if len(in[g]) == total[g] {
			out = append(out, label)
			continue
		}
		var rs []string
		for _, k := range in[g] {
			rs = append(rs, rowShort(spec, k))
		}
		out = append(out, label+" ("+strings.Join(rs, ", ")+")")
	}
	return out
}

func atoiPrefix(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = 10*n + int(c-'0')
	}
	return n
}

// gapClaims are the claims of the paper's ImageNet table: C-GaP at 80% at
// least as good as dense, and GaP better than each baseline at every
// sparsity, uniform against uniform and non-uniform against non-uniform.
func gapClaims(sparsities []float64, gap []claimSide, baselines []claimSide) []Claim {
	var out []Claim
	for _, s := range sparsities {
		for _, g := range gap {
			for _, bl := range baselines {
				if distClass(g.dist) != distClass(bl.dist) {
					continue
				}
				out = append(out, Claim{
					Text: fmt.Sprintf("%s > %s at %s, %s", g.label, bl.label, pct(s), distClass(g.dist)),
					A:    sideKey(g, s),
					B:    sideKey(bl, s),
				})
			}
		}
	}
	return out
}

// claimSide is one side of a claim: a method ("rigl", "rigl@gap" at a
// budget, "cgap#k6" a row variant, "rigl@gap#k6" both) at a distribution.
type claimSide struct{ method, dist, label string }

// sideKey is the row key of a claim side at sparsity s.
func sideKey(c claimSide, s float64) string {
	m, v, _ := strings.Cut(c.method, "#")
	m, b, _ := strings.Cut(m, "@")
	k := results.RowKey(m, s, c.dist)
	if b != "" {
		k += "@" + b
	}
	if v != "" {
		k += "#" + v
	}
	return k
}

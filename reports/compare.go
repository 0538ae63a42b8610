package reports

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"
)

// Alpha is the significance level of Compare's Mann-Whitney U test.
const Alpha = 0.05

// Compare reads two benchmark files (as written by ExportBench, or any Go
// benchmark output) and writes a benchstat-like comparison to w: per unit,
// one line per benchmark with the old and new medians and their 95%
// confidence ranges, and the change of the median when a Mann-Whitney U
// test finds it significant at Alpha ("~" when not), with the p-value and
// sample sizes. Benchmarks are matched by full name; configuration lines
// are not compared. It runs offline on the module's own code
// (golang.org/x/perf/benchfmt, benchproc, benchmath).
func Compare(oldFile, newFile string, w io.Writer) error {
	var parser benchproc.ProjectionParser
	rowBy, err := parser.Parse(".fullname", nil)
	if err != nil {
		return fmt.Errorf("reports: compare: %w", err)
	}
	unitBy, unitField, err := parser.ParseWithUnit("", nil)
	if err != nil {
		return fmt.Errorf("reports: compare: %w", err)
	}
	type cell struct{ unit, row benchproc.Key }
	var data [2]map[cell][]float64
	var units, rows []benchproc.Key
	seenUnit, seenRow := map[benchproc.Key]bool{}, map[benchproc.Key]bool{}
	for i, name := range []string{oldFile, newFile} {
		data[i] = map[cell][]float64{}
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("reports: compare: %w", err)
		}
		rd := benchfmt.NewReader(f, name)
		for rd.Scan() {
			switch rec := rd.Result().(type) {
			case *benchfmt.SyntaxError:
				f.Close()
				return fmt.Errorf("reports: compare: %w", rec)
			case *benchfmt.Result:
				row := rowBy.Project(rec)
				if !seenRow[row] {
					seenRow[row] = true
					rows = append(rows, row)
				}
				for j, uk := range unitBy.ProjectValues(rec) {
					if !seenUnit[uk] {
						seenUnit[uk] = true
						units = append(units, uk)
					}
					c := cell{uk, row}
					data[i][c] = append(data[i][c], rec.Values[j].Value)
				}
			}
		}
		err = rd.Err()
		f.Close()
		if err != nil {
			return fmt.Errorf("reports: compare: read %s: %w", name, err)
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("reports: compare: no benchmark results in %s or %s", oldFile, newFile)
	}
	benchproc.SortKeys(rows)

	th := benchmath.Thresholds{CompareAlpha: Alpha}
	stat := benchmath.AssumeNothing
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	var notes []string
	note := func(err error) string {
		msg := err.Error()
		for i, n := range notes {
			if n == msg {
				return sup(i + 1)
			}
		}
		notes = append(notes, msg)
		return sup(len(notes))
	}
	fmt.Fprintf(tw, "old: %s\nnew: %s\n", oldFile, newFile)
	for _, u := range units {
		unit := u.Get(unitField)
		fmt.Fprintf(tw, "\n%s\told %s\tnew %s\tvs old\n", unit, stat.SummaryLabel(), stat.SummaryLabel())
		for _, row := range rows {
			o, n := data[0][cell{u, row}], data[1][cell{u, row}]
			if o == nil && n == nil {
				continue
			}
			line := []string{row.StringValues(), "—", "—", "?"}
			var so, sn *benchmath.Sample
			if o != nil {
				so = benchmath.NewSample(o, &th)
				line[1] = summary(stat.Summary(so, 0.95), note)
			}
			if n != nil {
				sn = benchmath.NewSample(n, &th)
				line[2] = summary(stat.Summary(sn, 0.95), note)
			}
			if so != nil && sn != nil {
				c := stat.Compare(so, sn)
				line[3] = c.FormatDelta(stat.Summary(so, 0.95).Center, stat.Summary(sn, 0.95).Center) + " (" + c.String() + ")"
				for _, e := range c.Warnings {
					line[3] += note(e)
				}
			}
			fmt.Fprintf(tw, "%s\n", strings.Join(line, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("reports: compare: %w", err)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
	}
	for i, n := range notes {
		if _, err := fmt.Fprintf(w, "%s %s\n", sup(i+1), n); err != nil {
			return fmt.Errorf("reports: compare: %w", err)
		}
	}
	return nil
}

// summary formats a median and its confidence range, "77.1 ± 1%".
func summary(s benchmath.Summary, note func(error) string) string {
	out := strconv.FormatFloat(s.Center, 'g', 4, 64) + " ± " + s.PctRangeString()
	for _, e := range s.Warnings {
		out += note(e)
	}
	return out
}

// sup writes a footnote number as superscript digits.
func sup(n int) string {
	const digits = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	d := []rune(digits)
	var b strings.Builder
	for _, c := range strconv.Itoa(n) {
		b.WriteRune(d[c-'0'])
	}
	return b.String()
}

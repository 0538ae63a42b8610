package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/methods"
	"github.com/gap-harness/gap/results"
)

// progress prints one live line on a terminal (the latest epoch of any run,
// the table's share done and an ETA), and plain log lines otherwise.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	log      *slog.Logger
	tty      bool
	start    time.Time
	total    int
	totals   map[string]int // run ID -> its epochs (planned, then as the run reports them)
	metric   string         // the table's headline metric ("top1", "bleu", ...)
	done     map[string]int // run ID -> epochs finished
	first    map[string]int // run ID -> epochs finished when first seen (resumed work)
	lastLine int
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// unfinished are the specs without a result in dir (<dir>/<id>.arrow): the
// runs a reproduce will train. The runner skips the others without a
// word, so counting them would hold the share done and the ETA far from
// the truth when seeds are added to a finished table.
func unfinished(specs []experiments.RunSpec, dir string) []experiments.RunSpec {
	var out []experiments.RunSpec
	for _, s := range specs {
		if _, err := os.Stat(filepath.Join(dir, s.ID()+results.Ext)); err != nil {
			out = append(out, s)
		}
	}
	return out
}

func newProgress(w io.Writer, specs []experiments.RunSpec, reg *methods.Registry, log *slog.Logger) (*progress, error) {
	p := &progress{w: w, log: log, tty: isTerminal(w), start: time.Now(), done: map[string]int{}, first: map[string]int{},
		totals: map[string]int{}, metric: "metric"}
	for _, s := range specs {
		m, err := reg.New(s.Row.Method, s.MethodParams())
		if err != nil {
			return nil, fmt.Errorf("row %s: %w", s.Row.Key(), err)
		}
		n := m.Epochs(s.Profile.Epochs)
		p.totals[s.ID()] = n
		p.total += n
		if s.Metric != "" {
			p.metric = s.Metric
		}
	}
	return p, nil
}

func (p *progress) update(e experiments.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.first[e.ID]; !ok {
		p.first[e.ID] = e.Epoch - 1
	}
	if e.Epoch > p.done[e.ID] {
		p.done[e.ID] = e.Epoch
	}
	// A run's own count (with a dense warm-up, say) replaces the planned one,
	// so the share done never passes 100%.
	if n := max(e.Epochs, e.Epoch); n > p.totals[e.ID] {
		p.total += n - p.totals[e.ID]
		p.totals[e.ID] = n
	}
	var done, fresh int
	for id, d := range p.done {
		done += d
		fresh += d - p.first[id]
	}
	elapsed := time.Since(p.start)
	eta := "?"
	if fresh > 0 && done < p.total {
		eta = (time.Duration(float64(elapsed) / float64(fresh) * float64(p.total-done))).Round(time.Second).String()
	}
	metric := fmt.Sprintf("%.2f", e.Metric)
	if e.Metric < 0 {
		metric = "-"
	}
	if p.tty {
		line := fmt.Sprintf("\r[%3.0f%% eta %s] %s seed %d %s epoch %d/%d loss %s %s %s",
			100*float64(done)/float64(max(1, p.total)), eta, e.Row, e.Seed, e.Stage, e.Epoch, e.Epochs, lossText(e.Loss), p.metric, metric)
		pad := p.lastLine - len(line)
		p.lastLine = len(line)
		if pad > 0 {
			line += fmt.Sprintf("%*s", pad, "")
		}
		fmt.Fprint(p.w, line)
		return
	}
	p.log.Info("epoch", "row", e.Row, "seed", e.Seed, "stage", e.Stage, "epoch", e.Epoch, "of", e.Epochs,
		"loss", lossText(e.Loss), p.metric, metric, "table_done", fmt.Sprintf("%.0f%%", 100*float64(done)/float64(max(1, p.total))), "eta", eta)
}

func (p *progress) finish() {
	if p.tty && p.lastLine > 0 {
		fmt.Fprintln(p.w)
	}
}

// lossText prints an epoch's training loss, "-" for an epoch that trained
// nothing (a P-GaP merge reports NaN).
func lossText(l float64) string {
	if math.IsNaN(l) {
		return "-"
	}
	return fmt.Sprintf("%.4f", l)
}

package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tdata "github.com/gap-harness/gap/datasets/translation"
	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/experiments/translation"
	"github.com/gap-harness/gap/models/transformer"
	"github.com/gap-harness/gap/results"
)

// TestTranslateCommand exports a tiny (untrained) model and runs
// `gap translate -weights ... -beam 2` on three lines: one output line per
// input line, the empty line staying empty; a missing -weights is a usage
// error.
func TestTranslateCommand(t *testing.T) {
	data := t.TempDir()
	files := map[string]string{
		"train.src": "one two\nthree four five\nsix seven\n", "train.tgt": "uno dos\ntres cuatro cinco\nseis siete\n",
		"test.src": "one two\n", "test.tgt": "uno dos\n",
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(data, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	task, err := translation.New(context.Background(), translation.Spec{
		Model:  transformer.Config{D: 16, Heads: 2, FFN: 16, EncLayers: 1, DecLayers: 1, Kappa: 1},
		Data:   translation.DataSpec{Dir: data, Vocab: 40, MaxLen: 20, MaxTokens: 100},
		Search: transformer.SearchOpts{Beam: 4, LenPenalty: 1, MaxLenA: 1, MaxLenB: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := task.Export(out); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	in := strings.NewReader("one two\n\nthree five\n")
	if err := translateRun(context.Background(), []string{"-weights", filepath.Join(out, translation.ExportWeights), "-beam", "2", "-threads", "1"}, in, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 3 || lines[1] != "" {
		t.Fatalf("output %q", stdout.String())
	}
	if err := translateRun(context.Background(), nil, strings.NewReader(""), &stdout, &stderr); err == nil {
		t.Fatal("missing -weights accepted")
	}
}

// writeDigitsCorpus writes an English-Spanish corpus of digit names in the
// user-data layout (train/valid/test .src/.tgt), n training pairs and 16
// evaluation pairs per split.
func writeDigitsCorpus(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	if err := tdata.WriteDigits(dir, 7, [3]int{n, 16, 16}, 2, 4); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTranslateRun trains the dense row of the wmt14 smoke profile on a
// small corpus through `gap reproduce`, then translates the evaluation
// split with `gap translate -run <ID prefix>`: the output must equal, line
// by line, the translations of the run's final evaluation (its eval.hyp
// artifact), and scored with sacreBLEU give the BLEU the run recorded, so
// the model loaded is the run's final one. A run without an exported model, an unknown ID, a run
// of another suite's table and -run beside -weights are errors that say
// what is missing.
func TestTranslateRun(t *testing.T) {
	data := writeDigitsCorpus(t, 96)
	res := filepath.Join(t.TempDir(), "runs")
	code, _, stderr := runCLI(t, "reproduce", "-table", "wmt14", "-profile", "smoke", "-results", res,
		"-rows", "dense/0/dense", "-data", data, "-jobs", "1")
	if code != 0 {
		t.Fatalf("reproduce: exit %d\n%s", code, stderr)
	}
	runs, err := results.ReadDir(filepath.Join(res, "wmt14"), "wmt14")
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %d, %v", len(runs), err)
	}
	run := runs[0]
	art := experiments.ArtifactDir(filepath.Join(res, "wmt14"), run.ID)
	read := func(path string) []string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	src, refs, runHyps := read(filepath.Join(data, "test.src")), read(filepath.Join(data, "test.tgt")), read(filepath.Join(art, translation.ArtifactEvalHyp))
	if got := read(filepath.Join(art, translation.ArtifactEvalSrc)); strings.Join(got, "\n") != strings.Join(src, "\n") {
		t.Fatalf("%s is not the evaluation split's sources", translation.ArtifactEvalSrc)
	}
	var stdout, errb bytes.Buffer
	if err := translateRun(context.Background(), []string{"-run", run.ID[:8], "-results", res, "-threads", "1"},
		strings.NewReader(strings.Join(src, "\n")+"\n"), &stdout, &errb); err != nil {
		t.Fatalf("translate -run: %v\n%s", err, errb.String())
	}
	hyps := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(hyps) != len(src) || len(runHyps) != len(src) {
		t.Fatalf("%d translations and %d run translations of %d lines", len(hyps), len(runHyps), len(src))
	}
	for i := range hyps {
		if hyps[i] != runHyps[i] {
			t.Errorf("line %d: translate -run %q, the run's final evaluation %q", i+1, hyps[i], runHyps[i])
		}
	}
	cfg := tdata.DefaultBLEUConfig()
	cfg.Lowercase = true
	b, err := tdata.CorpusBLEU(hyps, [][]string{refs}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run %s: BLEU %.4f recorded, %.4f of the translate output; first line %q", run.ID, run.Final["bleu"], b.Score, hyps[0])
	if got, rec := b.Score, run.Final["bleu"]; math.Abs(got-rec) > 1e-9 {
		t.Fatalf("BLEU of `gap translate -run` output %.6f, the run recorded %.6f", got, rec)
	}

	// The export is the trained model, not the initial one.
	tr, err := translation.LoadTranslator(filepath.Join(art, translation.ExportWeights), filepath.Join(art, translation.ExportConfig), filepath.Join(art, translation.ExportBPE))
	if err != nil {
		t.Fatal(err)
	}
	init, err := transformer.New(tr.Model.Config())
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for _, p := range tr.Model.Params().All() {
		a, b := p.V.Value.Data(), init.Params().Get(p.Name).V.Value.Data()
		for i := range a {
			if a[i] != b[i] {
				changed++
				break
			}
		}
	}
	if changed < len(tr.Model.Params().All())/2 {
		t.Fatalf("only %d of %d exported tensors differ from the initial model", changed, len(tr.Model.Params().All()))
	}

	errCase := func(args []string, want string) {
		t.Helper()
		var o, e bytes.Buffer
		err := translateRun(context.Background(), args, strings.NewReader("one two\n"), &o, &e)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("translate %v: %v, want an error containing %q", args, err, want)
		}
	}
	errCase([]string{"-run", "ffffffffffff", "-results", res}, "no finished run")
	errCase([]string{"-run", run.ID, "-results", res, "-table", "imagenet"}, "not translation")
	errCase([]string{"-run", run.ID, "-weights", "x.safetensors"}, "not both")
	if err := os.RemoveAll(art); err != nil {
		t.Fatal(err)
	}
	errCase([]string{"-run", run.ID, "-results", res}, "has no exported model")
}

// gap train prints the table's own headline metric: BLEU for a translation
// run, not an image table's top-1 and top-5.
func TestTrainPrintsTableMetric(t *testing.T) {
	data := writeDigitsCorpus(t, 96)
	code, out, stderr := runCLI(t, "train", "-table", "wmt14", "-profile", "smoke", "-method", "dense", "-threads", "1", "-data", data, "-results", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, ": bleu ") || strings.Contains(out, "top1") {
		t.Errorf("train output does not name BLEU:\n%s", out)
	}
}

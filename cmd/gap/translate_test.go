package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/experiments/translation"
	"github.com/gap-harness/gap/models/transformer"
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

package translation

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// testdata/sacrebleu_golden.json was written by testdata/gen_sacrebleu.py,
// which runs sacreBLEU's own Tokenizer13a and BLEU.corpus_score (sacreBLEU
// source at github.com/mjpost/sacrebleu commit f615c72, Apache-2.0) on
// random text built to hit the special cases of the 13a rules (entities,
// <skipped>, "-\n", digits around '.', ',' and '-', Unicode whitespace and
// letters, final sigma, dotted capital I) and on random corpora with one
// to three references, half of them lowercased.
type golden struct {
	Tokenize13a [][2]string `json:"tokenize13a"`
	Lower       [][2]string `json:"lower"` // Python's str.lower
	CorpusBLEU  []struct {
		Hyps      []string   `json:"hyps"`
		Refs      [][]string `json:"refs"`
		Lowercase bool       `json:"lowercase"`
		Score     float64    `json:"score"`
		Line      string     `json:"line"`
	} `json:"corpus_bleu"`
}

func TestSacreBLEUGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/sacrebleu_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Tokenize13a) < 100 || len(g.CorpusBLEU) < 20 {
		t.Fatalf("golden file too small: %d %d", len(g.Tokenize13a), len(g.CorpusBLEU))
	}
	for _, c := range g.Tokenize13a {
		if got := Tokenize13a(c[0]); got != c[1] {
			t.Errorf("Tokenize13a(%q) = %q, sacreBLEU %q", c[0], got, c[1])
		}
	}
	for _, c := range g.Lower {
		if got := pyLower(c[0]); got != c[1] {
			t.Errorf("pyLower(%q) = %q, Python %q", c[0], got, c[1])
		}
	}
	for i, c := range g.CorpusBLEU {
		cfg := DefaultBLEUConfig()
		cfg.Lowercase = c.Lowercase
		s, err := CorpusBLEU(c.Hyps, c.Refs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(s.Score-c.Score) > 1e-9 || s.String() != c.Line {
			t.Errorf("corpus %d: %s (%.12f), sacreBLEU %s (%.12f)", i, s, s.Score, c.Line, c.Score)
		}
	}
}

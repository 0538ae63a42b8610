package translation

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func corpus(t *testing.T, hyps []string, refs [][]string, cfg BLEUConfig) BLEUScore {
	t.Helper()
	s, err := CorpusBLEU(hyps, refs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBLEUHand checks scores derived by hand.
func TestBLEUHand(t *testing.T) {
	cfg := DefaultBLEUConfig()
	// hyp "the cat is on the mat", ref "the cat sat on the mat" (6 tokens each):
	// 1-grams: the x2, cat, on, mat match: 5/6; 2-grams: "the cat", "on the",
	// "the mat": 3/5; 3-grams: "on the mat": 1/4; 4-grams: 0/3, which exp
	// smoothing turns into 1/(2*3). BLEU = 100*(5/6*3/5*1/4*1/6)^(1/4)
	// = 100*(1/48)^(1/4) = 37.99, BP = 1.
	s := corpus(t, []string{"the cat is on the mat"}, [][]string{{"the cat sat on the mat"}}, cfg)
	want := 100 * math.Pow(1.0/48, 0.25)
	if math.Abs(s.Score-want) > 1e-9 {
		t.Errorf("score %v, want %v", s.Score, want)
	}
	if got := s.String(); got != "BLEU = 37.99 83.3/60.0/25.0/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)" {
		t.Errorf("line %q", got)
	}
	// hyp "the cat sat on" is a prefix of the 6-token ref: every precision
	// is 100, BP = exp(1 - 6/4) = exp(-0.5).
	s = corpus(t, []string{"the cat sat on"}, [][]string{{"the cat sat on the mat"}}, cfg)
	if want := 100 * math.Exp(-0.5); math.Abs(s.Score-want) > 1e-9 {
		t.Errorf("BP case: %v, want %v", s.Score, want)
	}
	// hyp "the cat" has no 3-grams: sacreBLEU stops at the empty order and
	// log(0) is floored, so the corpus score is 0.
	s = corpus(t, []string{"the cat"}, [][]string{{"the cat sat on the mat"}}, cfg)
	if s.Score != 0 {
		t.Errorf("short hyp: %v, want 0", s.Score)
	}
	// Perfect match is 100, empty hypothesis is 0.
	s = corpus(t, []string{"A perfect, matching sentence."}, [][]string{{"A perfect, matching sentence."}}, cfg)
	if math.Abs(s.Score-100) > 1e-9 {
		t.Errorf("perfect: %v", s.Score)
	}
	s = corpus(t, []string{""}, [][]string{{"some reference"}}, cfg)
	if s.Score != 0 || s.RefLen != 2 || s.SysLen != 0 {
		t.Errorf("empty hyp: %+v", s)
	}
	// Case: "The Cat sat on the mat" vs lowercase ref differs only by case.
	hy, re := []string{"The Cat sat on the mat"}, [][]string{{"the cat sat on the mat"}}
	cs := corpus(t, hy, re, cfg)
	lc := cfg
	lc.Lowercase = true
	ls := corpus(t, hy, re, lc)
	if math.Abs(ls.Score-100) > 1e-9 || cs.Score >= 99 {
		t.Errorf("lowercase: cased %v lowercased %v", cs.Score, ls.Score)
	}
	// Two references of lengths 4 and 8 for a 6-token hypothesis: equally
	// close, the shorter (4) is used, so ref_len = 4 and BP = 1.
	s = corpus(t, []string{"a b c d e f"}, [][]string{{"a b c d"}, {"a b c d e f g h"}}, cfg)
	if s.RefLen != 4 || s.BP != 1 {
		t.Errorf("closest ref: %+v", s)
	}
	// Multiple references: n-gram clipping takes the max count over refs.
	s = corpus(t, []string{"x x"}, [][]string{{"x y"}, {"x x"}}, cfg)
	if s.Counts[0] != 2 {
		t.Errorf("clip over refs: counts %v", s.Counts)
	}
}

// sacreBLEU's own tests (github.com/mjpost/sacrebleu test/test_bleu.py and
// test/test_sentence_bleu.py, Apache-2.0, Amazon.com and the sacreBLEU
// authors); the cases and expected values are copied from there.
var (
	sbRefs = [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
	sbHyps = []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
)

func TestBLEUSacreCorpus(t *testing.T) {
	const eps = 1e-6 // sacreBLEU lists 48.530827 etc. to 6 decimals
	cases := []struct {
		hyps []string
		mod  func(*BLEUConfig)
		want float64
	}{
		{sbHyps, func(*BLEUConfig) {}, 48.530827},
		{[]string{"", "", ""}, func(*BLEUConfig) {}, 0},
		{sbHyps, func(c *BLEUConfig) { c.Tokenize = "none" }, 49.1919566},
		{sbHyps, func(c *BLEUConfig) { c.Smooth = SmoothNone }, 48.530827},
	}
	for i, c := range cases {
		cfg := DefaultBLEUConfig()
		c.mod(&cfg)
		s := corpus(t, c.hyps, sbRefs, cfg)
		if math.Abs(s.Score-c.want) > eps {
			t.Errorf("case %d: %.7f, want %.7f", i, s.Score, c.want)
		}
	}
	for order, want := range []string{"77.65", "60.50", "53.93", "48.53", "46.14", "43.28"} {
		cfg := DefaultBLEUConfig()
		cfg.MaxOrder = order + 1
		if got := fmt.Sprintf("%.2f", corpus(t, sbHyps, sbRefs, cfg).Score); got != want {
			t.Errorf("max order %d: %s, want %s", order+1, got, want)
		}
	}
}

// rawCfg is sacreBLEU's raw_corpus_bleu: no tokenization, floor smoothing,
// effective order.
func rawCfg(v float64) BLEUConfig {
	return BLEUConfig{Tokenize: "none", Smooth: SmoothFloor, SmoothValue: v, MaxOrder: 4, EffectiveOrder: true}
}

func TestBLEUSacreRaw(t *testing.T) {
	const eps = 1e-8
	cases := []struct {
		hyps []string
		refs [][]string
		want float64
	}{
		{[]string{"this is a test", "another test"}, [][]string{{"ref1", "ref2"}}, 0},
		{[]string{"this is a test"}, [][]string{{"this is a test"}}, 1},
		{[]string{"this is a fest"}, [][]string{{"this is a test"}}, 0.223606797749979},
		{[]string{"test"}, [][]string{{"a test"}}, 0.3678794411714425},
		{[]string{"a test"}, [][]string{{"a test"}}, 1},
		{[]string{"a little test"}, [][]string{{"a test"}}, 0.03218297948685433},
	}
	for i, c := range cases {
		s := corpus(t, c.hyps, c.refs, rawCfg(0.01))
		if math.Abs(s.Score/100-c.want) > eps {
			t.Errorf("raw case %d: %.12f, want %.12f", i, s.Score/100, c.want)
		}
	}
	h, r := []string{"am I am a character sequence"}, [][]string{{"I am a symbol string sequence a a"}}
	s := corpus(t, h, r, rawCfg(0.01))
	if fmt.Sprint(s.Counts, s.Totals) != "[4 2 1 0] [6 5 4 3]" {
		t.Errorf("statistics %v %v", s.Counts, s.Totals)
	}
	if s = corpus(t, h, r, rawCfg(0.1)); math.Abs(s.Score/100-0.1555722182) > eps {
		t.Errorf("offset 0.1: %v", s.Score/100)
	}
	if s = corpus(t, h, r, rawCfg(0)); s.Score != 0 {
		t.Errorf("offset 0: %v", s.Score)
	}
	sc, err := ComputeBLEU([]int{9, 7, 5, 3}, []int{10, 8, 6, 4}, 11, 11, BLEUConfig{Smooth: SmoothNone})
	if err != nil || math.Abs(sc.Score/100-0.8375922397) > eps {
		t.Errorf("compute_bleu: %v %v", sc.Score, err)
	}
	degenerate := []struct {
		c, t         []int
		sys, ref     int
		offset, want float64
	}{
		{[]int{0, 0, 0, 0}, []int{4, 4, 2, 1}, 0, 1, 0, 0},
		{[]int{0, 0, 0, 0}, []int{10, 11, 12, 0}, 14, 10, 0, 0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0, 0},
		{[]int{6, 5, 4, 0}, []int{6, 5, 4, 3}, 6, 6, 0, 0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0.1, 0},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 1, 5, 0.01, 0},
	}
	for i, d := range degenerate {
		sc, err := ComputeBLEU(d.c, d.t, d.sys, d.ref, BLEUConfig{Smooth: SmoothFloor, SmoothValue: d.offset})
		if err != nil || sc.Score != d.want {
			t.Errorf("degenerate %d: %v %v", i, sc.Score, err)
		}
	}
}

func TestBLEUSacreSentence(t *testing.T) {
	// test/test_sentence_bleu.py, example from sacreBLEU issue #98.
	ref := "producţia de zahăr brut se exprimă în zahăr alb;"
	sys := "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
	cases := []struct {
		smooth string
		value  float64
		tok    string
		want   float64
	}{
		{SmoothExp, -1, "13a", 8.493},
		{SmoothNone, -1, "13a", 0},
		{SmoothFloor, -1, "13a", 4.51688},
		{SmoothFloor, 0.1, "13a", 4.51688},
		{SmoothFloor, 0.5, "13a", 10.10},
		{SmoothAddK, -1, "13a", 14.882},
		{SmoothAddK, 1, "13a", 14.882},
		{SmoothAddK, 2, "13a", 21.389},
		{SmoothExp, -1, "none", 7.347},
	}
	for _, c := range cases {
		cfg := BLEUConfig{Tokenize: c.tok, Smooth: c.smooth, SmoothValue: c.value, MaxOrder: 4, EffectiveOrder: true}
		s := corpus(t, []string{sys}, [][]string{{ref}}, cfg)
		if math.Abs(s.Score-c.want) > 1e-3 {
			t.Errorf("%s %v %s: %v, want %v", c.smooth, c.value, c.tok, s.Score, c.want)
		}
		// Example from issue #141: no match at all is 0 whatever the smoothing.
		s = corpus(t, []string{"this is a cat"}, [][]string{{"okay thanks"}}, cfg)
		if s.Score != 0 {
			t.Errorf("zero case %s: %v", c.smooth, s.Score)
		}
	}
}

func TestTokenize13a(t *testing.T) {
	cases := map[string]string{
		"Hello, world.":                  "Hello , world .",
		"It wasn't surprising.":          "It wasn't surprising .",
		"3.14, 1,000 and 2.5.":           "3.14 , 1,000 and 2.5 .",
		"e.g.":                           "e . g .",
		"a-b 1-2 x-3":                    "a-b 1 - 2 x-3",
		"&quot;hi&quot; &amp; &lt;b&gt;": "\" hi \" & < b >",
		"<skipped>x  y\tz":               "x y z",
		"line-\nbreak\nnext":             "linebreak next",
		"(a)[b]{c}$5 50% #1 @x/y~z":      "( a ) [ b ] { c } $ 5 50 % # 1 @ x / y ~ z",
		"":                               "",
		"   ":                            "",
		"zahăr alb;":                     "zahăr alb ;",
	}
	for in, want := range cases {
		if got := Tokenize13a(in); got != want {
			t.Errorf("Tokenize13a(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScoreBLEU(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h := write("hyp", sbHyps...)
	r1 := write("r1", sbRefs[0]...)
	r2 := write("r2", sbRefs[1]...)
	var out bytes.Buffer
	if err := ScoreBLEU([]string{"-ref", r1, "-ref", r2, "-hyp", h}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "BLEU = 48.53 ") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	if err := ScoreBLEU([]string{"-ref", r1, "-hyp", h, "-lowercase"}, &out); err != nil {
		t.Fatal(err)
	}
	bad := write("short", "one line")
	err := ScoreBLEU([]string{"-ref", bad, "-hyp", h}, &out)
	if err == nil || !strings.Contains(err.Error(), "short") || !strings.Contains(err.Error(), "1 lines") {
		t.Errorf("mismatch error %v", err)
	}
	if err := ScoreBLEU([]string{"-hyp", h}, &out); err == nil {
		t.Error("missing -ref accepted")
	}
}

func FuzzTokenize13a(f *testing.F) {
	for _, s := range []string{"Hello, world.", "3.14-2", "&amp;&quot;<skipped>", "a\n-\nb", "\xff\xfe.,", "ΣΟΣ İ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Tokenize13a(s)
		if Tokenize13a(out) == "" && out != "" {
			t.Fatalf("retokenizing %q lost everything", out)
		}
		_ = pyLower(s)
		if strings.Contains(out, "  ") {
			t.Fatalf("double space in %q", out)
		}
	})
}

// TestScoreBLEUInputChecks: a UTF-8 byte-order mark is dropped (the score
// equals the one without it, as sacreBLEU reads the files), NUL bytes and a
// folder given as -ref are refused with the file (and line) named.
func TestScoreBLEUInputChecks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	h := write("hyp", strings.Join(sbHyps, "\n")+"\n")
	r := write("ref", strings.Join(sbRefs[0], "\n")+"\n")
	rb := write("ref-bom", "\ufeff"+strings.Join(sbRefs[0], "\n")+"\n")
	hb := write("hyp-bom", "\ufeff"+strings.Join(sbHyps, "\n")+"\n")
	var plain, withBOM bytes.Buffer
	if err := ScoreBLEU([]string{"-ref", r, "-hyp", h}, &plain); err != nil {
		t.Fatal(err)
	}
	if err := ScoreBLEU([]string{"-ref", rb, "-hyp", hb}, &withBOM); err != nil {
		t.Fatal(err)
	}
	if plain.String() != withBOM.String() {
		t.Errorf("BOM changes the score: %q vs %q", withBOM.String(), plain.String())
	}
	nul := write("nul", sbHyps[0]+"\n"+"a\x00b\n")
	if _, err := ReadLines(nul); err == nil || !strings.Contains(err.Error(), nul+":2: NUL byte at byte 2") {
		t.Errorf("NUL: %v", err)
	}
	if err := ScoreBLEU([]string{"-ref", dir, "-hyp", h}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), dir+": is a folder, want a text file") {
		t.Errorf("folder: %v", err)
	}
	long := write("long", strings.Repeat("a", maxLineBytes+1)+"\n")
	if _, err := ReadLines(long); err == nil || !strings.Contains(err.Error(), long+":1: line longer than") {
		t.Errorf("long line: %v", err)
	}
	empty := write("empty", "")
	if err := ScoreBLEU([]string{"-ref", empty, "-hyp", empty}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), empty+": 0 lines") {
		t.Errorf("empty files: %v", err)
	}
	var help bytes.Buffer
	if err := ScoreBLEU([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "-ref") || !strings.Contains(help.String(), "-tokenize") {
		t.Errorf("-h: %v, printed %q", err, help.String())
	}
}

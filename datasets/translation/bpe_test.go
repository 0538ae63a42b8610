package translation

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var toyText = []string{
	"low low low low low lower lower newest newest newest",
	"newest newest newest widest widest widest",
	"the  quick brown fox, the lazy dog.",
}

func TestBPEToy(t *testing.T) {
	b, err := TrainBPE(toyText, 60)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Merges()
	// Pair counts: ("e","s") occurs in newest x6 and widest x3 = 9 times,
	// ("s","t</w>") also 9, ("w","e") 8 (lower x2, newest x6), ("l","o") 7.
	// The tie at 9 goes to the smaller left symbol: "e" < "s".
	if len(m) == 0 || m[0] != [2]string{"e", "s"} {
		t.Errorf("first merge %v", m[:min(3, len(m))])
	}
	for _, s := range toyText {
		want := strings.Join(strings.Fields(s), " ")
		if got := b.Decode(b.Encode(s)); got != want {
			t.Errorf("round trip %q -> %q", s, got)
		}
	}
	if ids := b.Encode("lowest"); len(ids) == 0 {
		t.Error("empty encoding")
	}
	if ids := b.Encode("ß"); len(ids) != 1 || ids[0] != UNKID {
		t.Errorf("unknown char -> %v", ids)
	}
	if _, err := TrainBPE(toyText, 5); err == nil {
		t.Error("too small vocab accepted")
	}
}

func TestBPEDeterministicSaveLoad(t *testing.T) {
	texts := toyText
	if c := swordCorpus(t); c != nil {
		texts = nil
		for _, p := range c.Train[:1000] {
			texts = append(texts, p.Src, p.Tgt)
		}
	}
	a, err := TrainBPE(texts, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainBPE(texts, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Merges(), b.Merges()) || a.VocabSize() != b.VocabSize() {
		t.Fatal("two trainings differ")
	}
	p := filepath.Join(t.TempDir(), "bpe.txt")
	if err := a.Save(p); err != nil {
		t.Fatal(err)
	}
	c, err := LoadBPE(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.vocab, c.vocab) || !reflect.DeepEqual(a.Merges(), c.Merges()) {
		t.Fatal("save/load changed the tokenizer")
	}
	for _, s := range texts {
		if got, want := c.Decode(a.Encode(s)), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	}
	if _, err := ParseBPE(strings.NewReader(bpeHeader+"\nm\tq\tz\n"), "bad"); err == nil || !strings.Contains(err.Error(), "unknown symbol") {
		t.Errorf("bad merge: %v", err)
	}
	if _, err := ParseBPE(strings.NewReader("nope\n"), "bad"); err == nil || !strings.Contains(err.Error(), "bad:1") {
		t.Errorf("bad header: %v", err)
	}
}

// BenchmarkSWORDEncode trains the default tokenizer (8000 symbols) on the
// SWORD training split and measures one encoding pass over it; it reports
// pairs/s. Run: go test -run X -bench SWORDEncode -benchtime 1x.
func BenchmarkSWORDEncode(b *testing.B) {
	c := swordCorpus(b)
	var texts []string
	for _, p := range c.Train {
		texts = append(texts, p.Src, p.Tgt)
	}
	t0 := time.Now()
	bpe, err := TrainBPE(texts, 8000)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("BPE vocab %d trained on %d sentences in %v", bpe.VocabSize(), len(texts), time.Since(t0))
	b.ResetTimer()
	ntok := 0
	for b.Loop() {
		ntok = 0
		for _, p := range c.Train {
			ntok += len(bpe.Encode(p.Src)) + len(bpe.Encode(p.Tgt))
		}
	}
	b.ReportMetric(float64(len(c.Train)*b.N)/b.Elapsed().Seconds(), "pairs/s")
	b.ReportMetric(float64(ntok), "tokens/pass")
}

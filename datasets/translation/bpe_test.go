package translation

import (
	"context"
	"os/exec"
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
	if _, err := exec.LookPath("mod2imp"); err == nil {
		if c, err := LoadSWORD(context.Background(), t.TempDir(), "", ""); err == nil {
			texts = nil
			for _, p := range c.Train[:3000] {
				texts = append(texts, p.Src, p.Tgt)
			}
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
	for _, s := range texts[:200] {
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

// TestSWORDThroughput trains the default tokenizer on the SWORD training
// split and measures encoding speed (pairs per second) over it.
func TestSWORDThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := exec.LookPath("mod2imp"); err != nil {
		t.Skip("mod2imp absent: apt-get install sword-text-kjv sword-text-sparv libsword-utils")
	}
	c, err := LoadSWORD(context.Background(), t.TempDir(), "", "")
	if err != nil {
		t.Skip(err)
	}
	var texts []string
	for _, p := range c.Train {
		texts = append(texts, p.Src, p.Tgt)
	}
	t0 := time.Now()
	b, err := TrainBPE(texts, 8000)
	if err != nil {
		t.Fatal(err)
	}
	train := time.Since(t0)
	t0 = time.Now()
	ntok := 0
	for _, p := range c.Train {
		ntok += len(b.Encode(p.Src)) + len(b.Encode(p.Tgt))
	}
	enc := time.Since(t0)
	t.Logf("BPE vocab %d trained in %v; encoded %d pairs (%d tokens) in %v = %.0f pairs/s",
		b.VocabSize(), train, len(c.Train), ntok, enc, float64(len(c.Train))/enc.Seconds())
}

package translation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadParallel(t *testing.T) {
	dir := t.TempDir()
	src, tgt := filepath.Join(dir, "a.en"), filepath.Join(dir, "a.es")
	os.WriteFile(src, []byte("one\r\ntwo\nthree"), 0o644)
	os.WriteFile(tgt, []byte("uno\ndos\ntres\n"), 0o644)
	p, err := ReadParallel(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 3 || p[0] != (Pair{"one", "uno"}) || p[2] != (Pair{"three", "tres"}) {
		t.Errorf("pairs %q", p)
	}
	os.WriteFile(tgt, []byte("uno\ndos\n"), 0o644)
	_, err = ReadParallel(src, tgt)
	if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), tgt) ||
		!strings.Contains(err.Error(), "3 lines") || !strings.Contains(err.Error(), "2 lines") {
		t.Errorf("mismatch error: %v", err)
	}
	os.WriteFile(tgt, []byte("uno\n\xffdos\ntres\n"), 0o644)
	if _, err = ReadParallel(src, tgt); err == nil || !strings.Contains(err.Error(), tgt+":2") {
		t.Errorf("bad utf-8 error: %v", err)
	}
}

func TestTSV(t *testing.T) {
	in := []Pair{{"a b", "c d"}, {"", "x"}}
	var sb strings.Builder
	if err := WriteTSV(&sb, in); err != nil {
		t.Fatal(err)
	}
	got, err := ParseTSV(strings.NewReader(sb.String()), "x.tsv")
	if err != nil || len(got) != 2 || got[0] != in[0] || got[1] != in[1] {
		t.Fatalf("round trip %q %v", got, err)
	}
	for _, bad := range []string{"ok\tok\nnotab\n", "a\tb\tc\n"} {
		_, err := ParseTSV(strings.NewReader(bad), "x.tsv")
		if err == nil || !strings.Contains(err.Error(), "x.tsv:") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := WriteTSV(&sb, []Pair{{"a\tb", "c"}}); err == nil {
		t.Error("tab in sentence accepted")
	}
}

func FuzzParseTSV(f *testing.F) {
	f.Add("a\tb\nc\td\n")
	f.Add("no tab\n")
	f.Add("\xff\t\xfe\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseTSV(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		var sb strings.Builder
		if WriteTSV(&sb, p) == nil {
			q, err := ParseTSV(strings.NewReader(sb.String()), "again")
			if err != nil || len(q) != len(p) {
				t.Fatalf("rewrite of %q failed: %v", s, err)
			}
		}
	})
}

func FuzzParseParallel(f *testing.F) {
	f.Add("a\nb\n", "c\nd\n")
	f.Add("a\n", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		p, err := ParseParallel(strings.NewReader(a), strings.NewReader(b), "src", "tgt")
		if err == nil && len(p) > len(a)+1 {
			t.Fatal("more pairs than bytes")
		}
	})
}

func FuzzParseBPE(f *testing.F) {
	f.Add(bpeHeader + "\na\tx\na\ty</w>\nm\tx\ty</w>\n")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBPE(strings.NewReader(s), "fuzz")
		if err == nil {
			b.Decode(b.Encode("x y xy"))
		}
	})
}

package translation

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

func TestStripOSIS(t *testing.T) {
	in := `<div type="x-milestone" subType="x-preverse" sID="pv1"/>And <w lemma="strong:H0430">God</w> <w lemma="strong:H0559">said</w>, Let there <transChange type="added">be</transChange> &amp; ¶ light.<note placement="foot"><reference type="annotateRef">1.4 </reference>Heb. between</note>  <div eID="gen3" type="x-p"/>`
	if got, want := StripOSIS(in), "And God said, Let there be & light."; got != want {
		t.Errorf("StripOSIS = %q, want %q", got, want)
	}
	in = `<title type="x-heading">Heading</title><title canonical="true" type="psalm">A Psalm of <w>David</w>.</title> <l/>O LORD`
	if got, want := StripOSIS(in), "A Psalm of David. O LORD"; got != want {
		t.Errorf("titles: %q, want %q", got, want)
	}
	if got := StripOSIS("a <broken"); got != "a <broken" {
		t.Errorf("unterminated: %q", got)
	}
}

func TestParseIMP(t *testing.T) {
	imp := "$$$[ Module Heading ]\n\n$$$Genesis 0:0\n<title>x</title>\n$$$Genesis 1:0\n<chapter/>\n$$$Genesis 1:1\nIn the <w>beginning</w>\n$$$1 Samuel 3:4\nline one\nline two\n"
	vs, err := ParseIMP(strings.NewReader(imp), "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0] != (Verse{"Genesis 1:1", "In the beginning"}) || vs[1] != (Verse{"1 Samuel 3:4", "line one line two"}) {
		t.Errorf("verses %q", vs)
	}
}

// Split sizes of the default corpus (engKJV2006eb x spaRV1909eb as Debian
// ships them): a change here means the corpus or the split changed.
const (
	wantTrain, wantValid, wantTest = 29134, 998, 952
)

// swordOnce exports the default corpus once for all tests of the package.
var swordOnce struct {
	sync.Once
	dir string
	c   *Corpus
	err error
}

// swordCorpus returns the default SWORD corpus (cached in a temporary
// directory shared by the package's tests), or skips the test when mod2imp
// or the modules are missing.
func swordCorpus(tb testing.TB) *Corpus {
	tb.Helper()
	if _, err := exec.LookPath("mod2imp"); err != nil {
		tb.Skip("mod2imp absent: apt-get install sword-text-kjv sword-text-sparv libsword-utils")
	}
	swordOnce.Do(func() {
		swordOnce.dir, swordOnce.err = os.MkdirTemp("", "gap-sword-test")
		if swordOnce.err == nil {
			swordOnce.c, swordOnce.err = LoadSWORD(context.Background(), swordOnce.dir, "", "")
		}
	})
	if swordOnce.err != nil {
		tb.Skip("SWORD modules unavailable: ", swordOnce.err)
	}
	return swordOnce.c
}

func TestMain(m *testing.M) {
	code := m.Run()
	if swordOnce.dir != "" {
		os.RemoveAll(swordOnce.dir)
	}
	os.Exit(code)
}

func TestLoadSWORD(t *testing.T) {
	c := swordCorpus(t)
	dir := swordOnce.dir
	n := len(c.Train) + len(c.Valid) + len(c.Test)
	t.Logf("pairs %d: train %d valid %d test %d", n, len(c.Train), len(c.Valid), len(c.Test))
	if n <= 30000 {
		t.Errorf("only %d pairs, want > 30000", n)
	}
	if wantTrain >= 0 && (len(c.Train) != wantTrain || len(c.Valid) != wantValid || len(c.Test) != wantTest) {
		t.Errorf("split sizes %d/%d/%d, want %d/%d/%d", len(c.Train), len(c.Valid), len(c.Test), wantTrain, wantValid, wantTest)
	}
	c2, err := LoadSWORD(context.Background(), dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c2.Train) != len(c.Train) || c2.Test[0] != c.Test[0] || c2.Train[len(c2.Train)-1] != c.Train[len(c.Train)-1] {
		t.Error("cached corpus differs from the exported one")
	}
	if _, err := ExportModule(context.Background(), "noSuchModuleXYZ"); err == nil || !strings.Contains(err.Error(), "sword-text-kjv") {
		t.Errorf("missing module error %v", err)
	}
}

func TestExportModuleNoMod2imp(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := ExportModule(context.Background(), DefaultSrcModule)
	if err == nil || !strings.Contains(err.Error(), "libsword-utils") {
		t.Errorf("error %v, want one naming the Debian packages", err)
	}
	if _, err := LoadSWORD(context.Background(), t.TempDir(), "", ""); err == nil {
		t.Error("LoadSWORD without mod2imp and without cache succeeded")
	}
}

func FuzzStripOSIS(f *testing.F) {
	f.Add(`a <w lemma="x">b</w><note>c<note>d</note>e</note> &amp; <title>t</title>`)
	f.Add("<title canonical=\"true\">x</title>< <>")
	f.Fuzz(func(t *testing.T, s string) {
		out := StripOSIS(s)
		if strings.Contains(out, "  ") || strings.TrimSpace(out) != out {
			t.Fatalf("whitespace not normalised: %q", out)
		}
	})
}

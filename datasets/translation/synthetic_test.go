package translation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteDigits writes the three splits with the asked line counts, each
// target line the word-by-word Spanish of its source line, the same bytes
// for the same seed, and refuses a length range it cannot draw from.
func TestWriteDigits(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := WriteDigits(d, 3, [3]int{20, 5, 7}, 2, 4); err != nil {
			t.Fatal(err)
		}
	}
	es := map[string]string{"zero": "cero", "one": "uno", "two": "dos", "three": "tres", "four": "cuatro",
		"five": "cinco", "six": "seis", "seven": "siete", "eight": "ocho", "nine": "nueve"}
	for split, n := range map[string]int{"train": 20, "valid": 5, "test": 7} {
		src, err := os.ReadFile(filepath.Join(a, split+".src"))
		if err != nil {
			t.Fatal(err)
		}
		tgt, _ := os.ReadFile(filepath.Join(a, split+".tgt"))
		sl, tl := strings.Split(strings.TrimSuffix(string(src), "\n"), "\n"), strings.Split(strings.TrimSuffix(string(tgt), "\n"), "\n")
		if len(sl) != n || len(tl) != n {
			t.Fatalf("%s: %d and %d lines, want %d", split, len(sl), len(tl), n)
		}
		for i := range sl {
			var want []string
			for _, w := range strings.Fields(sl[i]) {
				want = append(want, es[w])
			}
			if strings.Join(want, " ") != tl[i] {
				t.Errorf("%s line %d: %q translated as %q", split, i+1, sl[i], tl[i])
			}
		}
		other, _ := os.ReadFile(filepath.Join(b, split+".src"))
		if string(other) != string(src) {
			t.Errorf("%s: two writes with one seed differ", split)
		}
	}
	if err := WriteDigits(t.TempDir(), 1, [3]int{1, 1, 1}, 2, 0); err == nil {
		t.Error("spread 0 accepted")
	}
}

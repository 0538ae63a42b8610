package translation

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// WriteDigits writes a numbers-in-words English-Spanish parallel corpus in
// the user-data layout (train, valid and test, each <split>.src and
// <split>.tgt, one sentence per line) into dir, for tests and examples.
// counts holds the sentences of train, valid and test. One PCG generator
// seeded (seed, seed) draws every split in that order; a sentence grows a
// word at a time while its length is under lo plus a fresh draw in
// [0, spread), each word a digit 0-9 ("three" / "tres").
func WriteDigits(dir string, seed uint64, counts [3]int, lo, spread int) error {
	if lo < 0 || spread < 1 {
		return fmt.Errorf("write digits corpus: lo %d, spread %d: expected >= 0 and >= 1", lo, spread)
	}
	en := strings.Fields("zero one two three four five six seven eight nine")
	es := strings.Fields("cero uno dos tres cuatro cinco seis siete ocho nueve")
	rng := rand.New(rand.NewPCG(seed, seed))
	for i, split := range []string{"train", "valid", "test"} {
		var src, tgt strings.Builder
		for range counts[i] {
			var a, b []string
			for j := 0; j < lo+rng.IntN(spread); j++ {
				d := rng.IntN(10)
				a, b = append(a, en[d]), append(b, es[d])
			}
			src.WriteString(strings.Join(a, " ") + "\n")
			tgt.WriteString(strings.Join(b, " ") + "\n")
		}
		for _, f := range []struct{ ext, text string }{{".src", src.String()}, {".tgt", tgt.String()}} {
			if err := atomicfile.WriteBytes(filepath.Join(dir, split+f.ext), []byte(f.text)); err != nil {
				return fmt.Errorf("write digits corpus: %w", err)
			}
		}
	}
	return nil
}

package translation

import (
	"context"
	tdata "github.com/gap-harness/gap/datasets/translation"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/models/transformer"
)

var (
	enWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	esWords = []string{"cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"}
)

// writeToyCorpus writes a numbers-in-words English-Spanish corpus in the
// user-data layout (train/valid/test .src/.tgt) and returns its directory.
func writeToyCorpus(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	if err := tdata.WriteDigits(dir, 1, [3]int{nTrain, nTest, nTest}, 3, 4); err != nil {
		t.Fatal(err)
	}
	return dir
}

func toySpec(dir string) Spec {
	return Spec{
		Model:  transformer.Config{D: 32, Heads: 4, FFN: 64, EncLayers: 3, DecLayers: 3, LabelSmoothing: 0.1, Kappa: 6},
		Data:   DataSpec{Dir: dir, EvalSplit: "test", Vocab: 60, MaxLen: 40, MaxTokens: 400},
		Search: transformer.SearchOpts{Beam: 2, LenPenalty: 1, MaxLenA: 1.5, MaxLenB: 4},
		Seed:   7,
	}
}

// TestTaskTrainsAndEvaluates trains the toy task for a few dozen Adam steps
// and requires the loss to fall; Evaluate must return the headline BLEU
// (case-insensitive) and the cased one, in [0, 100]. Batches are a pure
// function of (seed, epoch, step).
func TestTaskTrainsAndEvaluates(t *testing.T) {
	dir := writeToyCorpus(t, 300, 16)
	task, err := New(context.Background(), toySpec(dir))
	if err != nil {
		t.Fatal(err)
	}
	if task.NumPartitions() != 6 || task.StepsPerEpoch() < 2 || task.ExamplesPerStep() < 1 || task.DenseForwardFLOPs() <= 0 {
		t.Fatalf("partitions %d steps %d examples %d flops %g", task.NumPartitions(), task.StepsPerEpoch(), task.ExamplesPerStep(), task.DenseForwardFLOPs())
	}
	for _, p := range task.Params().All() {
		if task.PartitionOf(p.Name) < 0 {
			t.Fatalf("%s has no partition", p.Name)
		}
	}
	a, _ := task.Batch(2, 1)
	b, _ := task.Batch(2, 1)
	c, _ := task.Batch(3, 1)
	if !equalIDs(a.Src, b.Src) || !equalIDs(a.TgtOut, b.TgtOut) {
		t.Fatal("same (epoch, step) gave different batches")
	}
	if equalIDs(a.Src, c.Src) && task.StepsPerEpoch() > 3 {
		t.Log("epochs 2 and 3 happen to start step 1 with the same batch")
	}
	opt, err := optim.NewAdam(task.Params().Vars(), optim.AdamConfig{LR: 3e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-9, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	rng := rand.New(rand.NewPCG(1, 2))
	var first, last float64
	n := 0
	for epoch := 0; n < 40; epoch++ {
		for step := 0; step < task.StepsPerEpoch() && n < 40; step++ {
			tp.Reset()
			task.Params().ZeroGrad()
			l, err := task.Loss(tp, epoch, step, rng)
			if err != nil {
				t.Fatal(err)
			}
			v := float64(l.Value.Data()[0])
			if math.IsNaN(v) {
				t.Fatal("NaN loss")
			}
			if n == 0 {
				first = v
			}
			last = v
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step()
			n++
		}
	}
	if !(last < first*0.7) {
		t.Fatalf("loss %g -> %g after %d steps: not learning", first, last, n)
	}
	m, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bleu", "bleu_cased"} {
		if v, ok := m[k]; !ok || v < 0 || v > 100 || math.IsNaN(v) {
			t.Fatalf("%s = %v (%v)", k, v, m)
		}
	}
	if m["eval_sentences"] != 16 {
		t.Fatalf("eval sentences %v", m["eval_sentences"])
	}
	t.Logf("loss %.3f -> %.3f in %d steps; BLEU %.2f (cased %.2f)", first, last, n, m["bleu"], m["bleu_cased"])
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBadCorpus checks the errors for mismatched line counts, an empty line
// and invalid UTF-8 name the file and line.
func TestBadCorpus(t *testing.T) {
	for _, c := range []struct {
		name, src, tgt, want string
	}{
		{"mismatch", "a b\nc d\n", "x y\n", "train.src has 2 lines but"},
		{"empty", "a b\n\n", "x y\nz\n", "train.src:2: empty sentence"},
		{"empty target", "a b\nc\n", "x y\n \n", "train.tgt:2: empty sentence"},
		{"utf8", "a b\nc \xff d\n", "x y\nz\n", "train.src:2: invalid UTF-8"},
	} {
		dir := t.TempDir()
		for name, body := range map[string]string{"train.src": c.src, "train.tgt": c.tgt, "test.src": "a\n", "test.tgt": "x\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := New(context.Background(), toySpec(dir))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
	// Over-long pairs are skipped and counted.
	dir := writeToyCorpus(t, 50, 4)
	s := toySpec(dir)
	s.Data.MaxLen = 8
	task, err := New(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if task.Skipped() == 0 {
		t.Error("no pair skipped at max length 8")
	}
	s.Data.MaxTokens = 4
	if _, err := New(context.Background(), s); err == nil {
		t.Error("a batch budget smaller than one pair was accepted")
	}
}

// TestRowsAndProfiles checks the table's 17 rows and the four profiles.
func TestRowsAndProfiles(t *testing.T) {
	if n := len(Rows()); n != 17 {
		t.Fatalf("%d rows", n)
	}
	ps := Profiles()
	want := []string{"smoke", "default", "long", "full"}
	for i, p := range ps {
		if p.Name != want[i] || p.Proxy != (p.Name != "full") || p.Label == "" {
			t.Fatalf("profile %d: %+v", i, p)
		}
	}
}

// TestScoreBLEU: the references themselves score 100 cased and uncased;
// upper-cased hypotheses keep 100 case-insensitively and lose it cased.
func TestScoreBLEU(t *testing.T) {
	refs := []string{"En el principio creó Dios los cielos y la tierra.", "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la haz del abismo."}
	m, err := scoreBLEU(refs, refs)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m["bleu"]-100) > 1e-9 || math.Abs(m["bleu_cased"]-100) > 1e-9 {
		t.Fatalf("refs vs refs: %v", m)
	}
	up := []string{strings.ToUpper(refs[0]), strings.ToUpper(refs[1])}
	if m, err = scoreBLEU(up, refs); err != nil {
		t.Fatal(err)
	}
	if math.Abs(m["bleu"]-100) > 1e-9 || m["bleu_cased"] > 10 {
		t.Fatalf("upper-cased: %v", m)
	}
}

// TestDeterministic builds the same task twice and requires bit-identical
// losses over a few steps with dropout from the same seed.
func TestDeterministic(t *testing.T) {
	dir := writeToyCorpus(t, 60, 4)
	run := func() []float32 {
		s := toySpec(dir)
		s.Model.Dropout, s.Model.AttnDropout, s.Model.ReLUDropout = 0.1, 0.1, 0.1
		task, err := New(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		opt, err := optim.NewAdam(task.Params().Vars(), optim.AdamConfig{LR: 1e-3, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		tp := engine.NewTape[float32](2)
		rng := rand.New(rand.NewPCG(3, 3))
		var out []float32
		for step := 0; step < 3; step++ {
			tp.Reset()
			task.Params().ZeroGrad()
			l, err := task.Loss(tp, 1, step%task.StepsPerEpoch(), rng)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, l.Value.Data()[0])
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step()
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("step %d: %v vs %v", i, a[i], b[i])
		}
	}
}

// TestSpecFor: the full profile needs a data folder; kappa and seed land in
// the spec.
func TestSpecFor(t *testing.T) {
	full, err := ProfileByName("full")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SpecFor(full, 3, 1, "", ""); err == nil {
		t.Fatal("full profile without DATA accepted")
	}
	smoke, _ := ProfileByName("smoke")
	s, err := SpecFor(smoke, 6, 9, "", "/tmp/x")
	if err != nil || s.Model.Kappa != 6 || s.Seed != 9 || s.Data.CacheDir != "/tmp/x" {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := ProfileByName("nope"); err == nil {
		t.Fatal("unknown profile accepted")
	}
}

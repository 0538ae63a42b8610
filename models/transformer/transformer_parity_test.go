//go:build parity

package transformer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/engine/optim"
)

// reverseBatch is a batch of the reversal task: random sources of 4-10
// tokens, targets the source reversed (learnable in a few dozen steps, so the
// greedy outputs after training are not noise).
func reverseBatch(rng *rand.Rand, vocab, b int) *Batch {
	srcs := make([][]int32, b)
	ls := 0
	for i := range srcs {
		n := 4 + rng.IntN(7)
		for j := 0; j < n; j++ {
			srcs[i] = append(srcs[i], int32(4+rng.IntN(vocab-4)))
		}
		ls = max(ls, n)
	}
	lt := ls + 1
	bt := &Batch{B: b, SrcLen: ls, TgtLen: lt, Src: make([]int32, b*ls), TgtIn: make([]int32, b*lt), TgtOut: make([]int32, b*lt)}
	for i, s := range srcs {
		copy(bt.Src[i*ls:], s)
		bt.TgtIn[i*lt] = BOSID
		for j := range s {
			w := s[len(s)-1-j]
			bt.TgtOut[i*lt+j] = w
			bt.TgtIn[i*lt+j+1] = w
		}
		bt.TgtOut[i*lt+len(s)] = EOSID
	}
	return bt
}

func idsTensor(ids []int32, b, l int) nn.STensor {
	d := make([]float32, len(ids))
	for i, x := range ids {
		d[i] = float32(x)
	}
	return nn.STensor{Shape: []int{b, l}, Data: d}
}

// TestParityTorch trains the Go model and its PyTorch twin
// (scripts/torch/parity_transformer.py) from the same initial weights on the
// same 50 batches with Adam (0.9, 0.98), dropout off, and requires every
// step's loss to agree to 1e-3 relative; then PyTorch greedy-decodes 100
// test sentences from Go's trained weights (re-running the whole prefix each
// step) and at least 99% must equal Go's incremental (KV-cache) greedy output;
// likewise PyTorch's beam-4 search with its own KV cache against Go's Beam.
func TestParityTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("python3-torch not installed (make setup-torch installs it): skipping the Transformer parity check")
	}
	const steps, batch, nTest = 50, 16, 100
	const lr, maxA, maxB = 1e-3, 1.0, 3
	cfg := Config{Vocab: 40, D: 32, Heads: 4, FFN: 64, EncLayers: 2, DecLayers: 2, LabelSmoothing: 0.1, Kappa: 2, SrcLen: 10, TgtLen: 11, Seed: 11}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Params().SaveSafetensors(filepath.Join(dir, "init.safetensors"), nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cj, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ts := map[string]nn.STensor{}
	batches := make([]*Batch, steps)
	for i := range batches {
		bt := reverseBatch(rng, cfg.Vocab, batch)
		batches[i] = bt
		ts[fmt.Sprintf("src.%d", i)] = idsTensor(bt.Src, bt.B, bt.SrcLen)
		ts[fmt.Sprintf("tgt_in.%d", i)] = idsTensor(bt.TgtIn, bt.B, bt.TgtLen)
		ts[fmt.Sprintf("tgt_out.%d", i)] = idsTensor(bt.TgtOut, bt.B, bt.TgtLen)
	}
	test := reverseBatch(rng, cfg.Vocab, nTest)
	ts["test_src"] = idsTensor(test.Src, test.B, test.SrcLen)
	var buf bytes.Buffer
	meta := map[string]string{"steps": strconv.Itoa(steps), "lr": fmt.Sprint(lr), "max_a": fmt.Sprint(maxA), "max_b": strconv.Itoa(maxB)}
	if err := nn.WriteSafetensors(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "batches.safetensors"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Go: 50 Adam steps.
	opt, err := optim.NewAdam(m.Params().Vars(), optim.AdamConfig{LR: lr, Beta1: 0.9, Beta2: 0.98, Eps: 1e-9, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tp := engine.NewTape[float32](2)
	goLoss := make([]float64, steps)
	for i, bt := range batches {
		tp.Reset()
		m.Params().ZeroGrad()
		l := m.Loss(tp, bt, true, rand.New(rand.NewPCG(0, 0)))
		goLoss[i] = float64(l.Value.Data()[0])
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		opt.Step()
	}
	if err := m.Params().SaveSafetensors(filepath.Join(dir, "final.safetensors"), nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	tp = engine.NewTape[float32](2)
	goGreedy := m.Greedy(tp, test.Src, test.B, test.SrcLen, SearchOpts{Beam: 1, LenPenalty: 1, MaxLenA: maxA, MaxLenB: maxB})
	goBeam := m.Beam(tp, test.Src, test.B, test.SrcLen, SearchOpts{Beam: 4, LenPenalty: 1, MaxLenA: maxA, MaxLenB: maxB})
	// PyTorch.
	cmd := exec.Command(py, filepath.Join("..", "..", "scripts", "torch", "parity_transformer.py"), dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("parity_transformer.py: %v\n%s", err, out)
	}
	var thLoss []float64
	thGreedy, thBeam := map[int]string{}, map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "loss":
			v, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				t.Fatalf("bad line %q", sc.Text())
			}
			thLoss = append(thLoss, v)
		case len(f) >= 2 && f[0] == "greedy":
			i, _ := strconv.Atoi(f[1])
			thGreedy[i] = strings.Join(f[2:], " ")
		case len(f) >= 2 && f[0] == "beam4":
			i, _ := strconv.Atoi(f[1])
			thBeam[i] = strings.Join(f[2:], " ")
		}
	}
	if len(thLoss) != steps || len(thGreedy) != nTest || len(thBeam) != nTest {
		t.Fatalf("PyTorch printed %d losses and %d decodings:\n%s", len(thLoss), len(thGreedy), out)
	}
	worst := 0.0
	for i := range goLoss {
		rel := math.Abs(goLoss[i]-thLoss[i]) / math.Abs(thLoss[i])
		worst = math.Max(worst, rel)
		if rel > 1e-3 {
			t.Errorf("step %d: Go loss %.7g, PyTorch %.7g (rel %.2g)", i, goLoss[i], thLoss[i], rel)
		}
	}
	agree := func(what string, hyps []Hypothesis, th map[int]string) int {
		same := 0
		for i, h := range hyps {
			s := make([]string, len(h.Tokens))
			for j, x := range h.Tokens {
				s[j] = strconv.Itoa(int(x))
			}
			if strings.Join(s, " ") == th[i] {
				same++
			} else {
				t.Logf("%s sentence %d: Go %v, PyTorch %s", what, i, h.Tokens, th[i])
			}
		}
		return same
	}
	same, sameBeam := agree("greedy", goGreedy, thGreedy), agree("beam 4", goBeam, thBeam)
	t.Logf("loss step 0 %.6g -> step %d %.6g; max relative loss difference over %d steps: %.3g; equal outputs: greedy %d/%d, beam 4 %d/%d",
		goLoss[0], steps-1, goLoss[steps-1], steps, worst, same, nTest, sameBeam, nTest)
	if same*100 < 99*nTest || sameBeam*100 < 99*nTest {
		t.Errorf("outputs equal for greedy %d and beam 4 %d of %d sentences (need 99%%)", same, sameBeam, nTest)
	}
}

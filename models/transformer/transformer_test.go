package transformer

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
)

func tiny(kappa int) Config {
	return Config{Vocab: 37, D: 16, Heads: 4, FFN: 24, EncLayers: 3, DecLayers: 3, Dropout: 0.1,
		AttnDropout: 0.1, ReLUDropout: 0.1, LabelSmoothing: 0.1, Kappa: kappa, SrcLen: 7, TgtLen: 6, Seed: 3}
}

// TestPartitions checks the reference's splits: 6+6 kappa 3 is enc0-3 /
// enc4-5 + dec0-1 / dec2-5, kappa 6 pairs, 3+3 kappa 6 single layers.
func TestPartitions(t *testing.T) {
	for _, c := range []struct {
		enc, dec, kappa int
		want            string
	}{
		{6, 6, 3, "000011 112222"},
		{6, 6, 6, "001122 334455"},
		{3, 3, 6, "012 345"},
		{3, 3, 3, "001 122"},
		{6, 6, 2, "000000 111111"},
		{2, 2, 1, "00 00"},
	} {
		p, err := layerPartitions(c.enc, c.dec, c.kappa)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for i, x := range p {
			if i == c.enc {
				sb.WriteByte(' ')
			}
			sb.WriteByte(byte('0' + x))
		}
		if sb.String() != c.want {
			t.Errorf("%d+%d kappa %d: %s, want %s", c.enc, c.dec, c.kappa, sb.String(), c.want)
		}
	}
	if _, err := layerPartitions(2, 2, 6); err == nil {
		t.Error("kappa 6 at 2+2 accepted")
	}
	if _, err := layerPartitions(1, 1, 3); err == nil {
		t.Error("kappa 3 at 1+1 accepted (a partition would be empty)")
	}
	if _, err := layerPartitions(3, 3, 4); err == nil {
		t.Error("kappa 4 accepted")
	}
}

// TestParams checks names, prunable flags, partitions of every parameter and
// the per-layer prunable sizes of the reference (6 encoder matrices of
// 4d^2+2d*ffn, 10 decoder matrices of 8d^2+2d*ffn).
func TestParams(t *testing.T) {
	m, err := New(tiny(6))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	ps := m.Params()
	var encW, decW, nPrun int
	for _, p := range ps.All() {
		isW := strings.HasSuffix(p.Name, ".weight")
		matrix := isW && (strings.Contains(p.Name, "_proj.") || strings.Contains(p.Name, ".fc"))
		if p.Prunable != matrix {
			t.Errorf("%s: prunable %v", p.Name, p.Prunable)
		}
		part := m.PartitionOf(p.Name)
		if part < 0 || part >= m.NumPartitions() {
			t.Errorf("%s: partition %d", p.Name, part)
		}
		if p.Prunable {
			nPrun++
			if p.Partition != part {
				t.Errorf("%s: Partition %d vs PartitionOf %d", p.Name, p.Partition, part)
			}
			if p.FwdFLOPs <= 0 {
				t.Errorf("%s: no FLOPs", p.Name)
			}
			if strings.HasPrefix(p.Name, "encoder.layers.0.") {
				encW += p.Len()
			}
			if strings.HasPrefix(p.Name, "decoder.layers.0.") {
				decW += p.Len()
			}
		} else if p.Partition != -1 {
			t.Errorf("%s: non-prunable with partition %d", p.Name, p.Partition)
		}
	}
	if want := 6*c.EncLayers + 10*c.DecLayers; nPrun != want {
		t.Errorf("%d prunable tensors, want %d", nPrun, want)
	}
	if encW != 4*c.D*c.D+2*c.D*c.FFN || decW != 8*c.D*c.D+2*c.D*c.FFN {
		t.Errorf("prunable per layer: encoder %d decoder %d", encW, decW)
	}
	for _, name := range []string{"encoder.embed_tokens.weight", "encoder.layer_norm.weight", "decoder.layer_norm.bias",
		"decoder.layers.2.encoder_attn.k_proj.weight", "encoder.layers.1.self_attn_layer_norm.weight"} {
		if ps.Get(name) == nil {
			t.Errorf("missing %s", name)
		}
	}
	if e := ps.Get("encoder.embed_tokens.weight"); e.Prunable || e.FirstOrLast {
		t.Error("embedding must be neither prunable nor FirstOrLast")
	}
	var flagged []string
	for _, p := range ps.All() {
		if p.FirstOrLast {
			flagged = append(flagged, p.Name)
		}
	}
	if got := strings.Join(flagged, " "); got != "encoder.layers.0.self_attn.k_proj.weight encoder.layers.0.self_attn.v_proj.weight encoder.layers.0.self_attn.q_proj.weight decoder.layers.2.fc2.weight" {
		t.Errorf("FirstOrLast: %s", got)
	}
	if m.PartitionOf("decoder.layers.2.fc1.weight") != 5 || m.PartitionOf("nope") != -1 || m.PartitionOf("decoder.layers.9.fc1.weight") != -1 {
		t.Error("PartitionOf")
	}
	// FLOPs: the bench configuration's dense forward count per sentence pair.
	b, err := New(Bench())
	if err != nil {
		t.Fatal(err)
	}
	const d, f, v, L = 256.0, 1024.0, 8000.0, 32.0
	want := 2 * L * (3*(4*d*d+2*d*f) + 3*(8*d*d+2*d*f) + d*v)
	if got := b.DenseForwardFLOPs(); math.Abs(got-want) > 1 {
		t.Errorf("bench FLOPs %g, want %g", got, want)
	}
}

func randomBatch(rng *rand.Rand, vocab, b, ls, lt int) *Batch {
	bt := &Batch{B: b, SrcLen: ls, TgtLen: lt, Src: make([]int32, b*ls), TgtIn: make([]int32, b*lt), TgtOut: make([]int32, b*lt)}
	for i := 0; i < b; i++ {
		ns, nt := ls-i%3, lt-i%2 // some padding
		for j := 0; j < ns; j++ {
			bt.Src[i*ls+j] = int32(4 + rng.IntN(vocab-4))
		}
		bt.TgtIn[i*lt] = BOSID
		for j := 0; j < nt; j++ {
			w := int32(4 + rng.IntN(vocab-4))
			if j == nt-1 {
				w = EOSID
			} else {
				bt.TgtIn[i*lt+j+1] = w
			}
			bt.TgtOut[i*lt+j] = w
		}
	}
	return bt
}

// TestIncrementalMatchesFull decodes position by position from the KV caches
// and requires the logits to equal those of re-running the full prefix with
// teacher forcing (same weights, no dropout), with positions counted from 0
// and from fairseq's padding_idx+1.
func TestIncrementalMatchesFull(t *testing.T) {
	for _, off := range []int{0, 1} {
		c := tiny(3)
		c.PositionOffset = off
		incrementalMatchesFull(t, c)
	}
}

// TestPositionOffset requires the position embeddings of a model whose
// positions count from k to be those of positions k.. of a model counting
// from 0, and a negative offset to be refused.
func TestPositionOffset(t *testing.T) {
	c := tiny(3)
	m0, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	c.PositionOffset = 2
	m2, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	d := c.D
	a, b := m2.positions(5), m0.positions(7)
	for i := range a {
		if a[i] != b[i+2*d] {
			t.Fatalf("offset 2, element %d: %v, offset 0 at position +2: %v", i, a[i], b[i+2*d])
		}
	}
	c.PositionOffset = -1
	if _, err := New(c); err == nil {
		t.Fatal("negative position offset accepted")
	}
}

func incrementalMatchesFull(t *testing.T, c Config) {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bt := randomBatch(rng, m.cfg.Vocab, 3, 7, 6)
	tp := engine.NewTape[float32](2)
	tp.SetNoGrad(true)
	full := m.Logits(tp, bt, false, nil).Value.Clone()
	tp.Reset()
	st := m.StartDecode(tp, bt.Src, bt.B, bt.SrcLen, 1, bt.TgtLen)
	v := m.cfg.Vocab
	for pos := 0; pos < bt.TgtLen; pos++ {
		tok := make([]int32, bt.B)
		for i := range tok {
			tok[i] = bt.TgtIn[i*bt.TgtLen+pos]
		}
		tp.Reset()
		got := m.DecodeStep(tp, st, tok).Value.Data()
		for i := 0; i < bt.B; i++ {
			for w := 0; w < v; w++ {
				a, b := got[i*v+w], full.Data()[(i*bt.TgtLen+pos)*v+w]
				if math.Abs(float64(a-b)) > 1e-4*(1+math.Abs(float64(b))) {
					t.Fatalf("offset %d pos %d row %d word %d: incremental %v, full %v", c.PositionOffset, pos, i, w, a, b)
				}
			}
		}
	}
}

// TestBeamOneIsGreedy requires beam search with beam 1 to give greedy's
// tokens and scores, and beam 4 to give a hypothesis at least as good (by
// normalised score) as beam 1 on most sentences.
func TestBeamOneIsGreedy(t *testing.T) {
	m, err := New(tiny(1 + 0))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	bt := randomBatch(rng, m.cfg.Vocab, 5, 7, 6)
	tp := engine.NewTape[float32](2)
	o := SearchOpts{Beam: 1, LenPenalty: 1, MaxLenA: 1, MaxLenB: 3}
	g := m.Greedy(tp, bt.Src, bt.B, bt.SrcLen, o)
	bm := m.Beam(tp, bt.Src, bt.B, bt.SrcLen, o)
	for i := range g {
		if len(g[i].Tokens) != len(bm[i].Tokens) || math.Abs(g[i].Score-bm[i].Score) > 1e-9 {
			t.Fatalf("sentence %d: greedy %v (%g), beam 1 %v (%g)", i, g[i].Tokens, g[i].Score, bm[i].Tokens, bm[i].Score)
		}
		for j := range g[i].Tokens {
			if g[i].Tokens[j] != bm[i].Tokens[j] {
				t.Fatalf("sentence %d: greedy %v, beam 1 %v", i, g[i].Tokens, bm[i].Tokens)
			}
		}
	}
	o.Beam = 4
	b4 := m.Beam(tp, bt.Src, bt.B, bt.SrcLen, o)
	for i := range b4 {
		if b4[i].Score < g[i].Score-1e-9 {
			t.Logf("sentence %d: beam 4 %g below greedy %g", i, b4[i].Score, g[i].Score)
		}
		if len(b4[i].Tokens) > int(o.MaxLenA*7)+o.MaxLenB {
			t.Fatalf("sentence %d: %d tokens past the maximum length", i, len(b4[i].Tokens))
		}
	}
}

// TestLossGradient checks the whole model's gradient of one weight entry
// against a central difference of the float32 loss (a wiring check; the
// ops are checked in float64 in the engine).
func TestLossGradient(t *testing.T) {
	c := tiny(2)
	c.Dropout, c.AttnDropout, c.ReLUDropout = 0, 0, 0
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	bt := randomBatch(rand.New(rand.NewPCG(5, 6)), c.Vocab, 3, 7, 6)
	tp := engine.NewTape[float32](1)
	loss := func() float64 {
		tp.Reset()
		return float64(m.Loss(tp, bt, false, nil).Value.Data()[0])
	}
	tp.Reset()
	m.Params().ZeroGrad()
	if err := tp.Backward(m.Loss(tp, bt, false, nil)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"encoder.layers.0.self_attn.q_proj.weight", "decoder.layers.2.encoder_attn.k_proj.weight",
		"decoder.layers.1.fc2.weight", "encoder.embed_tokens.weight", "encoder.layer_norm.weight"} {
		p := m.Params().Get(name)
		w := p.V.Value.Data()
		g := p.V.Grad.Data()
		j := 0
		for i := range g {
			if math.Abs(float64(g[i])) > math.Abs(float64(g[j])) {
				j = i
			}
		}
		orig := w[j]
		const h = 3e-3
		w[j] = orig + h
		lp := loss()
		w[j] = orig - h
		lm := loss()
		w[j] = orig
		num := (lp - lm) / (2 * h)
		if math.Abs(num-float64(g[j])) > 2e-2*math.Abs(num)+1e-4 {
			t.Errorf("%s[%d]: analytic %g, numeric %g", name, j, g[j], num)
		}
	}
}

// BenchmarkBeam4 times beam-4 decoding (KV caches) of 64 random 32-token
// sources with the bench configuration's random-weight model, outputs of at
// most 32 tokens (2 threads); parity_transformer.py --bench-decode times the
// same in PyTorch.
func BenchmarkBeam4(b *testing.B) {
	c := Bench()
	m, err := New(c)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	const n, l = 64, 32
	src := make([]int32, n*l)
	for i := range src {
		src[i] = int32(4 + rng.IntN(c.Vocab-4))
	}
	tp := engine.NewTape[float32](2)
	o := SearchOpts{Beam: 4, LenPenalty: 1, MaxLenA: 1, MaxLenB: 0}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Beam(tp, src, n, l, o)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sent/s")
}

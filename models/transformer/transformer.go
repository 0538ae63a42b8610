// Package transformer is the translation suite's model: a pre-norm
// encoder-decoder Transformer as fairseq's transformer_wmt_en_de_big_t2t (the
// architecture of the GaP reference code), at any depth, width and head
// count. Parameter names follow fairseq's state dict
// (encoder.layers.0.self_attn.q_proj.weight, decoder.layers.1.encoder_attn...,
// encoder.layer_norm, decoder.layer_norm); one embedding table,
// encoder.embed_tokens.weight, serves the encoder, the decoder and the output
// projection (fairseq's --share-all-embeddings), scaled by sqrt(d) at the
// input; positions are fairseq's sinusoids. Prunable tensors are exactly the
// reference's: the Q, K, V and output projections of every attention
// (self- and encoder-attention), fc1 and fc2; never the embedding, layer
// norms or biases.
package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// Special token ids (those of datasets/translation's BPE vocabularies).
const (
	PadID int32 = 0
	BOSID int32 = 1
	EOSID int32 = 2
)

// Config sets the model's size, regularisation and GaP partitioning.
type Config struct {
	// Vocab is the shared source/target vocabulary size.
	Vocab int
	// D is the model width, Heads the attention heads, FFN the inner width
	// of the feed-forward blocks.
	D, Heads, FFN int
	// EncLayers and DecLayers are the depths.
	EncLayers, DecLayers int
	// Dropout is applied to embeddings and to every sublayer's output;
	// AttnDropout to attention weights; ReLUDropout after fc1's ReLU
	// (transformer_wmt_en_de_big_t2t: 0.1 each).
	Dropout, AttnDropout, ReLUDropout float64
	// LabelSmoothing is the cross-entropy smoothing (0.1 in the reference).
	LabelSmoothing float64
	// Kappa is the number of GaP partitions: 1, 2 (encoder / decoder), 3
	// (the reference's multi-round split) or 6 (consecutive pairs of layers).
	Kappa int
	// SrcLen and TgtLen are the nominal sentence lengths in tokens used to
	// count FLOPs per example (a sentence pair).
	SrcLen, TgtLen int
	// Seed seeds the initialisation.
	Seed uint64
	// PositionOffset is the position number of a sentence's first token:
	// 0 (the default) counts from 0; fairseq counts from padding_idx+1 (1
	// with this vocabulary's <pad> = 0; 2 with fairseq's dictionary, whose
	// <pad> is 1). For a model trained from scratch the offset does not
	// matter (it shifts every sentence's positions alike, and the model
	// learns from whichever numbering it is given); it matters to load
	// weights trained with another offset.
	PositionOffset int `json:",omitempty"`
}

// Bench is the configuration of the shared PyTorch yardstick
// (torch_reference.py transformer): d 256, 4 heads, FFN 1024, 3+3 layers,
// vocabulary 8000, 32-token sentences.
func Bench() Config {
	return Config{Vocab: 8000, D: 256, Heads: 4, FFN: 1024, EncLayers: 3, DecLayers: 3,
		Dropout: 0.1, AttnDropout: 0.1, ReLUDropout: 0.1, LabelSmoothing: 0.1, Kappa: 3, SrcLen: 32, TgtLen: 32}
}

// Big is transformer_wmt_en_de_big_t2t: d 1024, 16 heads, FFN 4096, 6+6
// layers, dropout 0.1 (the vocabulary is the caller's).
func Big(vocab int) Config {
	return Config{Vocab: vocab, D: 1024, Heads: 16, FFN: 4096, EncLayers: 6, DecLayers: 6,
		Dropout: 0.1, AttnDropout: 0.1, ReLUDropout: 0.1, LabelSmoothing: 0.1, Kappa: 3, SrcLen: 30, TgtLen: 30}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 4:
		return fmt.Errorf("transformer: vocabulary %d (need at least the 4 special tokens)", c.Vocab)
	case c.D < 2 || c.D%2 != 0:
		return fmt.Errorf("transformer: width %d must be even and >= 2", c.D)
	case c.Heads < 1 || c.D%c.Heads != 0:
		return fmt.Errorf("transformer: width %d is not a multiple of %d heads", c.D, c.Heads)
	case c.FFN < 1 || c.EncLayers < 1 || c.DecLayers < 1:
		return fmt.Errorf("transformer: FFN %d, layers %d+%d must be >= 1", c.FFN, c.EncLayers, c.DecLayers)
	case c.Dropout < 0 || c.Dropout >= 1 || c.AttnDropout < 0 || c.AttnDropout >= 1 || c.ReLUDropout < 0 || c.ReLUDropout >= 1:
		return fmt.Errorf("transformer: dropout %g/%g/%g outside [0,1)", c.Dropout, c.AttnDropout, c.ReLUDropout)
	case c.PositionOffset < 0:
		return fmt.Errorf("transformer: position offset %d is negative", c.PositionOffset)
	}
	if _, err := layerPartitions(c.EncLayers, c.DecLayers, c.Kappa); err != nil {
		return err
	}
	return nil
}

// attention is one fairseq MultiheadAttention: separate q, k, v projections
// and the output projection, all with biases.
type attention struct {
	q, k, v, out *nn.Linear
}

type encLayer struct {
	selfAttn        attention
	selfLN, finalLN *nn.LayerNorm
	fc1, fc2        *nn.Linear
	partition       int
	name            string
}

type decLayer struct {
	selfAttn, encAttn      attention
	selfLN, encLN, finalLN *nn.LayerNorm
	fc1, fc2               *nn.Linear
	partition              int
	name                   string
}

// Model is the encoder-decoder Transformer.
type Model struct {
	cfg    Config
	ps     *nn.ParamSet
	embed  *nn.Param
	enc    []*encLayer
	dec    []*decLayer
	encLN  *nn.LayerNorm
	decLN  *nn.LayerNorm
	parts  []int // partition of each layer, encoder then decoder
	posTab []float32
	posLen int
}

// lnEps is fairseq's LayerNorm epsilon (PyTorch's default).
const lnEps = 1e-5

// New builds the model with fairseq's initialisation: embedding N(0, d^-1/2)
// with the <pad> row zero; q, k, v projections Xavier-uniform with gain
// 1/sqrt(2); output projections, fc1 and fc2 Xavier-uniform; biases zero;
// layer norms ones and zeros.
func New(c Config) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	parts, _ := layerPartitions(c.EncLayers, c.DecLayers, c.Kappa)
	rng := rand.New(rand.NewPCG(c.Seed, 0x7a11))
	m := &Model{cfg: c, ps: nn.NewParamSet(), parts: parts}
	emb := engine.NewTensor[float32](c.Vocab, c.D)
	nn.Normal(emb, 0, 1/math.Sqrt(float64(c.D)), rng)
	clear(emb.Data()[int(PadID)*c.D : int(PadID+1)*c.D])
	m.embed = m.ps.Add("encoder.embed_tokens.weight", emb, false)
	m.embed.FwdFLOPs = 2 * float64(c.D) * float64(c.Vocab) * float64(c.TgtLen)
	lin := func(name string, in, out int, gain float64, part, tokens int) *nn.Linear {
		l := nn.NewLinear(m.ps, name, in, out, true, rng)
		nn.XavierUniform(l.W.V.Value, gain, rng)
		l.B.V.Value.Zero()
		l.W.Partition = part
		l.W.FwdFLOPs = 2 * float64(in) * float64(out) * float64(tokens)
		return l
	}
	attn := func(name string, part, qTokens, kvTokens int) attention {
		g := 1 / math.Sqrt2
		return attention{
			k:   lin(name+".k_proj", c.D, c.D, g, part, kvTokens),
			v:   lin(name+".v_proj", c.D, c.D, g, part, kvTokens),
			q:   lin(name+".q_proj", c.D, c.D, g, part, qTokens),
			out: lin(name+".out_proj", c.D, c.D, 1, part, qTokens),
		}
	}
	for i := 0; i < c.EncLayers; i++ {
		p := fmt.Sprintf("encoder.layers.%d", i)
		l := &encLayer{partition: parts[i], name: p}
		l.selfAttn = attn(p+".self_attn", l.partition, c.SrcLen, c.SrcLen)
		l.selfLN = nn.NewLayerNorm(m.ps, p+".self_attn_layer_norm", c.D, lnEps)
		l.fc1 = lin(p+".fc1", c.D, c.FFN, 1, l.partition, c.SrcLen)
		l.fc2 = lin(p+".fc2", c.FFN, c.D, 1, l.partition, c.SrcLen)
		l.finalLN = nn.NewLayerNorm(m.ps, p+".final_layer_norm", c.D, lnEps)
		m.enc = append(m.enc, l)
	}
	m.encLN = nn.NewLayerNorm(m.ps, "encoder.layer_norm", c.D, lnEps)
	for i := 0; i < c.DecLayers; i++ {
		p := fmt.Sprintf("decoder.layers.%d", i)
		l := &decLayer{partition: parts[c.EncLayers+i], name: p}
		l.selfAttn = attn(p+".self_attn", l.partition, c.TgtLen, c.TgtLen)
		l.selfLN = nn.NewLayerNorm(m.ps, p+".self_attn_layer_norm", c.D, lnEps)
		l.encAttn = attn(p+".encoder_attn", l.partition, c.TgtLen, c.SrcLen)
		l.encLN = nn.NewLayerNorm(m.ps, p+".encoder_attn_layer_norm", c.D, lnEps)
		l.fc1 = lin(p+".fc1", c.D, c.FFN, 1, l.partition, c.TgtLen)
		l.fc2 = lin(p+".fc2", c.FFN, c.D, 1, l.partition, c.TgtLen)
		l.finalLN = nn.NewLayerNorm(m.ps, p+".final_layer_norm", c.D, lnEps)
		m.dec = append(m.dec, l)
	}
	m.decLN = nn.NewLayerNorm(m.ps, "decoder.layer_norm", c.D, lnEps)
	// The first prunable layer is the first encoder layer's q, k and v
	// projections (side by side), the last the last decoder layer's fc2. The
	// reference prunes them all (a table keeps them dense only by choice).
	first := m.enc[0].selfAttn
	for _, l := range []*nn.Linear{first.q, first.k, first.v, m.dec[len(m.dec)-1].fc2} {
		l.W.FirstOrLast = true
	}
	return m, nil
}

// layerPartitions returns the GaP partition of each layer (encoder layers
// first, then decoder layers) for kappa partitions:
//   - 1: everything in one partition;
//   - 2: encoder / decoder;
//   - 3: the reference's multi-round split scaled to the depth: the first
//     two thirds of the encoder / the rest of the encoder with the first
//     third of the decoder / the rest of the decoder (6+6: enc0-3 /
//     enc4-5 + dec0-1 / dec2-5);
//   - 6: each side cut into three runs of consecutive layers (6+6: pairs;
//     3+3: single layers).
//
// Every partition must hold at least one layer.
func layerPartitions(enc, dec, kappa int) ([]int, error) {
	out := make([]int, enc+dec)
	switch kappa {
	case 1:
	case 2:
		for j := 0; j < dec; j++ {
			out[enc+j] = 1
		}
	case 3:
		encCut := int(math.Round(2 * float64(enc) / 3))
		decCut := int(math.Round(float64(dec) / 3))
		for i := range out {
			switch {
			case i < encCut:
				out[i] = 0
			case i < enc+decCut:
				out[i] = 1
			default:
				out[i] = 2
			}
		}
	case 6:
		if enc < 3 || dec < 3 {
			return nil, fmt.Errorf("transformer: kappa 6 needs at least 3+3 layers, have %d+%d", enc, dec)
		}
		for i := 0; i < enc; i++ {
			out[i] = i * 3 / enc
		}
		for j := 0; j < dec; j++ {
			out[enc+j] = 3 + j*3/dec
		}
	default:
		return nil, fmt.Errorf("transformer: kappa %d not supported (1, 2, 3 or 6)", kappa)
	}
	seen := make([]bool, kappa)
	for _, p := range out {
		seen[p] = true
	}
	for p, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("transformer: kappa %d at depth %d+%d leaves partition %d empty", kappa, enc, dec, p)
		}
	}
	return out, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Params is the model's parameter set.
func (m *Model) Params() *nn.ParamSet { return m.ps }

// NumPartitions is kappa.
func (m *Model) NumPartitions() int { return m.cfg.Kappa }

// PartitionOf gives the GaP partition of any parameter name: a layer's
// tensors (prunable or not) go with the layer, the final encoder (decoder)
// layer norm with the last encoder (decoder) layer, and the shared embedding
// with partition 0 (the reference's P-GaP combine takes it from the first
// partition's machine). Unknown names give -1. The model has no buffers.
func (m *Model) PartitionOf(name string) int {
	c := m.cfg
	switch {
	case name == "encoder.embed_tokens.weight":
		return m.parts[0]
	case strings.HasPrefix(name, "encoder.layer_norm."):
		return m.parts[c.EncLayers-1]
	case strings.HasPrefix(name, "decoder.layer_norm."):
		return m.parts[c.EncLayers+c.DecLayers-1]
	}
	if m.ps.Get(name) == nil {
		return -1
	}
	for _, s := range []struct {
		prefix string
		off, n int
	}{{"encoder.layers.", 0, c.EncLayers}, {"decoder.layers.", c.EncLayers, c.DecLayers}} {
		rest, ok := strings.CutPrefix(name, s.prefix)
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 || i >= s.n {
			return -1
		}
		return m.parts[s.off+i]
	}
	return -1
}

// DenseForwardFLOPs is the dense forward FLOPs of one sentence pair of the
// nominal lengths (SrcLen, TgtLen): every projection and fc weight, and the
// output projection over the vocabulary, as RigL counts (multiply-adds x 2;
// attention score products, norms and activations not counted).
func (m *Model) DenseForwardFLOPs() float64 {
	var s float64
	for _, p := range m.ps.All() {
		s += p.FwdFLOPs
	}
	return s
}

// positions returns the sinusoidal position embeddings of positions 0..n-1
// (numbered from Config.PositionOffset)
// ([n*D], fairseq's layout: sines of the first D/2 frequencies, then their
// cosines, frequencies 10000^(-i/(D/2-1))).
func (m *Model) positions(n int) []float32 {
	d := m.cfg.D
	if n <= m.posLen {
		return m.posTab[:n*d]
	}
	half := d / 2
	step := math.Log(10000)
	if half > 1 {
		step /= float64(half - 1)
	}
	tab := make([]float32, n*d)
	for p := 0; p < n; p++ {
		for i := 0; i < half; i++ {
			a := float64(p+m.cfg.PositionOffset) * math.Exp(-float64(i)*step)
			tab[p*d+i] = float32(math.Sin(a))
			tab[p*d+half+i] = float32(math.Cos(a))
		}
	}
	m.posTab, m.posLen = tab, n
	return tab
}

// embedTokens is dropout(embed(ids) * sqrt(D) + positions) for a [b, l] batch
// of ids starting at position start.
func (m *Model) embedTokens(tp *engine.Tape[float32], ids []int32, b, l, start int, training bool, rng *rand.Rand) *engine.Var[float32] {
	d := m.cfg.D
	x := tp.Scale(tp.Embedding(m.embed.V, ids), float32(math.Sqrt(float64(d))))
	pos := m.positions(start + l)[start*d:]
	x = tp.Add(tp.Reshape(x, b, l, d), tp.Const(engine.FromSlice(pos[:l*d], l, d)))
	return tp.Dropout(x, m.cfg.Dropout, rng, training)
}

// qkv applies one attention's q, k, v projections.
func (a attention) qkv(tp *engine.Tape[float32], q, kv *engine.Var[float32]) (*engine.Var[float32], *engine.Var[float32], *engine.Var[float32]) {
	return a.q.Forward(tp, q), a.k.Forward(tp, kv), a.v.Forward(tp, kv)
}

func (m *Model) ffn(tp *engine.Tape[float32], x *engine.Var[float32], ln *nn.LayerNorm, fc1, fc2 *nn.Linear, training bool, rng *rand.Rand) *engine.Var[float32] {
	h := tp.ReLU(fc1.Forward(tp, ln.Forward(tp, x)))
	h = tp.Dropout(h, m.cfg.ReLUDropout, rng, training)
	h = tp.Dropout(fc2.Forward(tp, h), m.cfg.Dropout, rng, training)
	return tp.Add(x, h)
}

// Batch is a padded batch of sentence pairs for teacher forcing: Src [B*Ls]
// ids right-padded with PadID; TgtIn [B*Lt] the decoder inputs (<bos> then
// the target), TgtOut [B*Lt] the labels (the target then <eos>), PadID
// where there is no token.
type Batch struct {
	B, SrcLen, TgtLen  int
	Src, TgtIn, TgtOut []int32
}

// Check reports a batch whose slices do not match its sizes.
func (b *Batch) Check(vocab int) error {
	if b.B < 1 || b.SrcLen < 1 || b.TgtLen < 1 || len(b.Src) != b.B*b.SrcLen || len(b.TgtIn) != b.B*b.TgtLen || len(b.TgtOut) != b.B*b.TgtLen {
		return fmt.Errorf("transformer: batch %dx(%d,%d) with %d/%d/%d ids", b.B, b.SrcLen, b.TgtLen, len(b.Src), len(b.TgtIn), len(b.TgtOut))
	}
	for _, s := range [][]int32{b.Src, b.TgtIn, b.TgtOut} {
		for _, id := range s {
			if id < 0 || int(id) >= vocab {
				return fmt.Errorf("transformer: token id %d outside the vocabulary of %d", id, vocab)
			}
		}
	}
	return nil
}

// padMask returns the key-padding flags of ids (true at PadID).
func padMask(ids []int32) []bool {
	m := make([]bool, len(ids))
	for i, id := range ids {
		m[i] = id == PadID
	}
	return m
}

// Encode runs the encoder on src [b*l] and returns its output [b, l, D]
// (after the final layer norm) and the source padding mask.
func (m *Model) Encode(tp *engine.Tape[float32], src []int32, b, l int, training bool, rng *rand.Rand) (*engine.Var[float32], []bool) {
	pad := padMask(src)
	x := m.embedTokens(tp, src, b, l, 0, training, rng)
	c := m.cfg
	for _, L := range m.enc {
		h := L.selfLN.Forward(tp, x)
		q, k, v := L.selfAttn.qkv(tp, h, h)
		h = tp.MultiHeadAttention(q, k, v, engine.AttentionOpts{Heads: c.Heads, KeyPadding: pad, Dropout: c.AttnDropout, RNG: rng, Training: training})
		h = tp.Dropout(L.selfAttn.out.Forward(tp, h), c.Dropout, rng, training)
		x = tp.Add(x, h)
		x = m.ffn(tp, x, L.finalLN, L.fc1, L.fc2, training, rng)
	}
	return m.encLN.Forward(tp, x), pad
}

// Logits runs the whole model with teacher forcing and returns the output
// logits [B, Lt, Vocab].
func (m *Model) Logits(tp *engine.Tape[float32], bt *Batch, training bool, rng *rand.Rand) *engine.Var[float32] {
	c := m.cfg
	enc, pad := m.Encode(tp, bt.Src, bt.B, bt.SrcLen, training, rng)
	x := m.embedTokens(tp, bt.TgtIn, bt.B, bt.TgtLen, 0, training, rng)
	for _, L := range m.dec {
		h := L.selfLN.Forward(tp, x)
		q, k, v := L.selfAttn.qkv(tp, h, h)
		h = tp.MultiHeadAttention(q, k, v, engine.AttentionOpts{Heads: c.Heads, Causal: true, Dropout: c.AttnDropout, RNG: rng, Training: training})
		x = tp.Add(x, tp.Dropout(L.selfAttn.out.Forward(tp, h), c.Dropout, rng, training))
		h = L.encLN.Forward(tp, x)
		q, k, v = L.encAttn.qkv(tp, h, enc)
		h = tp.MultiHeadAttention(q, k, v, engine.AttentionOpts{Heads: c.Heads, KeyPadding: pad, Dropout: c.AttnDropout, RNG: rng, Training: training})
		x = tp.Add(x, tp.Dropout(L.encAttn.out.Forward(tp, h), c.Dropout, rng, training))
		x = m.ffn(tp, x, L.finalLN, L.fc1, L.fc2, training, rng)
	}
	return tp.Linear(m.decLN.Forward(tp, x), m.embed.V, nil)
}

// Loss is the label-smoothed cross-entropy of the batch's targets (mean over
// non-pad target tokens, as torch.nn.functional.cross_entropy with
// label_smoothing and ignore_index=PadID), computed by the engine's float32
// path (CEOpts.Float32: Exp32, within ~1e-6 of float64). It is the
// reference's criterion too (its fairseq fork's
// LabelSmoothedCrossEntropyCriterion: per token (1-eps)*nll +
// eps/V*sum_c(-logp_c) over the whole vocabulary, summed over non-pad
// targets, the gradient divided by their count, its grad_denom = ntokens).
func (m *Model) Loss(tp *engine.Tape[float32], bt *Batch, training bool, rng *rand.Rand) *engine.Var[float32] {
	logits := m.Logits(tp, bt, training, rng)
	return tp.CrossEntropy(tp.Reshape(logits, bt.B*bt.TgtLen, m.cfg.Vocab), bt.TgtOut,
		engine.CEOpts{LabelSmoothing: m.cfg.LabelSmoothing, IgnoreIndex: PadID, UseIgnore: true, Float32: true})
}

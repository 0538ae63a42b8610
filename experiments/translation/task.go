// Package translation is the translation suite's task for the stage runner:
// the pre-norm Transformer of models/transformer on a parallel corpus (the
// SWORD English-Spanish proxy by default, WMT14 En-De from user files in the
// full profile), token-based batches in a deterministic order, label-smoothed
// cross-entropy, and BLEU (sacreBLEU's, case-insensitive as the paper, cased
// beside it) of beam-search output. It implements the runner's Task method
// set structurally and does not import experiments.
package translation

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"

	tdata "github.com/gap-harness/gap/datasets/translation"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/models/transformer"
)

// Spec is everything a Task is built from.
type Spec struct {
	// Model is the Transformer's configuration; its Vocab is replaced by the
	// BPE's actual size and SrcLen/TgtLen (FLOPs per example) by the
	// training data's mean lengths.
	Model transformer.Config
	// Data is the corpus and batching.
	Data DataSpec
	// Search is the evaluation decoder (the reference: beam 4, lenpen 1).
	Search transformer.SearchOpts
	// Seed seeds the initialisation and the batch order.
	Seed uint64
}

// Task is the translation suite's training problem.
type Task struct {
	spec  Spec
	model *transformer.Model
	data  *corpus
	plan  [][]int
	pairs int // training pairs kept
	// lastEval is the evaluation split's translations of the last Evaluate
	// and the fingerprint (paramsHash) of the weights that gave them, so
	// that WriteArtifacts need not decode again.
	lastEval     []string
	lastEvalHash uint64
}

// Data is a loaded, tokenised corpus, read-only: tasks of the same DataSpec
// (P-GaP branches, the rows of a table) can share one.
type Data struct{ c *corpus }

// LoadData reads the text of d, trains (or reads the cached) BPE and
// encodes the pairs.
func LoadData(ctx context.Context, d DataSpec) (*Data, error) {
	c, err := loadCorpus(ctx, d)
	if err != nil {
		return nil, err
	}
	return &Data{c: c}, nil
}

// New loads and tokenises the data and builds the model.
func New(ctx context.Context, s Spec) (*Task, error) {
	d, err := LoadData(ctx, s.Data)
	if err != nil {
		return nil, err
	}
	return NewWithData(s, d)
}

// NewWithData builds the model on already loaded data (loaded with the same
// s.Data).
func NewWithData(s Spec, d *Data) (*Task, error) {
	if s.Data.MaxTokens < 1 {
		return nil, fmt.Errorf("translation: max tokens per batch %d", s.Data.MaxTokens)
	}
	c := d.c
	var ns, nt int
	for _, p := range c.train {
		ns += len(p[0])
		nt += len(p[1]) + 1
		if w := max(len(p[0]), len(p[1])+1); w > s.Data.MaxTokens {
			return nil, fmt.Errorf("translation: a pair of %d tokens does not fit %d max tokens per batch", w, s.Data.MaxTokens)
		}
	}
	mc := s.Model
	mc.Vocab = c.bpe.VocabSize()
	mc.SrcLen = (ns + len(c.train)/2) / len(c.train)
	mc.TgtLen = (nt + len(c.train)/2) / len(c.train)
	mc.Seed = s.Seed
	m, err := transformer.New(mc)
	if err != nil {
		return nil, err
	}
	s.Model = mc
	return &Task{spec: s, model: m, data: c, plan: batchPlan(c.train, s.Data.MaxTokens), pairs: len(c.train)}, nil
}

// Model returns the Transformer.
func (t *Task) Model() *transformer.Model { return t.model }

// BPE returns the tokenizer.
func (t *Task) BPE() *tdata.BPE { return t.data.bpe }

// Spec returns the resolved spec (vocabulary and mean lengths filled in).
func (t *Task) Spec() Spec { return t.spec }

// Skipped is the number of training pairs dropped for length (or empty).
func (t *Task) Skipped() int { return t.data.skipped }

// Params is the model's parameter set.
func (t *Task) Params() *nn.ParamSet { return t.model.Params() }

// NumPartitions is kappa.
func (t *Task) NumPartitions() int { return t.model.NumPartitions() }

// PartitionOf gives the partition of any parameter name (-1: none).
func (t *Task) PartitionOf(name string) int { return t.model.PartitionOf(name) }

// DenseForwardFLOPs is the dense forward FLOPs of one sentence pair of the
// training data's mean lengths.
func (t *Task) DenseForwardFLOPs() float64 { return t.model.DenseForwardFLOPs() }

// StepsPerEpoch is the number of token-based batches.
func (t *Task) StepsPerEpoch() int { return len(t.plan) }

// ExamplesPerStep is the mean number of sentence pairs per batch, rounded.
func (t *Task) ExamplesPerStep() int { return (t.pairs + len(t.plan)/2) / len(t.plan) }

// Batch returns the batch of step `step` of epoch `epoch`: a pure function of
// (seed, epoch, step).
func (t *Task) Batch(epoch, step int) (*transformer.Batch, error) {
	if step < 0 || step >= len(t.plan) {
		return nil, fmt.Errorf("translation: step %d outside the epoch's %d batches", step, len(t.plan))
	}
	order := epochOrder(t.spec.Seed, epoch, len(t.plan))
	return makeBatch(t.data.train, t.plan[order[step]]), nil
}

// Loss records the label-smoothed cross-entropy of the step's batch, with
// dropout drawn from rng (none when rng is nil).
func (t *Task) Loss(tp *engine.Tape[float32], epoch, step int, rng *rand.Rand) (*engine.Var[float32], error) {
	bt, err := t.Batch(epoch, step)
	if err != nil {
		return nil, err
	}
	// Without a generator (the runner's saliency batches) dropout is off.
	return t.model.Loss(tp, bt, rng != nil, rng), nil
}

// evalBatch is how many sentences are decoded together.
const evalBatch = 32

// Translate decodes source token sequences with the spec's search and
// returns the detokenised outputs, in input order. Sentences are decoded in
// batches of similar length.
func (t *Task) Translate(ctx context.Context, srcs [][]int32, threads int) ([]string, error) {
	return Translate(ctx, t.model, t.data.bpe, srcs, t.spec.Search, threads)
}

// Translate decodes srcs with model m (beam search, or greedy at beam 1)
// and detokenises with bpe.
func Translate(ctx context.Context, m *transformer.Model, bpe *tdata.BPE, srcs [][]int32, o transformer.SearchOpts, threads int) ([]string, error) {
	idx := make([]int, len(srcs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return len(srcs[idx[a]]) < len(srcs[idx[b]]) })
	out := make([]string, len(srcs))
	tp := engine.NewTape[float32](max(threads, 1))
	for lo := 0; lo < len(idx); lo += evalBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ids := idx[lo:min(lo+evalBatch, len(idx))]
		l := 1
		for _, i := range ids {
			l = max(l, len(srcs[i]))
		}
		src := make([]int32, len(ids)*l)
		for r, i := range ids {
			copy(src[r*l:], srcs[i])
			if len(srcs[i]) == 0 {
				src[r*l] = transformer.EOSID // an empty source still needs one key
			}
		}
		var hyps []transformer.Hypothesis
		if o.Beam <= 1 {
			hyps = m.Greedy(tp, src, len(ids), l, o)
		} else {
			hyps = m.Beam(tp, src, len(ids), l, o)
		}
		for r, i := range ids {
			out[i] = bpe.Decode(hyps[r].Tokens)
		}
	}
	return out, nil
}

// Evaluate decodes the evaluation split and returns sacreBLEU's corpus BLEU:
// "bleu" case-insensitive (the paper's metric), "bleu_cased" beside it,
// "bleu_bp" the brevity penalty and "eval_sentences".
func (t *Task) Evaluate(ctx context.Context, threads int) (map[string]float64, error) {
	hyps, err := t.Translate(ctx, t.data.evalSrc, threads)
	if err != nil {
		return nil, err
	}
	m, err := scoreBLEU(hyps, t.data.evalRefs)
	if err != nil {
		return nil, err
	}
	m["eval_sentences"] = float64(len(hyps))
	t.lastEval, t.lastEvalHash = hyps, t.paramsHash()
	return m, nil
}

// scoreBLEU is sacreBLEU's corpus BLEU of detokenised hypotheses against
// one reference each: "bleu" case-insensitive, "bleu_cased", "bleu_bp".
func scoreBLEU(hyps, refs []string) (map[string]float64, error) {
	rs := [][]string{refs}
	cased, err := tdata.CorpusBLEU(hyps, rs, tdata.DefaultBLEUConfig())
	if err != nil {
		return nil, fmt.Errorf("translation: BLEU: %w", err)
	}
	lc := tdata.DefaultBLEUConfig()
	lc.Lowercase = true
	uncased, err := tdata.CorpusBLEU(hyps, rs, lc)
	if err != nil {
		return nil, fmt.Errorf("translation: BLEU: %w", err)
	}
	return map[string]float64{"bleu": uncased.Score, "bleu_cased": cased.Score, "bleu_bp": uncased.BP}, nil
}

// paramsHash fingerprints the model's weights and masks (FNV-1a of their
// bits, in parameter order).
func (t *Task) paramsHash() uint64 {
	h := fnv.New64a()
	var b [4]byte
	put := func(xs []float32) {
		for _, x := range xs {
			u := math.Float32bits(x)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			h.Write(b[:])
		}
	}
	for _, p := range t.model.Params().All() {
		h.Write([]byte(p.Name))
		put(p.V.Value.Data())
		put(p.Mask)
	}
	return h.Sum64()
}

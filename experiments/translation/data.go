package translation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	tdata "github.com/gap-harness/gap/datasets/translation"
	"github.com/gap-harness/gap/models/transformer"
)

// DataSpec says where the parallel text comes from and how it is cut into
// token-based batches.
type DataSpec struct {
	// Dir, when set, holds a user-given corpus as plain aligned text, one
	// sentence per line: train.src, train.tgt, valid.src, valid.tgt,
	// test.src, test.tgt (e.g. WMT14 En-De, detokenised). Empty: the
	// default SWORD English-Spanish corpus (datasets/translation.LoadSWORD).
	Dir string
	// CacheDir caches the exported SWORD corpus and the trained BPE.
	CacheDir string
	// TrainPairs keeps the first n training pairs (0: all), a proxy's
	// subset; EvalPairs is how many sentences of the evaluation split
	// Evaluate decodes (0: all).
	TrainPairs, EvalPairs int
	// EvalSplit is "valid" or "test" (the reference reports test BLEU).
	EvalSplit string
	// Vocab is the joint BPE vocabulary size (shared embedding).
	Vocab int
	// MaxWords, when > 0, keeps only pairs (training and evaluation) with
	// at most MaxWords whitespace-separated words on each side, before
	// TrainPairs/EvalPairs take their first n: the proxies' short-sentence
	// subsets.
	MaxWords int
	// MaxLen drops training pairs with more than MaxLen BPE tokens on a side
	// (the count is logged and kept in Task.Skipped).
	MaxLen int
	// MaxTokens bounds a batch's padded tokens, fairseq's --max-tokens:
	// pairs sorted by length are packed while count*max(srcLen, tgtLen+1)
	// stays within it.
	MaxTokens int
}

// corpus is the tokenised data.
type corpus struct {
	bpe       *tdata.BPE
	train     [][2][]int32
	evalSrc   [][]int32
	evalRefs  []string
	evalTexts []string
	skipped   int
}

// readDir reads one split of a user-given corpus; an empty line on either
// side is an error naming the file and line.
func readDir(dir, split string) ([]tdata.Pair, error) {
	sp, tp := filepath.Join(dir, split+".src"), filepath.Join(dir, split+".tgt")
	pairs, err := tdata.ReadParallel(sp, tp)
	if err != nil {
		return nil, err
	}
	for i, p := range pairs {
		switch {
		case strings.TrimSpace(p.Src) == "":
			return nil, fmt.Errorf("translation data: %s:%d: empty sentence (every line must hold one sentence)", sp, i+1)
		case strings.TrimSpace(p.Tgt) == "":
			return nil, fmt.Errorf("translation data: %s:%d: empty sentence (every line must hold one sentence)", tp, i+1)
		}
	}
	return pairs, nil
}

// loadCorpus reads the text, trains (or reads the cached) BPE on the
// training pairs and encodes everything.
func loadCorpus(ctx context.Context, d DataSpec) (*corpus, error) {
	var train, eval []tdata.Pair
	split := d.EvalSplit
	if split == "" {
		split = "test"
	}
	if split != "valid" && split != "test" {
		return nil, fmt.Errorf("translation data: eval split %q (valid or test)", split)
	}
	if d.Dir != "" {
		var err error
		if train, err = readDir(d.Dir, "train"); err != nil {
			return nil, err
		}
		if eval, err = readDir(d.Dir, split); err != nil {
			return nil, err
		}
	} else {
		c, err := tdata.LoadSWORD(ctx, d.CacheDir, "", "")
		if err != nil {
			return nil, err
		}
		train, eval = c.Train, c.Test
		if split == "valid" {
			eval = c.Valid
		}
	}
	if d.MaxWords > 0 {
		train, eval = shortPairs(train, d.MaxWords), shortPairs(eval, d.MaxWords)
	}
	if d.TrainPairs > 0 && d.TrainPairs < len(train) {
		train = train[:d.TrainPairs]
	}
	if d.EvalPairs > 0 && d.EvalPairs < len(eval) {
		eval = eval[:d.EvalPairs]
	}
	if len(train) == 0 || len(eval) == 0 {
		return nil, fmt.Errorf("translation data: %d training and %d evaluation pairs", len(train), len(eval))
	}
	bpe, err := loadBPE(d, train)
	if err != nil {
		return nil, err
	}
	c := &corpus{bpe: bpe}
	for _, p := range train {
		s, t := bpe.Encode(p.Src), bpe.Encode(p.Tgt)
		if len(s) == 0 || len(t) == 0 || (d.MaxLen > 0 && (len(s) > d.MaxLen || len(t) > d.MaxLen)) {
			c.skipped++
			continue
		}
		c.train = append(c.train, [2][]int32{s, t})
	}
	if c.skipped > 0 {
		slog.Info("translation data: training pairs skipped (empty, or over the maximum length)", "skipped", c.skipped, "max_len", d.MaxLen, "kept", len(c.train))
	}
	if len(c.train) == 0 {
		return nil, fmt.Errorf("translation data: no training pair within %d tokens", d.MaxLen)
	}
	for _, p := range eval {
		s := bpe.Encode(p.Src)
		if d.MaxLen > 0 && len(s) > 4*d.MaxLen {
			s = s[:4*d.MaxLen] // bounded decoding cost; the reference keeps the pair
		}
		c.evalSrc = append(c.evalSrc, s)
		c.evalRefs = append(c.evalRefs, p.Tgt)
		c.evalTexts = append(c.evalTexts, p.Src)
	}
	return c, nil
}

// shortPairs keeps the pairs with at most n words on each side, in order.
func shortPairs(ps []tdata.Pair, n int) []tdata.Pair {
	var out []tdata.Pair
	for _, p := range ps {
		if len(strings.Fields(p.Src)) <= n && len(strings.Fields(p.Tgt)) <= n {
			out = append(out, p)
		}
	}
	return out
}

// loadBPE trains the joint BPE on the training text, or reads it from the
// cache (keyed by vocabulary size and corpus size).
func loadBPE(d DataSpec, train []tdata.Pair) (*tdata.BPE, error) {
	var path string
	if d.CacheDir != "" && d.Dir == "" {
		path = filepath.Join(d.CacheDir, fmt.Sprintf("bpe-sword-%d-w%d-%d.txt", d.Vocab, d.MaxWords, len(train)))
		if b, err := tdata.LoadBPE(path); err == nil {
			return b, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			slog.Warn("cached BPE unreadable; retraining", "path", path, "err", err)
		}
	}
	texts := make([]string, 0, 2*len(train))
	for _, p := range train {
		texts = append(texts, p.Src, p.Tgt)
	}
	b, err := tdata.TrainBPE(texts, d.Vocab)
	if err != nil {
		return nil, fmt.Errorf("translation data: BPE: %w", err)
	}
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			if err := b.Save(path); err != nil {
				slog.Warn("could not cache the BPE", "path", path, "err", err)
			}
		}
	}
	return b, nil
}

// batchPlan packs the training pairs into token-based batches: pairs sorted
// by (source length, target length, index), cut greedily so that
// count*max(srcLen, tgtLen+1) <= maxTokens. The plan is fixed; epochs
// shuffle the order of its batches.
func batchPlan(train [][2][]int32, maxTokens int) [][]int {
	idx := make([]int, len(train))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := train[idx[a]], train[idx[b]]
		if len(pa[0]) != len(pb[0]) {
			return len(pa[0]) < len(pb[0])
		}
		return len(pa[1]) < len(pb[1])
	})
	var plan [][]int
	var cur []int
	width := 0
	for _, i := range idx {
		w := max(len(train[i][0]), len(train[i][1])+1)
		nw := max(width, w)
		if len(cur) > 0 && (len(cur)+1)*nw > maxTokens {
			plan = append(plan, cur)
			cur, nw = nil, w
		}
		cur = append(cur, i)
		width = nw
	}
	if len(cur) > 0 {
		plan = append(plan, cur)
	}
	return plan
}

// makeBatch pads the pairs ids into a teacher-forcing batch.
func makeBatch(train [][2][]int32, ids []int) *transformer.Batch {
	ls, lt := 1, 1
	for _, i := range ids {
		ls = max(ls, len(train[i][0]))
		lt = max(lt, len(train[i][1])+1)
	}
	b := len(ids)
	bt := &transformer.Batch{B: b, SrcLen: ls, TgtLen: lt, Src: make([]int32, b*ls), TgtIn: make([]int32, b*lt), TgtOut: make([]int32, b*lt)}
	for r, i := range ids {
		s, t := train[i][0], train[i][1]
		copy(bt.Src[r*ls:], s)
		bt.TgtIn[r*lt] = transformer.BOSID
		copy(bt.TgtIn[r*lt+1:], t)
		copy(bt.TgtOut[r*lt:], t)
		bt.TgtOut[r*lt+len(t)] = transformer.EOSID
	}
	return bt
}

// epochOrder is the order of the plan's batches in an epoch: a permutation
// drawn from (seed, epoch) only.
func epochOrder(seed uint64, epoch, n int) []int {
	rng := rand.New(rand.NewPCG(seed^0x7e57, uint64(epoch)+1))
	return rng.Perm(n)
}

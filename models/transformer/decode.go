package transformer

import (
	"fmt"
	"math"
	"sort"

	"github.com/gap-harness/gap/engine"
)

// DecodeState is the incremental decoder's state for a batch of rows: the
// keys and values of the decoded prefix of every self-attention (a KV cache
// per layer, reordered as beams move) and of the encoder output for every
// encoder-attention (computed once).
type DecodeState struct {
	rows, srcLen int
	srcPad       []bool
	self, cross  []*engine.KVCache[float32]
	pos          int
}

// Pos is the number of tokens decoded so far (the position of the next one).
func (st *DecodeState) Pos() int { return st.pos }

// Reorder makes row i continue the history of row idx[i] (beam search); idx
// must map rows of a sentence to rows of the same sentence, since the
// encoder caches are not moved.
func (st *DecodeState) Reorder(idx []int32) {
	for _, c := range st.self {
		c.Reorder(idx)
	}
}

// StartDecode encodes src ([b*l] ids, right-padded) and returns the decoding
// state of b*repeat rows (each sentence repeated for its beams, rows of a
// sentence adjacent) with room for maxLen target tokens. It switches tp to
// no-grad mode; the state does not refer to tp's pooled buffers, so tp may be
// Reset between steps.
func (m *Model) StartDecode(tp *engine.Tape[float32], src []int32, b, l, repeat, maxLen int) *DecodeState {
	tp.SetNoGrad(true)
	c := m.cfg
	enc, pad := m.Encode(tp, src, b, l, false, nil)
	rows := b * repeat
	if repeat > 1 {
		idx := make([]int32, rows)
		for i := range idx {
			idx[i] = int32(i / repeat)
		}
		enc = tp.IndexSelect(enc, 0, idx)
		rp := make([]bool, rows*l)
		for i := 0; i < rows; i++ {
			copy(rp[i*l:(i+1)*l], pad[(i/repeat)*l:(i/repeat+1)*l])
		}
		pad = rp
	}
	st := &DecodeState{rows: rows, srcLen: l, srcPad: pad}
	for _, L := range m.dec {
		cc := engine.NewKVCache[float32](rows, l, c.D)
		cc.Append(L.encAttn.k.Forward(tp, enc).Value, L.encAttn.v.Forward(tp, enc).Value)
		st.cross = append(st.cross, cc)
		st.self = append(st.self, engine.NewKVCache[float32](rows, maxLen, c.D))
	}
	return st
}

// DecodeStep feeds one token per row (the previous output, <bos> first) and
// returns the next-token logits [rows, Vocab], valid until tp.Reset. It runs
// each layer on the new position only, attending to the cached keys and
// values: the same logits as re-running the whole prefix (see the tests).
func (m *Model) DecodeStep(tp *engine.Tape[float32], st *DecodeState, tokens []int32) *engine.Var[float32] {
	if len(tokens) != st.rows {
		panic(fmt.Sprintf("transformer: DecodeStep: %d tokens for %d rows", len(tokens), st.rows))
	}
	tp.SetNoGrad(true)
	c := m.cfg
	x := m.embedTokens(tp, tokens, st.rows, 1, st.pos, false, nil)
	for i, L := range m.dec {
		h := L.selfLN.Forward(tp, x)
		q, k, v := L.selfAttn.qkv(tp, h, h)
		st.self[i].Append(k.Value, v.Value)
		h = tp.AttentionCached(q, st.self[i], engine.AttentionOpts{Heads: c.Heads})
		x = tp.Add(x, L.selfAttn.out.Forward(tp, h))
		h = L.encLN.Forward(tp, x)
		h = tp.AttentionCached(L.encAttn.q.Forward(tp, h), st.cross[i], engine.AttentionOpts{Heads: c.Heads, KeyPadding: st.srcPad})
		x = tp.Add(x, L.encAttn.out.Forward(tp, h))
		x = m.ffn(tp, x, L.finalLN, L.fc1, L.fc2, false, nil)
	}
	st.pos++
	return tp.Reshape(tp.Linear(m.decLN.Forward(tp, x), m.embed.V, nil), st.rows, c.Vocab)
}

// SearchOpts sets the decoder's search.
type SearchOpts struct {
	// Beam is the beam size (1: greedy); the reference decodes with 4.
	Beam int
	// LenPenalty divides a finished hypothesis's log-probability by
	// length^LenPenalty, length counting its tokens and <eos> (fairseq's
	// --lenpen; the reference uses 1).
	LenPenalty float64
	// MaxLenA and MaxLenB bound the output of a source of n tokens to
	// MaxLenA*n + MaxLenB tokens before <eos> is forced (fairseq's
	// --max-len-a/-b).
	MaxLenA float64
	MaxLenB int
}

// DefaultSearch is the reference's beam 4 and length penalty 1, with outputs
// of at most 1.2n+10 tokens.
func DefaultSearch() SearchOpts { return SearchOpts{Beam: 4, LenPenalty: 1, MaxLenA: 1.2, MaxLenB: 10} }

// Hypothesis is one decoded output.
type Hypothesis struct {
	// Tokens are the output ids without <bos> and <eos>.
	Tokens []int32
	// Score is the length-normalised log-probability (including <eos>).
	Score float64
}

// srcLens returns each sentence's length (tokens before padding).
func srcLens(src []int32, b, l int) []int {
	n := make([]int, b)
	for i := 0; i < b; i++ {
		for j := 0; j < l && src[i*l+j] != PadID; j++ {
			n[i]++
		}
	}
	return n
}

func (o SearchOpts) maxLens(src []int32, b, l int) ([]int, int) {
	lens := srcLens(src, b, l)
	out, mx := make([]int, b), 1
	for i, n := range lens {
		out[i] = max(1, int(o.MaxLenA*float64(n))+o.MaxLenB)
		mx = max(mx, out[i])
	}
	return out, mx
}

// logProbs turns the step's logits into log-probabilities in float64 (the
// normaliser summed from engine.Exp32, the training loss's exponential) with
// <pad> and <bos> excluded; at a row's last allowed step only <eos> is left.
func logProbs(tp *engine.Tape[float32], logits *engine.Var[float32], row int, forceEOS bool, dst []float64) {
	v := logits.Shape()[1]
	x := logits.Value.Data()[row*v : (row+1)*v]
	m32 := x[0]
	for _, f := range x {
		if f > m32 {
			m32 = f
		}
	}
	var s float64
	for _, f := range x {
		s += float64(engine.Exp32(f - m32))
	}
	ls := float64(m32) + math.Log(s)
	for i, f := range x {
		dst[i] = float64(f) - ls
	}
	dst[PadID], dst[BOSID] = math.Inf(-1), math.Inf(-1)
	if forceEOS {
		e := dst[EOSID]
		for i := range dst {
			dst[i] = math.Inf(-1)
		}
		dst[EOSID] = e
	}
}

// Greedy decodes src ([b*l], right-padded) by taking the most probable token
// at each step (ties: the lowest id), incrementally from the KV caches.
func (m *Model) Greedy(tp *engine.Tape[float32], src []int32, b, l int, o SearchOpts) []Hypothesis {
	maxLens, mx := o.maxLens(src, b, l)
	st := m.StartDecode(tp, src, b, l, 1, mx+1)
	out := make([]Hypothesis, b)
	done := make([]bool, b)
	tokens := make([]int32, b)
	for i := range tokens {
		tokens[i] = BOSID
	}
	lp := make([]float64, m.cfg.Vocab)
	left := b
	for t := 0; left > 0; t++ {
		tp.Reset()
		logits := m.DecodeStep(tp, st, tokens)
		for i := 0; i < b; i++ {
			if done[i] {
				tokens[i] = EOSID
				continue
			}
			logProbs(tp, logits, i, t >= maxLens[i], lp)
			best := 0
			for w, x := range lp {
				if x > lp[best] {
					best = w
				}
			}
			out[i].Score += lp[best]
			tokens[i] = int32(best)
			if int32(best) == EOSID {
				done[i] = true
				left--
				out[i].Score /= math.Pow(float64(t+1), o.LenPenalty)
				continue
			}
			out[i].Tokens = append(out[i].Tokens, int32(best))
		}
	}
	tp.Reset()
	return out
}

type candidate struct {
	score float64
	row   int // beam row within the whole batch
	word  int32
}

// Beam decodes src ([b*l], right-padded) with beam search as fairseq's
// SequenceGenerator: at each step the 2*beam best continuations of a
// sentence's beams are ranked; an <eos> among the first beam of them
// finishes a hypothesis (score divided by length^LenPenalty), the first beam
// others continue; a sentence is done when beam hypotheses have finished
// (<eos> is forced at its maximum length). With beam 1 it equals Greedy.
func (m *Model) Beam(tp *engine.Tape[float32], src []int32, b, l int, o SearchOpts) []Hypothesis {
	k := max(o.Beam, 1)
	maxLens, mx := o.maxLens(src, b, l)
	rows := b * k
	st := m.StartDecode(tp, src, b, l, k, mx+1)
	v := m.cfg.Vocab
	scores := make([]float64, rows)
	hist := make([][]int32, rows)
	for r := range scores {
		if r%k != 0 {
			scores[r] = math.Inf(-1) // only the first beam is live at the start
		}
	}
	tokens := make([]int32, rows)
	for i := range tokens {
		tokens[i] = BOSID
	}
	fin := make([][]Hypothesis, b)
	done := make([]bool, b)
	left := b
	lp := make([]float64, v)
	cands := make([]candidate, 0, 2*k*k)
	idx := make([]int32, rows)
	newScores := make([]float64, rows)
	newHist := make([][]int32, rows)
	for t := 0; left > 0; t++ {
		tp.Reset()
		logits := m.DecodeStep(tp, st, tokens)
		for s := 0; s < b; s++ {
			for j := 0; j < k; j++ {
				r := s*k + j
				idx[r] = int32(r)
				newScores[r], newHist[r] = math.Inf(-1), hist[r]
			}
			if done[s] {
				continue
			}
			cands = cands[:0]
			for j := 0; j < k; j++ {
				r := s*k + j
				if math.IsInf(scores[r], -1) {
					continue
				}
				logProbs(tp, logits, r, t >= maxLens[s], lp)
				cands = topCandidates(cands, lp, scores[r], r, 2*k)
			}
			sortCandidates(cands)
			if len(cands) > 2*k {
				cands = cands[:2*k]
			}
			next := 0
			for rank, c := range cands {
				if c.word == EOSID {
					if rank < k && len(fin[s]) < k {
						fin[s] = append(fin[s], Hypothesis{Tokens: append([]int32(nil), hist[c.row]...),
							Score: c.score / math.Pow(float64(t+1), o.LenPenalty)})
					}
					continue
				}
				if next < k {
					r := s*k + next
					idx[r] = int32(c.row)
					newScores[r] = c.score
					newHist[r] = append(append(make([]int32, 0, t+1), hist[c.row]...), c.word)
					tokens[r] = c.word
					next++
				}
			}
			if len(fin[s]) >= k || t >= maxLens[s] || next == 0 {
				done[s] = true
				left--
			}
		}
		for r := range tokens {
			if done[r/k] {
				tokens[r] = EOSID
			}
		}
		copy(scores, newScores)
		copy(hist, newHist)
		st.Reorder(idx)
	}
	tp.Reset()
	out := make([]Hypothesis, b)
	for s, f := range fin {
		best := -1
		for i, h := range f {
			if best < 0 || h.Score > f[best].Score {
				best = i
			}
		}
		if best >= 0 {
			out[s] = f[best]
		}
	}
	return out
}

// topCandidates appends to cands the n best continuations of one beam row
// (score + lp[w]), skipping impossible ones.
func topCandidates(cands []candidate, lp []float64, score float64, row, n int) []candidate {
	start := len(cands)
	for w, x := range lp {
		if math.IsInf(x, -1) {
			continue
		}
		c := candidate{score: score + x, row: row, word: int32(w)}
		if len(cands)-start < n {
			cands = append(cands, c)
			if len(cands)-start == n {
				sortCandidates(cands[start:])
			}
			continue
		}
		last := &cands[len(cands)-1]
		if !better(c, *last) {
			continue
		}
		*last = c
		for i := len(cands) - 1; i > start && better(cands[i], cands[i-1]); i-- {
			cands[i], cands[i-1] = cands[i-1], cands[i]
		}
	}
	return cands
}

// better orders candidates by score, then row, then word (deterministic ties).
func better(a, b candidate) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.row != b.row {
		return a.row < b.row
	}
	return a.word < b.word
}

func sortCandidates(c []candidate) {
	sort.Slice(c, func(i, j int) bool { return better(c[i], c[j]) })
}

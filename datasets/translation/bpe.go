package translation

import (
	"bufio"
	"bytes"
	"container/heap"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Special token ids of every BPE vocabulary.
const (
	PadID int32 = 0 // <pad>
	BOSID int32 = 1 // <bos>
	EOSID int32 = 2 // <eos>
	UNKID int32 = 3 // <unk>
)

// EndOfWord marks the last symbol of a word.
const EndOfWord = "</w>"

var specialTokens = []string{"<pad>", "<bos>", "<eos>", "<unk>"}

const bpeHeader = "#gap-bpe v1 eow=</w>"

// BPE is a character-level byte-pair-encoding tokenizer with an
// end-of-word marker (Sennrich et al. 2016): text is split on whitespace,
// each word becomes its characters with EndOfWord appended to the last one,
// and learned merges are applied by rank. The vocabulary is the four
// special tokens, then the base symbols seen in training (sorted), then
// one new symbol per merge. A character never seen in training encodes as
// UNKID. A BPE is read-only after training or loading and safe for
// concurrent use.
type BPE struct {
	vocab  []string
	ids    map[string]int32
	merges [][2]string
	ranks  map[[2]string]int
	nBase  int

	// cache memoises the ids of encoded words (word -> []int32), up to
	// maxCachedWords entries; it never changes a result.
	cache  sync.Map
	cached atomic.Int64
}

// maxCachedWords bounds the encoder's word cache.
const maxCachedWords = 1 << 18

// VocabSize is the number of token ids.
func (b *BPE) VocabSize() int { return len(b.vocab) }

// Token returns the symbol of id, or "" when out of range.
func (b *BPE) Token(id int32) string {
	if id < 0 || int(id) >= len(b.vocab) {
		return ""
	}
	return b.vocab[id]
}

// Merges returns a copy of the merges in rank order.
func (b *BPE) Merges() [][2]string { return append([][2]string(nil), b.merges...) }

func wordSymbols(w string) []string {
	rs := []rune(w)
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	if len(out) > 0 {
		out[len(out)-1] += EndOfWord
	}
	return out
}

func newBPE(alphabet []string) *BPE {
	b := &BPE{ids: map[string]int32{}, ranks: map[[2]string]int{}}
	for _, s := range specialTokens {
		b.addSymbol(s)
	}
	for _, s := range alphabet {
		b.addSymbol(s)
	}
	b.nBase = len(b.vocab)
	return b
}

func (b *BPE) addSymbol(s string) int32 {
	if id, ok := b.ids[s]; ok {
		return id
	}
	id := int32(len(b.vocab))
	b.vocab = append(b.vocab, s)
	b.ids[s] = id
	return id
}

func (b *BPE) addMerge(x, y string) int32 {
	b.ranks[[2]string{x, y}] = len(b.merges)
	b.merges = append(b.merges, [2]string{x, y})
	return b.addSymbol(x + y)
}

// pairEntry is a candidate merge in the training heap.
type pairEntry struct {
	count int
	a, b  int32
}

type pairHeap struct {
	e     []pairEntry
	vocab *[]string
}

// Len, Less, Swap, Push and Pop implement heap.Interface: most frequent
// pair first, ties by the symbols' byte order.
func (h *pairHeap) Len() int { return len(h.e) }

// Less orders by count, then symbols.
func (h *pairHeap) Less(i, j int) bool {
	x, y := h.e[i], h.e[j]
	if x.count != y.count {
		return x.count > y.count
	}
	v := *h.vocab
	if v[x.a] != v[y.a] {
		return v[x.a] < v[y.a]
	}
	return v[x.b] < v[y.b]
}

// Swap swaps two entries.
func (h *pairHeap) Swap(i, j int) { h.e[i], h.e[j] = h.e[j], h.e[i] }

// Push adds an entry.
func (h *pairHeap) Push(x any) { h.e = append(h.e, x.(pairEntry)) }

// Pop removes the last entry.
func (h *pairHeap) Pop() any {
	x := h.e[len(h.e)-1]
	h.e = h.e[:len(h.e)-1]
	return x
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// TrainBPE learns merges from texts until the vocabulary has vocabSize
// symbols or no pair occurs at least twice. Training is deterministic: the
// most frequent pair wins, ties go to the pair whose symbols are smallest
// in byte order. vocabSize must be at least 4 plus the number of base
// symbols.
func TrainBPE(texts []string, vocabSize int) (*BPE, error) {
	freq := map[string]int{}
	for _, t := range texts {
		for _, w := range strings.Fields(t) {
			freq[w]++
		}
	}
	words := make([]string, 0, len(freq))
	alpha := map[string]bool{}
	for w := range freq {
		words = append(words, w)
		for _, s := range wordSymbols(w) {
			alpha[s] = true
		}
	}
	sort.Strings(words)
	alphabet := make([]string, 0, len(alpha))
	for s := range alpha {
		alphabet = append(alphabet, s)
	}
	sort.Strings(alphabet)
	b := newBPE(alphabet)
	if vocabSize < b.nBase {
		return nil, fmt.Errorf("bpe: vocab size %d is below the %d special and base symbols of the training text", vocabSize, b.nBase)
	}
	syms := make([][]int32, len(words))
	wfreq := make([]int, len(words))
	counts := map[uint64]int{}
	where := map[uint64][]int32{}
	for i, w := range words {
		wfreq[i] = freq[w]
		for _, s := range wordSymbols(w) {
			syms[i] = append(syms[i], b.ids[s])
		}
		for j := 0; j+1 < len(syms[i]); j++ {
			k := pairKey(syms[i][j], syms[i][j+1])
			counts[k] += wfreq[i]
			where[k] = append(where[k], int32(i))
		}
	}
	h := &pairHeap{vocab: &b.vocab}
	keys := make([]uint64, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		h.e = append(h.e, pairEntry{counts[k], int32(k >> 32), int32(uint32(k))})
	}
	heap.Init(h)
	stamp := make([]int, len(words))
	changed := map[uint64]bool{}
	for round := 1; len(b.vocab) < vocabSize && h.Len() > 0; round++ {
		top := heap.Pop(h).(pairEntry)
		k := pairKey(top.a, top.b)
		if counts[k] != top.count {
			continue // stale entry
		}
		if top.count < 2 {
			break
		}
		x, y := top.a, top.b
		nid := b.addMerge(b.vocab[x], b.vocab[y])
		clear(changed)
		for _, wi := range where[k] {
			if stamp[wi] == round {
				continue
			}
			stamp[wi] = round
			s := syms[wi]
			has := false
			for j := 0; j+1 < len(s); j++ {
				if s[j] == x && s[j+1] == y {
					has = true
					break
				}
			}
			if !has {
				continue
			}
			f := wfreq[wi]
			for j := 0; j+1 < len(s); j++ {
				p := pairKey(s[j], s[j+1])
				counts[p] -= f
				changed[p] = true
			}
			ns := make([]int32, 0, len(s))
			for j := 0; j < len(s); j++ {
				if j+1 < len(s) && s[j] == x && s[j+1] == y {
					ns = append(ns, nid)
					j++
				} else {
					ns = append(ns, s[j])
				}
			}
			syms[wi] = ns
			for j := 0; j+1 < len(ns); j++ {
				p := pairKey(ns[j], ns[j+1])
				counts[p] += f
				changed[p] = true
				where[p] = append(where[p], wi)
			}
		}
		delete(where, k)
		ch := make([]uint64, 0, len(changed))
		for p := range changed {
			ch = append(ch, p)
		}
		sort.Slice(ch, func(i, j int) bool { return ch[i] < ch[j] })
		for _, p := range ch {
			if c := counts[p]; c > 0 {
				heap.Push(h, pairEntry{c, int32(p >> 32), int32(uint32(p))})
			} else {
				delete(counts, p)
			}
		}
	}
	return b, nil
}

// segment applies the merges to one word's symbols, lowest rank first.
func (b *BPE) segment(w string) []string {
	s := wordSymbols(w)
	for len(s) > 1 {
		best, bestRank := -1, len(b.merges)
		for j := 0; j+1 < len(s); j++ {
			if r, ok := b.ranks[[2]string{s[j], s[j+1]}]; ok && r < bestRank {
				best, bestRank = j, r
			}
		}
		if best < 0 {
			break
		}
		x, y := s[best], s[best+1]
		out := s[:0:0]
		for j := 0; j < len(s); j++ {
			if j+1 < len(s) && s[j] == x && s[j+1] == y {
				out = append(out, x+y)
				j++
			} else {
				out = append(out, s[j])
			}
		}
		s = out
	}
	return s
}

// Encode splits text on whitespace and returns the token ids of its words,
// without <bos>/<eos>. Symbols not in the vocabulary become UNKID.
func (b *BPE) Encode(text string) []int32 {
	var ids []int32
	for _, w := range strings.Fields(text) {
		ids = append(ids, b.encodeWord(w)...)
	}
	return ids
}

func (b *BPE) encodeWord(w string) []int32 {
	if v, ok := b.cache.Load(w); ok {
		return v.([]int32)
	}
	seg := b.segment(w)
	ids := make([]int32, len(seg))
	for i, s := range seg {
		id, ok := b.ids[s]
		if !ok {
			id = UNKID
		}
		ids[i] = id
	}
	if b.cached.Load() < maxCachedWords {
		if _, loaded := b.cache.LoadOrStore(w, ids); !loaded {
			b.cached.Add(1)
		}
	}
	return ids
}

// Decode turns ids back into text: special tokens other than <unk> are
// skipped, a symbol ending in EndOfWord ends a word. For text made of
// characters seen in training, Decode(Encode(s)) equals s with its
// whitespace collapsed to single spaces. <unk> decodes as the text "<unk>"
// and, since it carries no end-of-word mark, joins the following word.
func (b *BPE) Decode(ids []int32) string {
	var sb strings.Builder
	for _, id := range ids {
		if id == PadID || id == BOSID || id == EOSID || id < 0 || int(id) >= len(b.vocab) {
			continue
		}
		s := b.vocab[id]
		if id == UNKID {
			sb.WriteString(s)
			continue
		}
		if t, ok := strings.CutSuffix(s, EndOfWord); ok {
			sb.WriteString(t)
			sb.WriteByte(' ')
		} else {
			sb.WriteString(s)
		}
	}
	return strings.TrimSuffix(sb.String(), " ")
}

// Save writes the tokenizer to path atomically. The text format is a header
// line "#gap-bpe v1 eow=</w>", then one line "a<TAB>symbol" per base symbol
// in id order, then one line "m<TAB>left<TAB>right" per merge in rank order.
func (b *BPE) Save(path string) error {
	var buf bytes.Buffer
	buf.WriteString(bpeHeader + "\n")
	for _, s := range b.vocab[len(specialTokens):b.nBase] {
		buf.WriteString("a\t" + s + "\n")
	}
	for _, m := range b.merges {
		buf.WriteString("m\t" + m[0] + "\t" + m[1] + "\n")
	}
	if err := WriteFileAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("bpe save: %w", err)
	}
	return nil
}

// LoadBPE reads a tokenizer written by Save.
func LoadBPE(path string) (*BPE, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bpe load: %w", err)
	}
	defer f.Close()
	return ParseBPE(f, path)
}

// ParseBPE reads the Save format from r; name labels errors.
func ParseBPE(r io.Reader, name string) (*BPE, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	if !sc.Scan() || sc.Text() != bpeHeader {
		return nil, fmt.Errorf("bpe load: %s:1: want header %q", name, bpeHeader)
	}
	var alphabet []string
	var merges [][2]string
	for n := 2; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case len(f) == 2 && f[0] == "a" && f[1] != "":
			if len(merges) > 0 {
				return nil, fmt.Errorf("bpe load: %s:%d: base symbol after merges", name, n)
			}
			alphabet = append(alphabet, f[1])
		case len(f) == 3 && f[0] == "m" && f[1] != "" && f[2] != "":
			merges = append(merges, [2]string{f[1], f[2]})
		default:
			return nil, fmt.Errorf("bpe load: %s:%d: want \"a<TAB>symbol\" or \"m<TAB>left<TAB>right\"", name, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bpe load: %s: %w", name, err)
	}
	b := newBPE(alphabet)
	if b.nBase != len(specialTokens)+len(alphabet) {
		return nil, fmt.Errorf("bpe load: %s: duplicate base symbols", name)
	}
	for i, m := range merges {
		_, ok1 := b.ids[m[0]]
		_, ok2 := b.ids[m[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("bpe load: %s: merge %d (%q %q) uses an unknown symbol", name, i+1, m[0], m[1])
		}
		b.addMerge(m[0], m[1])
	}
	return b, nil
}

package translation

import (
	"fmt"
	"math"
	"strings"
)

// Smoothing methods of BLEU, as named by sacreBLEU.
const (
	SmoothExp   = "exp"   // NIST geometric sequence smoothing (sacreBLEU's default)
	SmoothNone  = "none"  // no smoothing
	SmoothFloor = "floor" // zero precisions replaced by SmoothValue/total
	SmoothAddK  = "add-k" // SmoothValue added to counts and totals for n > 1
)

// BLEUConfig selects the BLEU variant. The zero value is not valid; start
// from DefaultBLEUConfig, which is sacreBLEU's default corpus BLEU.
type BLEUConfig struct {
	// Lowercase lowercases hypotheses and references before tokenizing.
	Lowercase bool
	// Tokenize is "13a" (default) or "none" (split on whitespace only).
	Tokenize string
	// Smooth is one of SmoothExp, SmoothNone, SmoothFloor, SmoothAddK.
	Smooth string
	// SmoothValue is the parameter of floor (default 0.1) and add-k
	// (default 1); a negative value selects the default.
	SmoothValue float64
	// MaxOrder is the largest n-gram order (default 4).
	MaxOrder int
	// EffectiveOrder stops at the first order with no hypothesis n-grams
	// (sacreBLEU's effective_order, meant for sentence BLEU).
	EffectiveOrder bool
}

// DefaultBLEUConfig returns sacreBLEU's default corpus BLEU settings:
// case-sensitive, 13a tokenizer, exp smoothing, n-grams up to 4.
func DefaultBLEUConfig() BLEUConfig {
	return BLEUConfig{Tokenize: "13a", Smooth: SmoothExp, SmoothValue: -1, MaxOrder: 4}
}

// BLEUScore is a BLEU result with its sufficient statistics.
type BLEUScore struct {
	Score      float64   // 0..100
	Counts     []int     // matched n-grams per order
	Totals     []int     // hypothesis n-grams per order
	Precisions []float64 // 0..100 per order
	BP         float64   // brevity penalty
	SysLen     int       // hypothesis tokens
	RefLen     int       // closest reference tokens
}

// Ratio is SysLen/RefLen, or 0 when RefLen is 0 (as sacreBLEU reports it).
func (s BLEUScore) Ratio() float64 {
	if s.RefLen == 0 {
		return 0
	}
	return float64(s.SysLen) / float64(s.RefLen)
}

// String formats the score as sacreBLEU's text output does, e.g.
// "BLEU = 34.52 66.7/42.1/28.6/20.0 (BP = 1.000 ratio = 1.000 hyp_len = 10 ref_len = 10)".
func (s BLEUScore) String() string {
	ps := make([]string, len(s.Precisions))
	for i, p := range s.Precisions {
		ps[i] = fmt.Sprintf("%.1f", p)
	}
	return fmt.Sprintf("BLEU = %.2f %s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		s.Score, strings.Join(ps, "/"), s.BP, s.Ratio(), s.SysLen, s.RefLen)
}

func (c BLEUConfig) normalized() (BLEUConfig, error) {
	if c.Tokenize == "" {
		c.Tokenize = "13a"
	}
	if c.Tokenize != "13a" && c.Tokenize != "none" {
		return c, fmt.Errorf("bleu: unknown tokenizer %q (want 13a or none)", c.Tokenize)
	}
	if c.Smooth == "" {
		c.Smooth = SmoothExp
	}
	switch c.Smooth {
	case SmoothExp, SmoothNone:
	case SmoothFloor:
		if c.SmoothValue < 0 {
			c.SmoothValue = 0.1
		}
	case SmoothAddK:
		if c.SmoothValue < 0 {
			c.SmoothValue = 1
		}
	default:
		return c, fmt.Errorf("bleu: unknown smoothing %q (want exp, none, floor or add-k)", c.Smooth)
	}
	if c.MaxOrder == 0 {
		c.MaxOrder = 4
	}
	if c.MaxOrder < 1 {
		return c, fmt.Errorf("bleu: max n-gram order %d, want >= 1", c.MaxOrder)
	}
	return c, nil
}

func (c BLEUConfig) preprocess(s string) string {
	if c.Lowercase {
		s = pyLower(s)
	}
	s = pyRStrip(s)
	if c.Tokenize == "13a" {
		return Tokenize13a(s)
	}
	return s
}

// ngramCounts counts all n-grams of orders 1..maxOrder of a tokenized line
// (tokens separated by single spaces); keys are the space-joined tokens.
func ngramCounts(toks []string, maxOrder int) map[string]int {
	m := make(map[string]int, len(toks)*maxOrder)
	for n := 1; n <= maxOrder; n++ {
		for i := 0; i+n <= len(toks); i++ {
			m[strings.Join(toks[i:i+n], " ")]++
		}
	}
	return m
}

// closestRefLen is sacreBLEU's closest reference length: the reference
// length nearest the hypothesis length, the shorter one on a tie.
func closestRefLen(hypLen int, refLens []int) int {
	best, bestDiff := -1, -1
	for _, l := range refLens {
		d := hypLen - l
		if d < 0 {
			d = -d
		}
		if bestDiff == -1 || d < bestDiff {
			bestDiff, best = d, l
		} else if d == bestDiff && l < best {
			best = l
		}
	}
	return best
}

// CorpusBLEU computes corpus BLEU of hyps against refs, where refs[k][i] is
// the k-th reference of segment i (sacreBLEU's layout: one list per
// reference stream). Every reference stream must have len(hyps) segments.
// Empty hypotheses are kept (they add reference length only).
func CorpusBLEU(hyps []string, refs [][]string, cfg BLEUConfig) (BLEUScore, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return BLEUScore{}, err
	}
	if len(refs) == 0 {
		return BLEUScore{}, fmt.Errorf("bleu: no reference streams")
	}
	for k, r := range refs {
		if len(r) != len(hyps) {
			return BLEUScore{}, fmt.Errorf("bleu: reference stream %d has %d segments, hypotheses have %d", k+1, len(r), len(hyps))
		}
	}
	maxN := cfg.MaxOrder
	correct := make([]int, maxN)
	total := make([]int, maxN)
	sysLen, refLen := 0, 0
	refLens := make([]int, len(refs))
	for i, h := range hyps {
		var refNgrams map[string]int
		for k := range refs {
			toks := strings.Fields(cfg.preprocess(refs[k][i]))
			refLens[k] = len(toks)
			m := ngramCounts(toks, maxN)
			if refNgrams == nil {
				refNgrams = m
				continue
			}
			for g, c := range m {
				if c > refNgrams[g] {
					refNgrams[g] = c
				}
			}
		}
		htoks := strings.Fields(cfg.preprocess(h))
		sysLen += len(htoks)
		refLen += closestRefLen(len(htoks), refLens)
		for g, c := range ngramCounts(htoks, maxN) {
			n := strings.Count(g, " ")
			total[n] += c
			if rc, ok := refNgrams[g]; ok {
				correct[n] += min(c, rc)
			}
		}
	}
	return ComputeBLEU(correct, total, sysLen, refLen, cfg)
}

// ComputeBLEU turns sufficient statistics into a score exactly as
// sacreBLEU's BLEU.compute_bleu does, including its special cases: no
// matched n-gram at all gives 0; the first order with no hypothesis n-grams
// ends the loop and (without effective order) makes the score 0; with "exp"
// smoothing the k-th order with zero matches gets precision 100/(2^k*total).
func ComputeBLEU(correct, total []int, sysLen, refLen int, cfg BLEUConfig) (BLEUScore, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return BLEUScore{}, err
	}
	maxN := cfg.MaxOrder
	if len(correct) != maxN || len(total) != maxN {
		return BLEUScore{}, fmt.Errorf("bleu: %d counts and %d totals, want %d each", len(correct), len(total), maxN)
	}
	s := BLEUScore{
		Counts: append([]int(nil), correct...), Totals: append([]int(nil), total...),
		Precisions: make([]float64, maxN), BP: 1, SysLen: sysLen, RefLen: refLen,
	}
	if sysLen < refLen {
		if sysLen > 0 {
			s.BP = math.Exp(1 - float64(refLen)/float64(sysLen))
		} else {
			s.BP = 0
		}
	}
	anyMatch := false
	for _, c := range correct {
		if c != 0 {
			anyMatch = true
		}
	}
	if !anyMatch {
		return s, nil
	}
	smoothMteval := 1.0
	effOrder := maxN
	for n := 1; n <= maxN; n++ {
		c, t := float64(correct[n-1]), float64(total[n-1])
		if cfg.Smooth == SmoothAddK && n > 1 {
			c += cfg.SmoothValue
			t += cfg.SmoothValue
		}
		if t == 0 {
			break
		}
		if cfg.EffectiveOrder {
			effOrder = n
		}
		if c == 0 {
			switch cfg.Smooth {
			case SmoothExp:
				smoothMteval *= 2
				s.Precisions[n-1] = 100 / (smoothMteval * t)
			case SmoothFloor:
				s.Precisions[n-1] = 100 * cfg.SmoothValue / t
			}
		} else {
			s.Precisions[n-1] = 100 * c / t
		}
	}
	sum := 0.0
	for _, p := range s.Precisions[:effOrder] {
		sum += flooredLog(p)
	}
	s.Score = s.BP * math.Exp(sum/float64(effOrder))
	return s, nil
}

// flooredLog is sacreBLEU's my_log: log(0) is -9999999999.
func flooredLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

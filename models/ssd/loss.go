package ssd

import (
	"fmt"
	"math"
	"sort"

	"github.com/gap-harness/gap/engine"
)

// Targets are a batch's matched training targets.
type Targets struct {
	// N images, A default boxes each.
	N, A int
	// Labels[i*A+a] is default box a's class in image i (0: background).
	Labels []int32
	// Loc[(i*A+a)*4+k] is its encoded offset k (positives only).
	Loc []float32
	// NumPos[i] counts image i's positives.
	NumPos []int
}

// MatchBatch matches each image's truths to the default boxes (Matcher.Match
// at IoU 0.5), images in parallel over threads goroutines.
func MatchBatch(m *Matcher, truths [][]Truth, threads int) Targets {
	n, a := len(truths), len(m.Anchors)
	tg := Targets{N: n, A: a, Labels: make([]int32, n*a), Loc: make([]float32, n*a*4), NumPos: make([]int, n)}
	engine.Parallel(threads, n, 1, func(lo, hi int) {
		var iou []float64
		for i := lo; i < hi; i++ {
			if need := len(truths[i]) * a; len(iou) < need {
				iou = make([]float64, need)
			}
			tg.NumPos[i] = m.Match(truths[i], tg.Labels[i*a:(i+1)*a], tg.Loc[i*a*4:(i+1)*a*4], iou)
		}
	})
	return tg
}

// NegPosRatio is SSD's hard-negative mining ratio (3 negatives per positive).
const NegPosRatio = 3

// MineHardNegatives picks, per image, the NegPosRatio*NumPos[i] negatives
// (at most all of them) with the highest background cross-entropy
// logsumexp(conf[:, a]) - conf[0, a], computed from the logits' values
// outside autodiff (conf is [N, C, A]). It returns the global indices
// i*A+a of the positives, in order, and of all selected anchors (positives
// and mined negatives, sorted) with their labels.
func MineHardNegatives(conf []float32, classes int, tg Targets) (pos []int32, sel []int32, selLabels []int32) {
	n, a := tg.N, tg.A
	ce := make([]float64, a)
	idx := make([]int, 0, a)
	for i := 0; i < n; i++ {
		base := i * classes * a
		idx = idx[:0]
		for j := 0; j < a; j++ {
			if tg.Labels[i*a+j] != 0 {
				continue
			}
			mx := math.Inf(-1)
			for c := 0; c < classes; c++ {
				mx = math.Max(mx, float64(conf[base+c*a+j]))
			}
			s := 0.0
			for c := 0; c < classes; c++ {
				s += math.Exp(float64(conf[base+c*a+j]) - mx)
			}
			ce[j] = mx + math.Log(s) - float64(conf[base+j])
			idx = append(idx, j)
		}
		k := min(NegPosRatio*tg.NumPos[i], len(idx))
		sort.SliceStable(idx, func(x, y int) bool { return ce[idx[x]] > ce[idx[y]] })
		neg := make([]bool, a)
		for _, j := range idx[:k] {
			neg[j] = true
		}
		for j := 0; j < a; j++ {
			g := int32(i*a + j)
			if l := tg.Labels[i*a+j]; l != 0 {
				pos = append(pos, g)
				sel, selLabels = append(sel, g), append(selLabels, l)
			} else if neg[j] {
				sel, selLabels = append(sel, g), append(selLabels, 0)
			}
		}
	}
	return pos, sel, selLabels
}

// LossParts are the two terms of the multibox loss (already normalised).
type LossParts struct{ Loc, Conf float64 }

// MultiBoxLoss records SSD's loss on the tape: smooth-L1 (beta 1) between
// the positives' predicted offsets loc [N, 4, A] and their targets, summed
// over the 4 coordinates, plus the cross-entropy of the positives and the
// mined hard negatives (MineHardNegatives) from conf [N, C, A], both summed
// and divided by the batch's number of positives (as the original SSD and
// ssd.pytorch normalise). A batch without positives is an error.
func MultiBoxLoss(tp *engine.Tape[float32], loc, conf *engine.Var[float32], tg Targets) (*engine.Var[float32], LossParts, error) {
	cs := conf.Shape()
	if len(cs) != 3 || cs[0] != tg.N || cs[2] != tg.A || !engine.SameShape(loc.Shape(), []int{tg.N, 4, tg.A}) {
		return nil, LossParts{}, fmt.Errorf("ssd: loss: loc %v and conf %v for %d images of %d boxes", loc.Shape(), cs, tg.N, tg.A)
	}
	classes := cs[1]
	pos, sel, selLabels := MineHardNegatives(conf.Value.Data(), classes, tg)
	if len(pos) == 0 {
		return nil, LossParts{}, fmt.Errorf("ssd: loss: no positive default box in the batch (%d images)", tg.N)
	}
	np := float32(len(pos))
	locRows := tp.Reshape(tp.Permute(loc, 0, 2, 1), tg.N*tg.A, 4)
	pl := tp.IndexSelect(locRows, 0, pos)
	target := engine.NewTensor[float32](len(pos), 4)
	td := target.Data()
	for r, g := range pos {
		copy(td[r*4:r*4+4], tg.Loc[int(g)*4:int(g)*4+4])
	}
	// SmoothL1 is a mean over 4*len(pos) elements: x4 makes it a sum over
	// coordinates averaged over positives.
	ll := tp.Scale(tp.SmoothL1(pl, tp.Const(target), 1), 4)
	confRows := tp.Reshape(tp.Permute(conf, 0, 2, 1), tg.N*tg.A, classes)
	cl := tp.Scale(tp.CrossEntropy(tp.IndexSelect(confRows, 0, sel), selLabels, engine.CEOpts{}), float32(len(sel))/np)
	parts := LossParts{Loc: float64(ll.Value.Data()[0]), Conf: float64(cl.Value.Data()[0])}
	return tp.Add(ll, cl), parts, nil
}

// MatchThreshold is the IoU at and above which a default box is matched.
const MatchThreshold = 0.5

// Loss runs the model on x [N, C, S, S] and records the multibox loss
// against the images' truths (matched at MatchThreshold over threads
// goroutines).
func (m *Model) Loss(tp *engine.Tape[float32], x *engine.Tensor[float32], truths [][]Truth, training bool) (*engine.Var[float32], LossParts, error) {
	if len(truths) != x.Shape()[0] {
		return nil, LossParts{}, fmt.Errorf("ssd: %d truth lists for a batch of %d", len(truths), x.Shape()[0])
	}
	tg := MatchBatch(m.matcher, truths, tp.Threads())
	loc, conf := m.Forward(tp, tp.Const(x), training)
	return MultiBoxLoss(tp, loc, conf, tg)
}

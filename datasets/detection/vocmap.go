package detection

import (
	"math"
	"sort"
)

// VOCOptions configure the Pascal VOC metric.
type VOCOptions struct {
	// IoU is the overlap a detection must exceed (default 0.5).
	IoU float64
	// Use07 selects the VOC2007 11-point interpolated AP (recall 0, 0.1,
	// ..., 1); otherwise the VOC2010+ all-point (area under the
	// monotone precision envelope) AP.
	Use07 bool
	// PixelInclusive computes IoU as the VOC devkit does for 1-based
	// inclusive pixel boxes: widths and heights of intersection and boxes
	// get +1. Off: continuous coordinates, as COCO.
	PixelInclusive bool
}

// VOCResult is the per-class AP and their mean.
type VOCResult struct {
	// Categories are gt's categories sorted by id; AP[k] is the AP of
	// Categories[k], NaN when it has no non-difficult gt (such classes
	// are left out of MAP).
	Categories []Category
	AP         []float64
	// NumGT[k] is the number of non-difficult gt objects of class k.
	NumGT []int
	// MAP is the mean of the defined AP values (NaN if none).
	MAP float64
}

func vocIoU(a, b Box, plus1 bool) float64 {
	e := 0.0
	if plus1 {
		e = 1
	}
	iw := math.Min(a.X+a.W, b.X+b.W) - math.Max(a.X, b.X) + e
	ih := math.Min(a.Y+a.H, b.Y+b.H) - math.Max(a.Y, b.Y) + e
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	uni := (a.W+e)*(a.H+e) + (b.W+e)*(b.H+e) - inter
	return inter / uni
}

// EvaluateVOC computes the Pascal VOC detection AP per category as the
// devkit's voc_eval: detections of a class sorted by descending score
// (ties keep input order); each is a true positive if its best-IoU gt in
// the same image has IoU > opts.IoU, is not difficult and not yet
// detected; a false positive if that gt was already detected or the IoU
// is too small; ignored if that gt is difficult. Crowd gt counts as
// difficult. Recall is over non-difficult gt.
func EvaluateVOC(gt *Dataset, dets []Detection, opts VOCOptions) *VOCResult {
	if opts.IoU == 0 {
		opts.IoU = 0.5
	}
	cats := append([]Category(nil), gt.Categories...)
	sort.Slice(cats, func(i, j int) bool { return cats[i].ID < cats[j].ID })
	res := &VOCResult{Categories: cats, AP: make([]float64, len(cats)), NumGT: make([]int, len(cats))}
	sum, n := 0.0, 0
	for k, c := range cats {
		byImg := map[int64][]int{}
		npos := 0
		for i, a := range gt.Annotations {
			if a.CategoryID != c.ID {
				continue
			}
			byImg[a.ImageID] = append(byImg[a.ImageID], i)
			if !a.Difficult && !a.IsCrowd {
				npos++
			}
		}
		res.NumGT[k] = npos
		if npos == 0 {
			res.AP[k] = math.NaN()
			continue
		}
		var ds []int
		for i, d := range dets {
			if d.CategoryID == c.ID {
				ds = append(ds, i)
			}
		}
		sort.SliceStable(ds, func(a, b int) bool { return dets[ds[a]].Score > dets[ds[b]].Score })
		used := map[int]bool{}
		var rec, prec []float64
		tp, fp := 0.0, 0.0
		for _, di := range ds {
			d := dets[di]
			best, bj := math.Inf(-1), -1
			for _, gj := range byImg[d.ImageID] {
				if o := vocIoU(d.BBox, gt.Annotations[gj].BBox, opts.PixelInclusive); o > best {
					best, bj = o, gj
				}
			}
			if best > opts.IoU {
				g := gt.Annotations[bj]
				if g.Difficult || g.IsCrowd {
					continue
				}
				if !used[bj] {
					used[bj] = true
					tp++
				} else {
					fp++
				}
			} else {
				fp++
			}
			rec = append(rec, tp/float64(npos))
			prec = append(prec, tp/math.Max(tp+fp, math.SmallestNonzeroFloat64))
		}
		res.AP[k] = VOCAP(rec, prec, opts.Use07)
		sum += res.AP[k]
		n++
	}
	res.MAP = math.NaN()
	if n > 0 {
		res.MAP = sum / float64(n)
	}
	return res
}

// VOCAP computes the AP of a precision/recall curve (in detection order):
// with use07 the mean over recall thresholds 0, 0.1, ..., 1 of the
// highest precision at recall >= threshold (0 if none); otherwise the
// area under the precision envelope, summed where recall changes.
func VOCAP(rec, prec []float64, use07 bool) float64 {
	if use07 {
		ap := 0.0
		for i := 0; i <= 10; i++ {
			t := float64(i) * 0.1
			p := 0.0
			for j, r := range rec {
				if r >= t && prec[j] > p {
					p = prec[j]
				}
			}
			ap += p / 11
		}
		return ap
	}
	mrec := append(append([]float64{0}, rec...), 1)
	mpre := append(append([]float64{0}, prec...), 0)
	for i := len(mpre) - 1; i > 0; i-- {
		mpre[i-1] = math.Max(mpre[i-1], mpre[i])
	}
	ap := 0.0
	for i := 0; i+1 < len(mrec); i++ {
		if mrec[i+1] != mrec[i] {
			ap += (mrec[i+1] - mrec[i]) * mpre[i+1]
		}
	}
	return ap
}

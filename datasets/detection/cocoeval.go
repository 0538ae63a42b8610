package detection

import (
	"fmt"
	"math"
	"sort"
)

// COCOParams are the settings of the COCO box evaluation.
type COCOParams struct {
	// IoUThrs are the IoU thresholds (default .50:.05:.95, computed as
	// numpy.linspace does).
	IoUThrs []float64
	// RecThrs are the recall points (default 0:.01:1, 101 points).
	RecThrs []float64
	// MaxDets are the per-image detection limits (default 1, 10, 100);
	// matching uses the last one.
	MaxDets []int
	// AreaRanges are the [lo, hi] area ranges (default all, small,
	// medium, large: [0,1e10], [0,32^2], [32^2,96^2], [96^2,1e10]) and
	// AreaLabels their names.
	AreaRanges [][2]float64
	AreaLabels []string
}

// linspace is numpy.linspace(start, stop, num): start + i*step, the last
// point exactly stop.
func linspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	step := (stop - start) / float64(num-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}

// DefaultCOCOParams returns pycocotools' default box parameters.
func DefaultCOCOParams() COCOParams {
	return COCOParams{
		IoUThrs:    linspace(0.5, 0.95, 10),
		RecThrs:    linspace(0, 1, 101),
		MaxDets:    []int{1, 10, 100},
		AreaRanges: [][2]float64{{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}},
		AreaLabels: []string{"all", "small", "medium", "large"},
	}
}

// COCOResult holds the accumulated evaluation.
type COCOResult struct {
	Params COCOParams
	// CatIDs are the evaluated categories (sorted ids of gt.Categories).
	CatIDs []int64
	// Precision is [T][R][K][A][M] (T IoU thresholds, R recall points,
	// K categories, A area ranges, M max-dets) flattened, -1 where the
	// category has no non-ignored ground truth in that area range.
	Precision []float64
	// Recall is [T][K][A][M] flattened, -1 likewise.
	Recall []float64
	// Stats are the 12 summary numbers (AP, AP50, AP75, APs, APm, APl,
	// AR1, AR10, AR100, ARs, ARm, ARl), -1 where undefined. Only set with
	// the default parameter layout (3 max-dets, 4 area ranges).
	Stats [12]float64
}

// PrecisionAt returns Precision[t][r][k][a][m].
func (c *COCOResult) PrecisionAt(t, r, k, a, m int) float64 {
	R, K, A, M := len(c.Params.RecThrs), len(c.CatIDs), len(c.Params.AreaRanges), len(c.Params.MaxDets)
	return c.Precision[(((t*R+r)*K+k)*A+a)*M+m]
}

// RecallAt returns Recall[t][k][a][m].
func (c *COCOResult) RecallAt(t, k, a, m int) float64 {
	K, A, M := len(c.CatIDs), len(c.Params.AreaRanges), len(c.Params.MaxDets)
	return c.Recall[((t*K+k)*A+a)*M+m]
}

type imgCat struct{ img, cat int64 }

// boxIoU is the pycocotools box IoU; with crowd the union is the
// detection's area.
func boxIoU(d, g Box, crowd bool) float64 {
	w := math.Min(d.X+d.W, g.X+g.W) - math.Max(d.X, g.X)
	if w <= 0 {
		return 0
	}
	h := math.Min(d.Y+d.H, g.Y+g.H) - math.Max(d.Y, g.Y)
	if h <= 0 {
		return 0
	}
	inter := w * h
	u := d.Area()
	if !crowd {
		u += g.Area() - inter
	}
	return inter / u
}

// evalImg is one image x category x area range result.
type evalImg struct {
	dtScores []float64 // dets in score order, at most the last MaxDets
	dtMatch  [][]bool  // [T][D]
	dtIgnore [][]bool  // [T][D]
	gtIgnore []bool
}

// EvaluateCOCO runs the COCO box evaluation as pycocotools' COCOeval
// (evaluate, accumulate, summarize) with useCats=1: every gt image and
// category is evaluated; per image and category the detections are
// ordered by descending score (ties keep input order, as numpy's stable
// mergesort) and greedily matched, at each IoU threshold, to the
// unmatched gt of highest IoU (crowd gt may be matched many times, and
// non-ignored gt is preferred over ignored); crowd gt and gt outside the
// area range are ignored, as are detections matched to them and
// unmatched detections outside the area range. Precision is
// interpolated at 101 recall points. Categories without non-ignored gt
// get -1 and are left out of the means.
//
// Difference from pycocotools: matches are tracked as booleans, so a gt
// or detection id of 0 behaves like any other (pycocotools treats id 0
// as "unmatched").
func EvaluateCOCO(gt *Dataset, dets []Detection, p COCOParams) (*COCOResult, error) {
	if len(p.IoUThrs) == 0 || len(p.RecThrs) == 0 || len(p.MaxDets) == 0 || len(p.AreaRanges) == 0 {
		return nil, fmt.Errorf("detection: COCO evaluation: empty parameter list")
	}
	imgIDs := make([]int64, 0, len(gt.Images))
	for _, im := range gt.Images {
		imgIDs = append(imgIDs, im.ID)
	}
	sort.Slice(imgIDs, func(i, j int) bool { return imgIDs[i] < imgIDs[j] })
	catIDs := make([]int64, 0, len(gt.Categories))
	for _, c := range gt.Categories {
		catIDs = append(catIDs, c.ID)
	}
	sort.Slice(catIDs, func(i, j int) bool { return catIDs[i] < catIDs[j] })
	gts := map[imgCat][]int{}
	for i, a := range gt.Annotations {
		k := imgCat{a.ImageID, a.CategoryID}
		gts[k] = append(gts[k], i)
	}
	dts := map[imgCat][]int{}
	for i, d := range dets {
		k := imgCat{d.ImageID, d.CategoryID}
		dts[k] = append(dts[k], i)
	}
	maxDet := p.MaxDets[len(p.MaxDets)-1]
	T, R, K, A, M, I := len(p.IoUThrs), len(p.RecThrs), len(catIDs), len(p.AreaRanges), len(p.MaxDets), len(imgIDs)

	// evaluate: per category, area range and image.
	evals := make([]*evalImg, K*A*I)
	for k, cat := range catIDs {
		for i, img := range imgIDs {
			g := gts[imgCat{img, cat}]
			d := append([]int(nil), dts[imgCat{img, cat}]...)
			if len(g) == 0 && len(d) == 0 {
				continue
			}
			sort.SliceStable(d, func(a, b int) bool { return dets[d[a]].Score > dets[d[b]].Score })
			if len(d) > maxDet {
				d = d[:maxDet]
			}
			// ious[di][gi] in original gt order.
			ious := make([][]float64, len(d))
			for di, dj := range d {
				ious[di] = make([]float64, len(g))
				for gi, gj := range g {
					ga := &gt.Annotations[gj]
					ious[di][gi] = boxIoU(dets[dj].BBox, ga.BBox, ga.IsCrowd)
				}
			}
			for a, rng := range p.AreaRanges {
				evals[(k*A+a)*I+i] = evaluateImg(gt, dets, g, d, ious, rng, p.IoUThrs)
			}
		}
	}

	// accumulate.
	res := &COCOResult{Params: p, CatIDs: catIDs, Precision: make([]float64, T*R*K*A*M), Recall: make([]float64, T*K*A*M)}
	for i := range res.Precision {
		res.Precision[i] = -1
	}
	for i := range res.Recall {
		res.Recall[i] = -1
	}
	eps := math.Nextafter(1, 2) - 1 // np.spacing(1)
	for k := range catIDs {
		for a := range p.AreaRanges {
			for m, md := range p.MaxDets {
				var E []*evalImg
				for i := 0; i < I; i++ {
					if e := evals[(k*A+a)*I+i]; e != nil {
						E = append(E, e)
					}
				}
				if len(E) == 0 {
					continue
				}
				type ref struct {
					e     *evalImg
					d     int
					score float64
				}
				var all []ref
				npig := 0
				for _, e := range E {
					for d := 0; d < len(e.dtScores) && d < md; d++ {
						all = append(all, ref{e, d, e.dtScores[d]})
					}
					for _, ig := range e.gtIgnore {
						if !ig {
							npig++
						}
					}
				}
				if npig == 0 {
					continue
				}
				sort.SliceStable(all, func(x, y int) bool { return all[x].score > all[y].score })
				nd := len(all)
				for t := 0; t < T; t++ {
					tp, fp := 0.0, 0.0
					rc := make([]float64, nd)
					pr := make([]float64, nd)
					for j, r := range all {
						if r.e.dtIgnore[t][r.d] {
							// neither: cumulative sums unchanged
						} else if r.e.dtMatch[t][r.d] {
							tp++
						} else {
							fp++
						}
						rc[j] = tp / float64(npig)
						pr[j] = tp / (fp + tp + eps)
					}
					rec := 0.0
					if nd > 0 {
						rec = rc[nd-1]
					}
					res.Recall[((t*K+k)*A+a)*M+m] = rec
					for j := nd - 1; j > 0; j-- {
						if pr[j] > pr[j-1] {
							pr[j-1] = pr[j]
						}
					}
					for ri, thr := range p.RecThrs {
						// searchsorted(rc, thr, side="left")
						pi := sort.Search(nd, func(x int) bool { return rc[x] >= thr })
						q := 0.0
						if pi < nd {
							q = pr[pi]
						}
						res.Precision[(((t*R+ri)*K+k)*A+a)*M+m] = q
					}
				}
			}
		}
	}
	if M == 3 && A == 4 {
		res.Stats = res.summarize()
	}
	return res, nil
}

func evaluateImg(gt *Dataset, dets []Detection, g, d []int, ious [][]float64, rng [2]float64, thrs []float64) *evalImg {
	// Ignore flags; gt reordered with non-ignored first (stable).
	ign := make([]bool, len(g))
	for gi, gj := range g {
		a := &gt.Annotations[gj]
		ign[gi] = a.IsCrowd || a.Area < rng[0] || a.Area > rng[1]
	}
	order := make([]int, len(g))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return !ign[order[x]] && ign[order[y]] })
	T, G, D := len(thrs), len(g), len(d)
	e := &evalImg{dtScores: make([]float64, D), dtMatch: make([][]bool, T), dtIgnore: make([][]bool, T), gtIgnore: make([]bool, G)}
	for gi, o := range order {
		e.gtIgnore[gi] = ign[o]
	}
	for di, dj := range d {
		e.dtScores[di] = dets[dj].Score
	}
	for t, thr := range thrs {
		e.dtMatch[t] = make([]bool, D)
		e.dtIgnore[t] = make([]bool, D)
		gtm := make([]bool, G)
		for di := 0; di < D; di++ {
			iou := math.Min(thr, 1-1e-10)
			m := -1
			for gi, o := range order {
				crowd := gt.Annotations[g[o]].IsCrowd
				if gtm[gi] && !crowd {
					continue
				}
				// Once matched to a non-ignored gt, stop at the ignored
				// ones (sorted last).
				if m > -1 && !e.gtIgnore[m] && e.gtIgnore[gi] {
					break
				}
				if ious[di][o] < iou {
					continue
				}
				iou = ious[di][o]
				m = gi
			}
			if m == -1 {
				continue
			}
			e.dtIgnore[t][di] = e.gtIgnore[m]
			e.dtMatch[t][di] = true
			gtm[m] = true
		}
		for di, dj := range d {
			ar := dets[dj].BBox.Area()
			if !e.dtMatch[t][di] && (ar < rng[0] || ar > rng[1]) {
				e.dtIgnore[t][di] = true
			}
		}
	}
	return e
}

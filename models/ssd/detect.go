package ssd

import (
	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
)

// PostProcessBatch post-processes a batch's outputs loc [N, 4, A] and conf
// [N, C, A] (values), images in parallel over threads goroutines.
func PostProcessBatch(loc, conf *engine.Tensor[float32], anchors []Anchor, cfg PostConfig, threads int) [][]Scored {
	s := conf.Shape()
	n, classes, a := s[0], s[1], s[2]
	out := make([][]Scored, n)
	ld, cd := loc.Data(), conf.Data()
	engine.Parallel(threads, n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = PostProcess(cd[i*classes*a:(i+1)*classes*a], ld[i*4*a:(i+1)*4*a], anchors, classes, cfg)
		}
	})
	return out
}

// ToDetections converts one image's detections to COCO-style detections in
// pixels (the box clipped to the image), category id catOf(label).
func ToDetections(imageID int64, width, height int, ds []Scored, catOf func(label int) int64) []detection.Detection {
	out := make([]detection.Detection, 0, len(ds))
	w, h := float64(width), float64(height)
	for _, d := range ds {
		x0, y0 := clamp01(d.Box.X0)*w, clamp01(d.Box.Y0)*h
		x1, y1 := clamp01(d.Box.X1)*w, clamp01(d.Box.Y1)*h
		out = append(out, detection.Detection{ImageID: imageID, CategoryID: catOf(d.Label),
			BBox: detection.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}, Score: d.Score})
	}
	return out
}

// TruthsOf converts an image's annotations (pixels) to relative truths,
// label labelOf(category id). Boxes of zero area are skipped (counted in
// the second result): they cannot be matched by IoU.
func TruthsOf(anns []detection.Annotation, width, height int, labelOf func(cat int64) int32) ([]Truth, int) {
	w, h := float64(width), float64(height)
	out := make([]Truth, 0, len(anns))
	skipped := 0
	for _, a := range anns {
		if a.BBox.W <= 0 || a.BBox.H <= 0 {
			skipped++
			continue
		}
		out = append(out, Truth{Box: Rect{a.BBox.X / w, a.BBox.Y / h, (a.BBox.X + a.BBox.W) / w, (a.BBox.Y + a.BBox.H) / h}, Label: labelOf(a.CategoryID)})
	}
	return out, skipped
}

// Metrics scores detections against gt: COCO mAP@[.5:.95] ("map"), AP50
// ("ap50"), AP75 ("ap75") as pycocotools computes them, and the VOC
// all-point mAP at IoU 0.5 ("voc_map").
func Metrics(gt *detection.Dataset, dets []detection.Detection) (map[string]float64, error) {
	res, err := detection.EvaluateCOCO(gt, dets, detection.DefaultCOCOParams())
	if err != nil {
		return nil, err
	}
	voc := detection.EvaluateVOC(gt, dets, detection.VOCOptions{})
	return map[string]float64{"map": res.Stats[0], "ap50": res.Stats[1], "ap75": res.Stats[2], "voc_map": voc.MAP}, nil
}

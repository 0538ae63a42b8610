package detection

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
)

// ScoreMAP implements `gap score map -gt FILE -pred FILE [-iou voc|coco]
// [-voc07] [-pixel-inclusive]`: it reads a COCO instances file and a COCO
// results file and prints, for coco, the 12 summary lines of
// pycocotools' summarize(); for voc, "AP <name>: 0.xxxx" per category
// (n/a for categories without gt) and "mAP: 0.xxxx".
func ScoreMAP(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("score map", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gap score map -gt FILE -pred FILE [-iou coco|voc] [-voc07] [-pixel-inclusive]\n\nDetection mAP of COCO results against COCO instances ground truth.\n\nflags:")
		fs.PrintDefaults()
	}
	gtPath := fs.String("gt", "", "ground truth: COCO instances JSON `file`")
	predPath := fs.String("pred", "", "predictions: COCO results JSON `file` ([{image_id, category_id, bbox, score}])")
	mode := fs.String("iou", "coco", "metric: coco (IoU .50:.95, pycocotools) or voc (IoU 0.5, per-class AP)")
	use07 := fs.Bool("voc07", false, "voc: 11-point VOC2007 AP instead of all-point")
	plus1 := fs.Bool("pixel-inclusive", false, "voc: devkit +1 pixel IoU convention")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return fmt.Errorf("score map: %w (usage: gap score map -gt FILE -pred FILE [-iou coco|voc]; -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("score map: unexpected arguments %q", fs.Args())
	}
	if *gtPath == "" || *predPath == "" {
		return errors.New("score map: -gt and -pred are required")
	}
	gt, err := LoadCOCO(*gtPath)
	if err != nil {
		return fmt.Errorf("score map: %w", err)
	}
	if len(gt.Images) == 0 || len(gt.Annotations) == 0 {
		return fmt.Errorf("score map: %s: %d images and %d annotations, nothing to score against", *gtPath, len(gt.Images), len(gt.Annotations))
	}
	dets, err := LoadDetections(*predPath, gt)
	if err != nil {
		return fmt.Errorf("score map: %w", err)
	}
	switch *mode {
	case "coco":
		res, err := EvaluateCOCO(gt, dets, DefaultCOCOParams())
		if err != nil {
			return fmt.Errorf("score map: %w", err)
		}
		for _, l := range res.Summary() {
			if _, err := fmt.Fprintln(stdout, l); err != nil {
				return err
			}
		}
	case "voc":
		res := EvaluateVOC(gt, dets, VOCOptions{Use07: *use07, PixelInclusive: *plus1})
		for k, c := range res.Categories {
			name := c.Name
			if name == "" {
				name = fmt.Sprint(c.ID)
			}
			if math.IsNaN(res.AP[k]) {
				fmt.Fprintf(stdout, "AP %s: n/a (no ground truth)\n", name)
			} else {
				fmt.Fprintf(stdout, "AP %s: %.4f\n", name, res.AP[k])
			}
		}
		if _, err := fmt.Fprintf(stdout, "mAP: %.4f\n", res.MAP); err != nil {
			return err
		}
	default:
		return fmt.Errorf("score map: -iou %q: want voc or coco", *mode)
	}
	return nil
}

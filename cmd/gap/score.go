package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/datasets/pointcloud"
	"github.com/gap-harness/gap/datasets/translation"
)

const scoreUsage = `usage: gap score bleu|map|miou [flags]

  bleu   corpus BLEU of a hypothesis file against reference files (sacreBLEU)
  map    detection mAP of COCO results against COCO ground truth (pycocotools, VOC)
  miou   part-segmentation mIoU of label files (PointNet++)

Run 'gap score <metric> -h' for its flags.`

func cmdScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("%s", scoreUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, scoreUsage)
		return nil
	case "bleu":
		return translation.ScoreBLEU(args[1:], stdout)
	case "map":
		return detection.ScoreMAP(args[1:], stdout)
	case "miou":
		return pointcloud.ScoreMIoU(args[1:], stdout)
	}
	return usagef("unknown score %q (valid: bleu, map, miou)", args[0])
}

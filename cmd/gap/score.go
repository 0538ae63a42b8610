package main

import (
	"context"
	"io"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/datasets/pointcloud"
	"github.com/gap-harness/gap/datasets/translation"
)

func cmdScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: gap score bleu|map|miou [flags]")
	}
	switch args[0] {
	case "bleu":
		return translation.ScoreBLEU(args[1:], stdout)
	case "map":
		return detection.ScoreMAP(args[1:], stdout)
	case "miou":
		return pointcloud.ScoreMIoU(args[1:], stdout)
	}
	return usagef("unknown score %q (valid: bleu, map, miou)", args[0])
}

package main

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/gap-harness/gap/experiments"
	"github.com/gap-harness/gap/experiments/pointcloud"
	"github.com/gap-harness/gap/reports"
	"github.com/gap-harness/gap/results"
)

// withSuiteFigures adds the suite's own figures to a table's report spec:
// for the point-cloud suite, test shapes coloured by part (dense beside
// 90% C-GaP), from the segmentation artifacts the runs saved under
// tableDir.
func withSuiteFigures(spec reports.TableSpec, t *experiments.Table, tableDir string) reports.TableSpec {
	if t.Suite != "pointcloud" {
		return spec
	}
	load := func(run *results.Run) (truth, pred []reports.PointCloud, err error) {
		s, err := pointcloud.ReadSegmentation(filepath.Join(experiments.ArtifactDir(tableDir, run.ID), pointcloud.SegmentationFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		for _, sh := range s.Shapes {
			truth = append(truth, reports.PointCloud{XYZ: sh.XYZ, Labels: sh.Truth})
			pred = append(pred, reports.PointCloud{XYZ: sh.XYZ, Labels: sh.Pred})
		}
		return truth, pred, nil
	}
	spec.Extra = append(spec.Extra, reports.PartsFigure(load))
	return spec
}

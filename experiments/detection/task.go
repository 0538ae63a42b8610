// Package detection is the detection suite's training problem for the
// stage runner: the SSD of models/ssd on mnist-detect (the proxy) with its
// data order, augmentation, multibox loss and COCO/VOC evaluation. It
// implements the runner's Task method set structurally (it does not import
// experiments).
package detection

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/gap-harness/gap/datasets/cocoimg"
	data "github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/models/ssd"
)

// Spec configures a detection task (one profile at one seed).
type Spec struct {
	// Model is ssd.Proxy() (mnist-detect) or ssd.Full() (COCO 2017, with
	// COCO set).
	Model ssd.Config
	// Kappa is the number of GaP partitions: 1, 2 or 4.
	Kappa int
	// TrainImages and ValImages are the mnist-detect set sizes; the
	// training set uses MNIST's train digits, validation its test digits.
	// With COCO they are taken from the loaded splits.
	TrainImages, ValImages int
	// Batch is the training batch; EvalBatch the evaluation batch.
	Batch, EvalBatch int
	// Shift is the largest random translation in pixels (0: none) and Flip
	// switches random horizontal flips on; both drawn from the run's rng
	// (mnist-detect).
	Shift int
	Flip  bool
	// COCO, when not nil, is the data (LoadCOCO2017) and Augment its
	// training augmentation (SSD's expand, crop and flip), each image's
	// drawn from a seed that the run's rng gives.
	COCO    *COCOData
	Augment cocoimg.Augment
	// Seed seeds the model, the data sets and the batch order.
	Seed uint64
	// MNISTDir is where MNIST's idx files are (empty: the Go module cache).
	MNISTDir string
	// Threads bounds the goroutines of matching, post-processing and image
	// decoding.
	Threads int
}

// Task is the detection training problem.
type Task struct {
	spec       Spec
	model      *ssd.Model
	train, val source
	// mtrain and mval are the mnist-detect sets (nil with COCO).
	mtrain, mval *data.MNISTDetect
}

// New builds the task: the model and both data splits, mnist-detect for
// the proxy (1x64x64) or COCO 2017 (Spec.COCO) for SSD300 (3x300x300).
func New(s Spec) (*Task, error) {
	if s.COCO != nil {
		if s.Model.InChannels != 3 || s.Model.Classes != cocoimg.Classes {
			return nil, fmt.Errorf("detection: model %s (%d channels, %d classes) on COCO: want 3 channels and %d classes", s.Model.Name, s.Model.InChannels, s.Model.Classes, cocoimg.Classes)
		}
		s.TrainImages, s.ValImages = s.COCO.Train.Len(), s.COCO.Val.Len()
	} else if s.Model.InChannels != 1 || s.Model.Boxes.FigSize != 64 {
		return nil, fmt.Errorf("detection: model %s without COCO data: only the mnist-detect proxy (1x64x64) reads mnist-detect", s.Model.Name)
	}
	if s.Batch < 1 || s.TrainImages < s.Batch || s.ValImages < 1 {
		return nil, fmt.Errorf("detection: batch %d, %d training and %d validation images", s.Batch, s.TrainImages, s.ValImages)
	}
	if s.EvalBatch < 1 {
		s.EvalBatch = 64
	}
	if s.Threads < 1 {
		s.Threads = 1
	}
	if s.Kappa == 0 {
		s.Kappa = ssd.Kappa
	}
	s.Model.Seed = s.Seed
	m, err := ssd.New(s.Model)
	if err != nil {
		return nil, err
	}
	if err := m.SetKappa(s.Kappa); err != nil {
		return nil, err
	}
	t := &Task{spec: s, model: m}
	if s.COCO != nil {
		aug := s.Augment
		t.train = newCOCOSource(s.COCO.Train, s.Model.Boxes.FigSize, &aug, s.Threads)
		t.val = newCOCOSource(s.COCO.Val, s.Model.Boxes.FigSize, nil, s.Threads)
		return t, nil
	}
	tr, err := data.LoadMNISTDetect(s.MNISTDir, true, data.MNISTDetectConfig{Images: s.TrainImages, Seed: s.Seed})
	if err != nil {
		return nil, fmt.Errorf("detection: training set: %w", err)
	}
	va, err := data.LoadMNISTDetect(s.MNISTDir, false, data.MNISTDetectConfig{Images: s.ValImages, Seed: s.Seed + 1000})
	if err != nil {
		return nil, fmt.Errorf("detection: validation set: %w", err)
	}
	t.mtrain, t.mval = tr, va
	t.train = mnistSource{d: tr, shift: s.Shift, flip: s.Flip}
	t.val = mnistSource{d: va}
	return t, nil
}

// Model is the SSD.
func (t *Task) Model() *ssd.Model { return t.model }

// Params is the model's parameter set.
func (t *Task) Params() *nn.ParamSet { return t.model.Params() }

// NumPartitions is kappa.
func (t *Task) NumPartitions() int { return t.spec.Kappa }

// PartitionOf gives the partition of a parameter or buffer at this kappa.
func (t *Task) PartitionOf(name string) int {
	return ssd.PartitionFor(t.model.PartitionOf(name), t.spec.Kappa)
}

// DenseForwardFLOPs is the SSD's dense forward FLOPs per image.
func (t *Task) DenseForwardFLOPs() float64 { return t.model.DenseForwardFLOPs() }

// StepsPerEpoch drops the last partial batch.
func (t *Task) StepsPerEpoch() int { return t.spec.TrainImages / t.spec.Batch }

// ExamplesPerStep is the batch size.
func (t *Task) ExamplesPerStep() int { return t.spec.Batch }

// BatchIndices returns the canvases of step `step` of epoch `epoch`: a
// permutation of the training set drawn from (seed, epoch), sliced.
func (t *Task) BatchIndices(epoch, step int) []int {
	perm := rand.New(rand.NewPCG(t.spec.Seed, 0xde7ec7^uint64(epoch))).Perm(t.spec.TrainImages)
	return perm[step*t.spec.Batch : (step+1)*t.spec.Batch]
}

// Loss records the multibox loss of a training step.
func (t *Task) Loss(tp *engine.Tape[float32], epoch, step int, rng *rand.Rand) (*engine.Var[float32], error) {
	if step < 0 || step >= t.StepsPerEpoch() {
		return nil, fmt.Errorf("detection: step %d outside [0,%d)", step, t.StepsPerEpoch())
	}
	x, truths, err := t.train.Batch(t.BatchIndices(epoch, step), rng)
	if err != nil {
		return nil, fmt.Errorf("detection: epoch %d step %d: %w", epoch, step, err)
	}
	l, _, err := t.model.Loss(tp, x, truths, true)
	if err != nil {
		return nil, fmt.Errorf("detection: epoch %d step %d: %w", epoch, step, err)
	}
	if v := float64(l.Value.Data()[0]); math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("detection: epoch %d step %d: loss is %v", epoch, step, v)
	}
	return l, nil
}

// Evaluate runs the model in eval mode over the validation set and scores
// the post-processed detections: "map" (COCO mAP@[.5:.95], the headline),
// "ap50", "ap75", "voc_map".
func (t *Task) Evaluate(ctx context.Context, threads int) (map[string]float64, error) {
	dets, err := t.Detect(ctx, threads)
	if err != nil {
		return nil, err
	}
	return ssd.Metrics(t.val.GT(), dets)
}

// Detect returns the post-processed validation detections (COCO style,
// pixels of the original images; category ids of the data set).
func (t *Task) Detect(ctx context.Context, threads int) ([]data.Detection, error) {
	threads = max(threads, 1)
	tp := engine.NewTape[float32](threads)
	tp.SetNoGrad(true)
	n := t.val.Len()
	gt := t.val.GT()
	var dets []data.Detection
	for lo := 0; lo < n; lo += t.spec.EvalBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(n, lo+t.spec.EvalBatch)
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		x, _, err := t.val.Batch(idx, nil)
		if err != nil {
			return nil, err
		}
		tp.Reset()
		loc, conf := t.model.Forward(tp, tp.Const(x), false)
		for i, ds := range ssd.PostProcessBatch(loc.Value, conf.Value, t.model.Anchors(), ssd.DefaultPost, threads) {
			im := gt.Images[lo+i]
			dets = append(dets, ssd.ToDetections(im.ID, im.Width, im.Height, ds, t.val.Category)...)
		}
	}
	return dets, nil
}

// WriteCOCO writes the validation ground truth (gt.json) and detections
// (detections.json) into dir, so `gap score map -gt dir/gt.json -pred
// dir/detections.json` scores them.
func (t *Task) WriteCOCO(ctx context.Context, dir string, threads int) error {
	dets, err := t.Detect(ctx, threads)
	if err != nil {
		return err
	}
	if err := data.WriteCOCO(filepath.Join(dir, "gt.json"), t.val.GT()); err != nil {
		return err
	}
	return data.WriteDetections(filepath.Join(dir, "detections.json"), dets)
}

// Figure draws the first n validation canvases with their ground truth and,
// one row per model, the detections of each task's model (e.g. dense
// beside the 90% C-GaP model; the tasks must share this task's validation
// set) into a PNG at path (ssd.WriteFigure).
func (t *Task) Figure(ctx context.Context, path string, n int, models []*Task, threads int) error {
	x, truths, imgs, err := t.figureSamples(n)
	if err != nil {
		return err
	}
	var rows []ssd.FigureRow
	for _, mt := range models {
		if err := ctx.Err(); err != nil {
			return err
		}
		tp := engine.NewTape[float32](max(threads, 1))
		tp.SetNoGrad(true)
		loc, conf := mt.model.Forward(tp, tp.Const(x), false)
		rows = append(rows, ssd.FigureRow{Detections: ssd.PostProcessBatch(loc.Value, conf.Value, mt.model.Anchors(), ssd.DefaultPost, threads)})
	}
	return ssd.WriteFigure(path, t.spec.Model.Boxes.FigSize, imgs, truths, rows, ssd.FigureConfig{})
}

// figureSamples returns the first n validation samples (at most all): the
// model's input, the truths and grey images for drawing.
func (t *Task) figureSamples(n int) (*engine.Tensor[float32], [][]ssd.Truth, [][]uint8, error) {
	n = min(n, t.val.Len())
	idx := make([]int, n)
	imgs := make([][]uint8, n)
	for i := range idx {
		idx[i] = i
		g, err := t.val.Grey(i)
		if err != nil {
			return nil, nil, nil, err
		}
		imgs[i] = g
	}
	x, truths, err := t.val.Batch(idx, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return x, truths, imgs, nil
}

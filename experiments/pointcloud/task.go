// Package pointcloud is the point-cloud suite's training problem for the
// stage runner: PointNet++ part segmentation (models/pointnet2) on the
// synthetic "parts" set (the default proxy) or ShapeNet part (from a path),
// with the common PointNet++ recipe (Adam, step decay, batch-norm momentum
// decay, seeded scaling/jitter/rotation augmentation) and evaluation of
// instance and class mIoU with predictions restricted to the parts of each
// shape's category. It implements the runner's Task method set without
// importing experiments.
package pointcloud

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	pcdata "github.com/gap-harness/gap/datasets/pointcloud"
	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/models/pointnet2"
)

// Config is one task configuration.
type Config struct {
	// Model is the network; NumPoints, NumCategories and NumParts are set
	// from the data.
	Model pointnet2.Config
	// Data is "parts" (synthetic, default) or "shapenet" (DataPath holds
	// the benchmark's shapenetcore_partanno_segmentation_benchmark_v0_normal).
	Data     string
	DataPath string
	// NumPoints is the number of points per shape (2048).
	NumPoints int
	// TrainShapes and TestShapes size the "parts" splits (ignored for
	// ShapeNet, whose split files decide).
	TrainShapes, TestShapes int
	// Batch is the number of shapes per step.
	Batch int
	// Augment turns the training augmentation on: per shape a random
	// scale in [0.8, 1.25], a rotation about the up (y) axis, and Gaussian
	// jitter (std 0.01, clipped to 0.05) on the coordinates.
	Augment bool
	// BNMomentum is the initial batch-norm momentum (0.1), halved every
	// BNDecayEpochs epochs (20) down to 0.01, as PointNet++ does.
	BNMomentum    float64
	BNDecayEpochs int
	// Seed seeds the model and the batch order.
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.Data == "" {
		c.Data = "parts"
	}
	if c.NumPoints == 0 {
		c.NumPoints = 2048
	}
	if c.TrainShapes == 0 {
		c.TrainShapes = 960
	}
	if c.TestShapes == 0 {
		c.TestShapes = 240
	}
	if c.Batch == 0 {
		c.Batch = 16
	}
	if c.BNMomentum == 0 {
		c.BNMomentum = 0.1
	}
	if c.BNDecayEpochs == 0 {
		c.BNDecayEpochs = 20
	}
	return c
}

// Task is PointNet++ part segmentation with its data.
type Task struct {
	cfg         Config
	model       *pointnet2.Model
	train, test pcdata.Segmentation
	trainCache  []example
	testCache   []example
	trace       func(StepTrace)
}

// StepTrace is one training step as Loss ran it, for a replay elsewhere
// (the PyTorch comparison of the dense row): the batch after augmentation,
// its labels, and the generator's raw draws the model's dropout consumed
// (one per element of the head's activations, row-major; kept where
// Float64 of the draw >= the dropout probability, as engine.Dropout).
type StepTrace struct {
	Epoch, Step int
	Batch       pointnet2.Batch
	Labels      []int32
	// DropoutDraws are the Uint64 draws behind the dropout mask (nil
	// without dropout).
	DropoutDraws []uint64
}

// SetTrace has Loss call f with each training step it records (nil: off).
// The steps' values and draws are the same with and without a trace.
func (t *Task) SetTrace(f func(StepTrace)) { t.trace = f }

// recorder is a rand.Source passing on another generator's draws and
// keeping them.
type recorder struct {
	src   *rand.Rand
	draws []uint64
}

func (r *recorder) Uint64() uint64 {
	v := r.src.Uint64()
	r.draws = append(r.draws, v)
	return v
}

// example is one loaded shape.
type example struct {
	pts, normals []float32
	parts        []int32
	cat          int
}

// New builds the model and opens the data.
func New(cfg Config) (*Task, error) {
	cfg = cfg.withDefaults()
	t := &Task{cfg: cfg}
	switch cfg.Data {
	case "parts":
		tr, err := pcdata.NewParts(pcdata.PartsConfig{NumShapes: cfg.TrainShapes, NumPoints: cfg.NumPoints, Seed: 1})
		if err != nil {
			return nil, fmt.Errorf("pointcloud: %w", err)
		}
		te, err := pcdata.NewParts(pcdata.PartsConfig{NumShapes: cfg.TestShapes, NumPoints: cfg.NumPoints, Seed: 2})
		if err != nil {
			return nil, fmt.Errorf("pointcloud: %w", err)
		}
		t.train, t.test = tr, te
	case "shapenet":
		if cfg.DataPath == "" {
			return nil, fmt.Errorf("pointcloud: shapenet data needs a path (DATA=...)")
		}
		tr, err := pcdata.NewShapeNet(cfg.DataPath, "train", cfg.NumPoints, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("pointcloud: %w", err)
		}
		te, err := pcdata.NewShapeNet(cfg.DataPath, "test", cfg.NumPoints, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("pointcloud: %w", err)
		}
		t.train, t.test = tr, te
	default:
		return nil, fmt.Errorf("pointcloud: unknown data %q (parts, shapenet)", cfg.Data)
	}
	if t.train.Len() < cfg.Batch || t.test.Len() < 1 {
		return nil, fmt.Errorf("pointcloud: %d training shapes for batch %d, %d test shapes", t.train.Len(), cfg.Batch, t.test.Len())
	}
	mc := cfg.Model
	mc.NumPoints, mc.NumCategories, mc.NumParts = cfg.NumPoints, t.train.NumCategories(), t.train.NumParts()
	mc.Seed = cfg.Seed
	m, err := pointnet2.New(mc)
	if err != nil {
		return nil, fmt.Errorf("pointcloud: %w", err)
	}
	t.model = m
	// The synthetic set is generated once and kept (a few MB); ShapeNet
	// is read per step.
	if cfg.Data == "parts" {
		if t.trainCache, err = loadAll(t.train); err != nil {
			return nil, err
		}
		if t.testCache, err = loadAll(t.test); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// pather is a data set that can name the file of an example.
type pather interface{ Path(i int) string }

// load reads and checks example i of d: the point count, finite
// coordinates, a known category and labels among its parts. Errors name
// the file (or the index of a synthetic shape).
func load(d pcdata.Segmentation, i int) (example, error) {
	where := fmt.Sprintf("shape %d", i)
	if p, ok := d.(pather); ok {
		where = p.Path(i)
	}
	pts, nrm, parts, cat, err := d.Example(i)
	if err != nil {
		return example{}, fmt.Errorf("pointcloud: %s: %w", where, err)
	}
	n := d.NumPoints()
	if len(pts) != 3*n || len(parts) != n {
		return example{}, fmt.Errorf("pointcloud: %s: %d coordinates and %d labels, want %d points", where, len(pts)/3, len(parts), n)
	}
	for k, v := range pts {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return example{}, fmt.Errorf("pointcloud: %s: point %d has a non-finite coordinate", where, k/3)
		}
	}
	cp := d.CategoryParts(cat)
	if len(cp) == 0 {
		return example{}, fmt.Errorf("pointcloud: %s: category %d not in the catalogue", where, cat)
	}
	for k, p := range parts {
		if int(p) < cp[0] || int(p) > cp[len(cp)-1] {
			return example{}, fmt.Errorf("pointcloud: %s: point %d has label %d, not a part of category %d (%v)", where, k, p, cat, cp)
		}
	}
	return example{pts: pts, normals: nrm, parts: parts, cat: cat}, nil
}

func loadAll(d pcdata.Segmentation) ([]example, error) {
	out := make([]example, d.Len())
	for i := range out {
		e, err := load(d, i)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (t *Task) example(test bool, i int) (example, error) {
	if test {
		if t.testCache != nil {
			return t.testCache[i], nil
		}
		return load(t.test, i)
	}
	if t.trainCache != nil {
		return t.trainCache[i], nil
	}
	return load(t.train, i)
}

// Model is the network.
func (t *Task) Model() *pointnet2.Model { return t.model }

// Params is the model's parameter set.
func (t *Task) Params() *nn.ParamSet { return t.model.Params() }

// NumPartitions is kappa.
func (t *Task) NumPartitions() int { return t.model.NumPartitions() }

// PartitionOf is the partition of a parameter or buffer (-1: none).
func (t *Task) PartitionOf(name string) int { return t.model.PartitionOf(name) }

// DenseForwardFLOPs is the dense forward FLOPs of one shape.
func (t *Task) DenseForwardFLOPs() float64 { return t.model.DenseForwardFLOPs() }

// StepsPerEpoch is floor(training shapes / batch) (the last partial batch
// is dropped, as PointNet++'s loader does).
func (t *Task) StepsPerEpoch() int { return t.train.Len() / t.cfg.Batch }

// ExamplesPerStep is the batch size.
func (t *Task) ExamplesPerStep() int { return t.cfg.Batch }

// order is the training permutation of an epoch, a pure function of
// (seed, epoch).
func (t *Task) order(epoch int) []int {
	return rand.New(rand.NewPCG(t.cfg.Seed, 0x5eed^uint64(epoch))).Perm(t.train.Len())
}

// BNMomentum is the batch-norm momentum of an epoch:
// max(m0 * 0.5^(epoch / decayEpochs), 0.01).
func (t *Task) BNMomentum(epoch int) float64 {
	return math.Max(t.cfg.BNMomentum*math.Pow(0.5, float64(epoch/t.cfg.BNDecayEpochs)), 0.01)
}

// batch assembles shapes idx into a model batch and their labels,
// augmenting with rng when aug.
func (t *Task) batch(test bool, idx []int, aug bool, rng *rand.Rand) (pointnet2.Batch, []int32, []example, error) {
	n := t.cfg.NumPoints
	b := len(idx)
	xyz, nrm := engine.NewTensor[float32](b, n, 3), engine.NewTensor[float32](b, n, 3)
	cats := make([]int, b)
	labels := make([]int32, 0, b*n)
	exs := make([]example, b)
	for k, i := range idx {
		e, err := t.example(test, i)
		if err != nil {
			return pointnet2.Batch{}, nil, nil, err
		}
		exs[k] = e
		p := xyz.Data()[k*n*3 : (k+1)*n*3]
		copy(p, e.pts)
		q := nrm.Data()[k*n*3 : (k+1)*n*3]
		if e.normals != nil {
			copy(q, e.normals)
		}
		if aug {
			augment(p, q, rng)
		}
		cats[k] = e.cat
		labels = append(labels, e.parts...)
	}
	return pointnet2.Batch{XYZ: xyz, Normals: nrm, Category: cats}, labels, exs, nil
}

// augment scales p by U(0.8, 1.25), rotates p and normals q about the y
// axis by U(0, 2 pi) and jitters p by N(0, 0.01^2) clipped to +-0.05.
func augment(p, q []float32, rng *rand.Rand) {
	s := 0.8 + 0.45*rng.Float64()
	a := 2 * math.Pi * rng.Float64()
	c, sn := math.Cos(a), math.Sin(a)
	rot := func(v []float32, scale float64) {
		for i := 0; i < len(v); i += 3 {
			x, z := float64(v[i]), float64(v[i+2])
			v[i] = float32(scale * (c*x + sn*z))
			v[i+1] = float32(scale * float64(v[i+1]))
			v[i+2] = float32(scale * (-sn*x + c*z))
		}
	}
	rot(p, s)
	rot(q, 1)
	for i := range p {
		j := math.Max(-0.05, math.Min(0.05, 0.01*rng.NormFloat64()))
		p[i] += float32(j)
	}
}

// Loss records the mean per-point cross-entropy of step `step` of epoch
// `epoch` on tp (training mode; dropout and augmentation draw from rng, and
// are off when rng is nil). It sets the epoch's batch-norm momentum first.
func (t *Task) Loss(tp *engine.Tape[float32], epoch, step int, rng *rand.Rand) (*engine.Var[float32], error) {
	if step < 0 || step >= t.StepsPerEpoch() {
		return nil, fmt.Errorf("pointcloud: step %d outside [0,%d)", step, t.StepsPerEpoch())
	}
	t.model.SetBNMomentum(t.BNMomentum(epoch))
	idx := t.order(epoch)[step*t.cfg.Batch : (step+1)*t.cfg.Batch]
	in, labels, _, err := t.batch(false, idx, t.cfg.Augment && rng != nil, rng)
	if err != nil {
		return nil, err
	}
	fwdRNG := rng
	var rec *recorder
	if t.trace != nil && rng != nil {
		rec = &recorder{src: rng}
		fwdRNG = rand.New(rec)
	}
	logits, err := t.model.Forward(tp, in, true, fwdRNG)
	if err != nil {
		return nil, err
	}
	if t.trace != nil {
		st := StepTrace{Epoch: epoch, Step: step, Batch: in, Labels: labels}
		if rec != nil {
			st.DropoutDraws = rec.draws
		}
		t.trace(st)
	}
	l := tp.CrossEntropy(logits, labels, engine.CEOpts{})
	if v := l.Value.Data()[0]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return nil, fmt.Errorf("pointcloud: epoch %d step %d: loss is %g", epoch, step, v)
	}
	return l, nil
}

// Evaluate runs the test split with the current weights (batch-norm running
// statistics, no dropout) and returns "miou_instance" (the headline),
// "miou_class" and "accuracy" (per point). Each point's prediction is the
// argmax over the logits of its shape's category's parts only.
func (t *Task) Evaluate(ctx context.Context, threads int) (map[string]float64, error) {
	catParts := make([][]int, t.test.NumCategories())
	for c := range catParts {
		catParts[c] = t.test.CategoryParts(c)
	}
	acc := pcdata.NewMIoU(catParts)
	tp := engine.NewTape[float32](max(1, threads))
	tp.SetNoGrad(true)
	n := t.cfg.NumPoints
	correct, total := 0, 0
	for lo := 0; lo < t.test.Len(); lo += t.cfg.Batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+t.cfg.Batch, t.test.Len())
		idx := make([]int, hi-lo)
		for i := range idx {
			idx[i] = lo + i
		}
		tp.Reset()
		in, _, exs, err := t.batch(true, idx, false, nil)
		if err != nil {
			return nil, err
		}
		logits, err := t.model.Forward(tp, in, false, nil)
		if err != nil {
			return nil, err
		}
		preds := Predict(logits.Value, in.Category, catParts)
		for k, e := range exs {
			pred := preds[k*n : (k+1)*n]
			if _, err := acc.Add(e.cat, pred, e.parts); err != nil {
				return nil, fmt.Errorf("pointcloud: test shape %d: %w", idx[k], err)
			}
			for i, p := range pred {
				if p == e.parts[i] {
					correct++
				}
			}
			total += n
		}
	}
	return map[string]float64{
		"miou_instance": acc.Instance(),
		"miou_class":    acc.Class(),
		"accuracy":      float64(correct) / float64(total),
	}, nil
}

// Predict returns the per-point part predictions [B*N] of logits
// [B, P, N], each the argmax over the parts of its shape's category
// (PointNet++'s evaluation rule; the lowest label among ties).
func Predict(logits *engine.Tensor[float32], cats []int, catParts [][]int) []int32 {
	s := logits.Shape()
	b, p, n := s[0], s[1], s[2]
	d := logits.Data()
	out := make([]int32, b*n)
	for k := 0; k < b; k++ {
		parts := catParts[cats[k]]
		for i := 0; i < n; i++ {
			best, bi := float32(math.Inf(-1)), parts[0]
			for _, c := range parts {
				if v := d[(k*p+c)*n+i]; v > best {
					best, bi = v, c
				}
			}
			out[k*n+i] = int32(bi)
		}
	}
	return out
}

// CategoryParts lists each category's part labels (the test split's).
func (t *Task) CategoryParts() [][]int {
	cp := make([][]int, t.test.NumCategories())
	for c := range cp {
		cp[c] = t.test.CategoryParts(c)
	}
	return cp
}

// SplitTensors returns the training (test false) or test split as
// safetensors tensors, xyz and normals [S, N, 3], category [S] and labels
// [S, N] (as float32), for a replay of the suite outside Go.
func (t *Task) SplitTensors(test bool) (map[string]nn.STensor, error) {
	split := t.train
	if test {
		split = t.test
	}
	s, n := split.Len(), t.cfg.NumPoints
	xyz, nrm, cat, lab := make([]float32, 0, s*n*3), make([]float32, 0, s*n*3), make([]float32, s), make([]float32, 0, s*n)
	for i := 0; i < s; i++ {
		e, err := t.example(test, i)
		if err != nil {
			return nil, err
		}
		xyz = append(xyz, e.pts...)
		if e.normals != nil {
			nrm = append(nrm, e.normals...)
		} else {
			nrm = append(nrm, make([]float32, n*3)...)
		}
		cat[i] = float32(e.cat)
		for _, l := range e.parts {
			lab = append(lab, float32(l))
		}
	}
	return map[string]nn.STensor{
		"xyz":      {Shape: []int{s, n, 3}, Data: xyz, DType: "F32"},
		"normals":  {Shape: []int{s, n, 3}, Data: nrm, DType: "F32"},
		"category": {Shape: []int{s}, Data: cat, DType: "F32"},
		"labels":   {Shape: []int{s, n}, Data: lab, DType: "F32"},
	}, nil
}

// newEvalTape is a tape with recording off, for inference.
func newEvalTape() *engine.Tape[float32] {
	tp := engine.NewTape[float32](2)
	tp.SetNoGrad(true)
	return tp
}

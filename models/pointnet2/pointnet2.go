// Package pointnet2 is PointNet++ for part segmentation (Qi et al. 2017,
// single-scale grouping) on the engine, laid out and named as the common
// PyTorch implementation (sa1.mlp_convs.0.weight, sa1.mlp_bns.0.running_mean,
// fp3..., conv1, bn1, conv2), so that a state dict moves between the two.
//
// The network: three set abstractions (SA) — 512 centres, radius 0.2, 32
// neighbours, shared MLP [64 64 128]; 128 centres, radius 0.4, 64
// neighbours, [128 128 256]; group-all [256 512 1024] — then three feature
// propagations (FP) — [256 256], [256 128], and [128 128 128] fed the
// one-hot object category, the coordinates and the input features — and a
// 1x1-conv head (conv1, bn1, ReLU, dropout, conv2) to the part logits.
// Each shared-MLP layer is a 1x1 convolution with bias, batch norm and
// ReLU. Centres come from farthest point sampling (start at index 0),
// neighbourhoods from a ball query, features are interpolated by inverse
// squared distance from the three nearest coarser points.
package pointnet2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// Config sets the network's size. Zero fields take the PointNet++ values
// (DefaultConfig); a proxy narrows Width and lowers the point counts.
type Config struct {
	// NumPoints is the number of input points per shape (2048).
	NumPoints int
	// NumCategories is the number of object categories, the length of the
	// one-hot vector fed to fp1 (16 for ShapeNet part).
	NumCategories int
	// NumParts is the number of part logits (50 for ShapeNet part).
	NumParts int
	// Normals adds the point normals as input features (3 more channels).
	Normals bool
	// Width multiplies every MLP width (1); widths are rounded, at least 1.
	Width float64
	// NPoint1, NPoint2 are the SA1 and SA2 centre counts (512, 128).
	NPoint1, NPoint2 int
	// Radius1, Radius2 are the ball radii (0.2, 0.4).
	Radius1, Radius2 float64
	// K1, K2 are the neighbourhood sizes (32, 64).
	K1, K2 int
	// Dropout is the head's dropout probability (0.5; negative: none).
	Dropout float64
	// Partitions is kappa, the number of GaP partitions: 1, 2 or 4 (4).
	Partitions int
	// Seed seeds the initialisation (PyTorch's default init).
	Seed uint64
}

// DefaultConfig is the PointNet++ part-segmentation network on ShapeNet
// part: 2,048 points, 16 categories, 50 parts, no normals, kappa 4.
func DefaultConfig() Config {
	return Config{NumPoints: 2048, NumCategories: 16, NumParts: 50, Width: 1,
		NPoint1: 512, NPoint2: 128, Radius1: 0.2, Radius2: 0.4, K1: 32, K2: 64,
		Dropout: 0.5, Partitions: 4}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *int, dv int) {
		if *v == 0 {
			*v = dv
		}
	}
	setf := func(v *float64, dv float64) {
		if *v == 0 {
			*v = dv
		}
	}
	set(&c.NumPoints, d.NumPoints)
	set(&c.NumCategories, d.NumCategories)
	set(&c.NumParts, d.NumParts)
	set(&c.NPoint1, d.NPoint1)
	set(&c.NPoint2, d.NPoint2)
	set(&c.K1, d.K1)
	set(&c.K2, d.K2)
	set(&c.Partitions, d.Partitions)
	setf(&c.Width, d.Width)
	setf(&c.Radius1, d.Radius1)
	setf(&c.Radius2, d.Radius2)
	setf(&c.Dropout, d.Dropout)
	if c.Dropout < 0 {
		c.Dropout = 0
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.NPoint1 > c.NumPoints || c.NPoint2 > c.NPoint1:
		return fmt.Errorf("pointnet2: centre counts %d, %d must not exceed the %d points nor each other", c.NPoint1, c.NPoint2, c.NumPoints)
	case c.NumPoints < 1 || c.NPoint1 < 1 || c.NPoint2 < 1 || c.K1 < 1 || c.K2 < 1:
		return fmt.Errorf("pointnet2: point counts and neighbourhoods must be >= 1")
	case c.NumCategories < 1 || c.NumParts < 1:
		return fmt.Errorf("pointnet2: %d categories, %d parts, want >= 1", c.NumCategories, c.NumParts)
	case !(c.Width > 0) || !(c.Radius1 > 0) || !(c.Radius2 > 0):
		return fmt.Errorf("pointnet2: width %g and radii %g, %g must be positive", c.Width, c.Radius1, c.Radius2)
	case c.Dropout >= 1:
		return fmt.Errorf("pointnet2: dropout %g must be < 1", c.Dropout)
	case c.Partitions != 1 && c.Partitions != 2 && c.Partitions != 4:
		return fmt.Errorf("pointnet2: %d partitions, want 1, 2 or 4", c.Partitions)
	}
	return nil
}

// layer is one shared-MLP layer: a 1x1 conv (weight [O, C, 1, 1] in a set
// abstraction as nn.Conv2d, [O, C, 1] elsewhere as nn.Conv1d) with bias,
// and its batch norm.
type layer struct {
	w, b *nn.Param
	bn   *nn.BatchNorm
	in   int
	out  int
}

// stage is a set abstraction or feature propagation: its shared-MLP layers.
type stage struct {
	name   string
	layers []layer
}

// Model is PointNet++ part segmentation.
type Model struct {
	cfg            Config
	ps             *nn.ParamSet
	sa1, sa2, sa3  stage
	fp3, fp2, fp1  stage
	conv1, conv2   layer // conv2 has no batch norm
	partitionNames map[string]int
}

// New builds the network with PyTorch's default initialisation from cfg.Seed.
func New(cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15^cfg.Seed))
	m := &Model{cfg: cfg, ps: nn.NewParamSet()}
	w := func(n int) int { return max(1, int(math.Round(float64(n)*cfg.Width))) }
	ws := func(ns ...int) []int {
		out := make([]int, len(ns))
		for i, n := range ns {
			out[i] = w(n)
		}
		return out
	}
	feat := 0
	if cfg.Normals {
		feat = 3
	}
	in0 := 3 + feat // l0_points: xyz, plus normals
	sa1 := ws(64, 64, 128)
	sa2 := ws(128, 128, 256)
	sa3 := ws(256, 512, 1024)
	fp3 := ws(256, 256)
	fp2 := ws(256, 128)
	fp1 := ws(128, 128, 128)
	P1, P2, N := float64(cfg.NPoint1), float64(cfg.NPoint2), float64(cfg.NumPoints)
	m.sa1 = m.newStage("sa1", 3+in0, sa1, P1*float64(cfg.K1), true, rng)
	m.sa2 = m.newStage("sa2", 3+last(sa1), sa2, P2*float64(cfg.K2), true, rng)
	m.sa3 = m.newStage("sa3", 3+last(sa2), sa3, P2, true, rng)
	m.fp3 = m.newStage("fp3", last(sa3)+last(sa2), fp3, P2, false, rng)
	m.fp2 = m.newStage("fp2", last(fp3)+last(sa1), fp2, P1, false, rng)
	m.fp1 = m.newStage("fp1", last(fp2)+cfg.NumCategories+3+in0, fp1, N, false, rng)
	m.conv1 = m.newLayer("conv1", "bn1", last(fp1), w(128), N, false, true, rng)
	m.conv2 = m.newLayer("conv2", "", w(128), cfg.NumParts, N, false, false, rng)
	m.sa1.layers[0].w.FirstOrLast = true
	m.conv2.w.FirstOrLast = true
	m.assignPartitions()
	return m, nil
}

func last(s []int) int { return s[len(s)-1] }

func (m *Model) newStage(name string, in int, widths []int, positions float64, conv2d bool, rng *rand.Rand) stage {
	st := stage{name: name}
	for i, o := range widths {
		l := m.newLayer(fmt.Sprintf("%s.mlp_convs.%d", name, i), fmt.Sprintf("%s.mlp_bns.%d", name, i), in, o, positions, conv2d, true, rng)
		st.layers = append(st.layers, l)
		in = o
	}
	return st
}

// newLayer registers conv weight and bias (PyTorch's default init) and, if
// bn, the batch norm named bnName; the weight's FwdFLOPs are 2*in*out per
// position.
func (m *Model) newLayer(name, bnName string, in, out int, positions float64, conv2d, bn bool, rng *rand.Rand) layer {
	shape := []int{out, in, 1}
	if conv2d {
		shape = append(shape, 1)
	}
	wt := engine.NewTensor[float32](shape...)
	nn.DefaultWeight(wt, rng)
	bt := engine.NewTensor[float32](out)
	nn.DefaultBias(bt, in, rng)
	l := layer{w: m.ps.Add(name+".weight", wt, true), b: m.ps.Add(name+".bias", bt, false), in: in, out: out}
	l.w.FwdFLOPs = 2 * positions * float64(in) * float64(out)
	if bn {
		l.bn = nn.NewBatchNorm(m.ps, bnName, out)
	}
	return l
}

// partitionOfModule maps a module prefix to its partition for kappa = 4:
// P0 = sa1, sa2 (the local encoders, at 512 and 128 centres), P1 = sa3 (the
// global feature; half the weights), P2 = fp3 (the first decoder stage,
// back to 128 points), P3 = fp2, fp1 and the head (decoding at 512 and
// all points). The split follows the network's resolution levels, as the
// paper splits a Transformer into consecutive layer blocks and never
// separates a layer from its batch norm; kappa = 2 is encoder (sa*) and
// decoder (fp*, head); kappa = 1 is the whole network.
func (m *Model) partitionOfModule(prefix string) int {
	var p4 int
	switch prefix {
	case "sa1", "sa2":
		p4 = 0
	case "sa3":
		p4 = 1
	case "fp3":
		p4 = 2
	default:
		p4 = 3
	}
	switch m.cfg.Partitions {
	case 4:
		return p4
	case 2:
		return p4 / 2
	default:
		return 0
	}
}

func (m *Model) assignPartitions() {
	m.partitionNames = map[string]int{}
	for _, p := range m.ps.All() {
		part := m.partitionOfModule(modulePrefix(p.Name))
		m.partitionNames[p.Name] = part
		if p.Prunable {
			p.Partition = part
		}
	}
	for _, b := range m.ps.Buffers() {
		m.partitionNames[b.Name] = m.partitionOfModule(modulePrefix(b.Name))
	}
}

// modulePrefix is the top-level module of a parameter name ("sa1", "bn1").
func modulePrefix(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}

// Config returns the resolved configuration.
func (m *Model) Config() Config { return m.cfg }

// Params is the parameter set (conv weights prunable, the rest not).
func (m *Model) Params() *nn.ParamSet { return m.ps }

// NumPartitions is kappa.
func (m *Model) NumPartitions() int { return m.cfg.Partitions }

// PartitionOf returns the partition of any parameter or buffer name (a
// batch norm and a bias go with their conv), -1 for an unknown name.
func (m *Model) PartitionOf(name string) int {
	if p, ok := m.partitionNames[name]; ok {
		return p
	}
	return -1
}

// DenseForwardFLOPs is the dense forward FLOPs per shape of all 1x1 convs
// (2 * in * out per position; batch norm, ReLU, max, sampling and
// interpolation are not counted, as RigL counts).
func (m *Model) DenseForwardFLOPs() float64 {
	f := 0.0
	for _, p := range m.ps.All() {
		f += p.FwdFLOPs
	}
	return f
}

// DenseByDefault names the FirstOrLast weights: sa1.mlp_convs.0 and conv2.
func (m *Model) DenseByDefault() []string {
	return []string{m.sa1.layers[0].w.Name, m.conv2.w.Name}
}

// SetBNMomentum sets the running-statistics momentum of every batch norm
// (PointNet++'s momentum decay).
func (m *Model) SetBNMomentum(mom float64) {
	for _, st := range []stage{m.sa1, m.sa2, m.sa3, m.fp3, m.fp2, m.fp1} {
		for _, l := range st.layers {
			l.bn.State.Momentum = mom
		}
	}
	m.conv1.bn.State.Momentum = mom
}

// Batch is one batch of shapes.
type Batch struct {
	// XYZ is [B, NumPoints, 3].
	XYZ *engine.Tensor[float32]
	// Normals is [B, NumPoints, 3], used when Config.Normals (else ignored).
	Normals *engine.Tensor[float32]
	// Category is each shape's object category, in [0, NumCategories).
	Category []int
}

// Forward returns the part logits [B, NumParts, NumPoints]. training
// selects batch statistics (and running-statistics updates) and dropout,
// whose mask rng draws (nil rng: no dropout).
func (m *Model) Forward(tp *engine.Tape[float32], in Batch, training bool, rng *rand.Rand) (*engine.Var[float32], error) {
	s := in.XYZ.Shape()
	c := m.cfg
	if len(s) != 3 || s[1] != c.NumPoints || s[2] != 3 {
		return nil, fmt.Errorf("pointnet2: xyz %v, want [B %d 3]", s, c.NumPoints)
	}
	b := s[0]
	if len(in.Category) != b {
		return nil, fmt.Errorf("pointnet2: %d categories for %d shapes", len(in.Category), b)
	}
	onehot := engine.NewTensor[float32](b, c.NumCategories, c.NumPoints)
	for i, cat := range in.Category {
		if cat < 0 || cat >= c.NumCategories {
			return nil, fmt.Errorf("pointnet2: shape %d: category %d outside [0,%d)", i, cat, c.NumCategories)
		}
		row := onehot.Data()[(i*c.NumCategories+cat)*c.NumPoints:][:c.NumPoints]
		for j := range row {
			row[j] = 1
		}
	}
	// l0_points: [B, 3(+3), N] channels-first.
	l0xyz := tp.Const(channelsFirst(in.XYZ))
	l0 := l0xyz
	if c.Normals {
		if in.Normals == nil || !engine.SameShape(in.Normals.Shape(), s) {
			return nil, fmt.Errorf("pointnet2: normals missing or not [B %d 3]", c.NumPoints)
		}
		l0 = tp.Concat(1, l0xyz, tp.Const(channelsFirst(in.Normals)))
	}
	l1xyz, l1 := m.setAbstraction(tp, &m.sa1, in.XYZ, l0, c.NPoint1, c.Radius1, c.K1, training)
	l2xyz, l2 := m.setAbstraction(tp, &m.sa2, l1xyz, l1, c.NPoint2, c.Radius2, c.K2, training)
	l3 := m.groupAll(tp, &m.sa3, l2xyz, l2, training)
	l2 = m.propagate(tp, &m.fp3, l2xyz, nil, l2, l3, training)
	l1 = m.propagate(tp, &m.fp2, l1xyz, l2xyz, l1, l2, training)
	f0 := tp.Concat(1, tp.Const(onehot), l0xyz, l0)
	l0 = m.propagate(tp, &m.fp1, in.XYZ, l1xyz, f0, l1, training)
	h := tp.ReLUInPlace(m.conv1.bn.Forward(tp, conv(tp, m.conv1, l0), training))
	if rng != nil {
		h = tp.Dropout(h, c.Dropout, rng, training)
	}
	return conv(tp, m.conv2, h), nil
}

// channelsFirst turns [B, N, 3] into [B, 3, N].
func channelsFirst(t *engine.Tensor[float32]) *engine.Tensor[float32] {
	s := t.Shape()
	b, n := s[0], s[1]
	out := engine.NewTensor[float32](b, 3, n)
	src, dst := t.Data(), out.Data()
	for bi := 0; bi < b; bi++ {
		for i := 0; i < n; i++ {
			for d := 0; d < 3; d++ {
				dst[(bi*3+d)*n+i] = src[(bi*n+i)*3+d]
			}
		}
	}
	return out
}

// conv applies a layer's 1x1 conv to x [B, C, L].
func conv(tp *engine.Tape[float32], l layer, x *engine.Var[float32]) *engine.Var[float32] {
	w := l.w.V
	if len(w.Shape()) == 4 {
		w = tp.Reshape(w, l.out, l.in, 1)
	}
	return tp.Conv1D(x, w, l.b.V)
}

// mlp applies a stage's conv-BN-ReLU layers to x [B, C, L]. The ReLU
// writes over the batch norm's output (read by nothing else; the batch
// norm's backward reads its input), which saves a third of the
// activations kept for the backward pass: the same bits as a copying ReLU.
func mlp(tp *engine.Tape[float32], st *stage, x *engine.Var[float32], training bool) *engine.Var[float32] {
	for _, l := range st.layers {
		x = tp.ReLUInPlace(l.bn.Forward(tp, conv(tp, l, x), training))
	}
	return x
}

// setAbstraction samples npoint centres of xyz [B, N, 3], groups k
// neighbours within radius of each (coordinates relative to the centre,
// then the features), applies the shared MLP and max-pools over each
// neighbourhood: the centres [B, npoint, 3] and features [B, C', npoint].
func (m *Model) setAbstraction(tp *engine.Tape[float32], st *stage, xyz *engine.Tensor[float32], feat *engine.Var[float32], npoint int, radius float64, k int, training bool) (*engine.Tensor[float32], *engine.Var[float32]) {
	s := xyz.Shape()
	b, n := s[0], s[1]
	fps := tp.FarthestPointSample(xyz, npoint)
	centres := engine.NewTensor[float32](b, npoint, 3)
	x, cd := xyz.Data(), centres.Data()
	for q, i := range fps {
		src := x[((q/npoint)*n+int(i))*3:][:3]
		copy(cd[3*q:3*q+3], src)
	}
	nb := tp.BallQuery(xyz, centres, radius, k)
	// Relative coordinates, channels-first [B, 3, npoint, k].
	rel := tp.AllocUninit(b, 3, npoint, k)
	rd := rel.Data()
	mk := npoint * k
	for bi := 0; bi < b; bi++ {
		for j := 0; j < mk; j++ {
			p := x[(bi*n+int(nb[bi*mk+j]))*3:][:3]
			c := cd[(bi*npoint+j/k)*3:][:3]
			for d := 0; d < 3; d++ {
				rd[(bi*3+d)*mk+j] = p[d] - c[d]
			}
		}
	}
	grouped := tp.Concat(1, tp.Const(rel), tp.GroupPoints(feat, nb, npoint, k))
	h := mlp(tp, st, tp.Reshape(grouped, b, -1, mk), training)
	h = tp.Max(tp.Reshape(h, b, -1, npoint, k), []int{3}, false)
	return centres, h
}

// groupAll is the last set abstraction: every point (absolute coordinates,
// then features) in one group, the shared MLP and a max over all points:
// [B, C', 1].
func (m *Model) groupAll(tp *engine.Tape[float32], st *stage, xyz *engine.Tensor[float32], feat *engine.Var[float32], training bool) *engine.Var[float32] {
	h := mlp(tp, st, tp.Concat(1, tp.Const(channelsFirst(xyz)), feat), training)
	return tp.Max(h, []int{2}, true)
}

// propagate interpolates coarse features [B, C2, S] at the points xyz1
// [B, N, 3] from coarse points xyz2 [B, S, 3] (nil: a single global
// feature, repeated), concatenates the skip features fine [B, C1, N] before
// them and applies the stage's MLP.
func (m *Model) propagate(tp *engine.Tape[float32], st *stage, xyz1, xyz2 *engine.Tensor[float32], fine, coarse *engine.Var[float32], training bool) *engine.Var[float32] {
	n := xyz1.Shape()[1]
	var interp *engine.Var[float32]
	if xyz2 == nil {
		b := xyz1.Shape()[0]
		idx := make([]int32, b*n)
		w := make([]float32, b*n)
		for i := range w {
			w[i] = 1
		}
		interp = tp.ThreeInterpolate(coarse, idx, w, n, 1)
	} else {
		idx, w, k := tp.ThreeNN(xyz1, xyz2)
		interp = tp.ThreeInterpolate(coarse, idx, w, n, k)
	}
	return mlp(tp, st, tp.Concat(1, fine, interp), training)
}

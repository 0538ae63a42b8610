// Package ssd is the single-shot multibox detector (Liu et al. 2016) as
// NVIDIA's SSD300 v1.1 builds it: a ResNet backbone cut after its conv4
// stage (layer3, whose first block has stride 1), extra feature layers
// (1x1 conv, BN, ReLU, 3x3 conv, BN, ReLU), and per-map 3x3 conv heads for
// box offsets ("loc") and class logits ("conf") over the default boxes;
// plus the box machinery (default boxes, matching, encoding, loss with hard
// negative mining, post-processing with per-class NMS).
//
// Two configurations: Full (SSD300: ResNet-50 to conv4, 300x300 input, six
// maps, 8732 default boxes, 81 classes) and Proxy (the same design scaled
// to the 64x64 mnist-detect canvas: one basic block per stage, four maps,
// 380 default boxes, 11 classes).
package ssd

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// SSD300Boxes are NVIDIA SSD300 v1.1's default boxes (8732).
var SSD300Boxes = BoxSpec{
	FigSize:      300,
	FeatSizes:    []int{38, 19, 10, 5, 3, 1},
	Steps:        []int{8, 16, 32, 64, 100, 300},
	Scales:       []float64{21, 45, 99, 153, 207, 261, 315},
	AspectRatios: [][]float64{{2}, {2, 3}, {2, 3}, {2, 3}, {2}, {2}},
}

// ProxyBoxes are the proxy's default boxes on the 64x64 canvas (380): maps
// of 8, 4, 2 and 1, sizes from 10 px (the smallest digits' tight boxes) up.
var ProxyBoxes = BoxSpec{
	FigSize:      64,
	FeatSizes:    []int{8, 4, 2, 1},
	Steps:        []int{8, 16, 32, 64},
	Scales:       []float64{10, 17, 27, 40, 56},
	AspectRatios: [][]float64{{2}, {2, 3}, {2, 3}, {2}},
}

// Stage is one ResNet stage of the backbone.
type Stage struct {
	// Blocks is the number of residual blocks; Planes the block width
	// (bottleneck: the inner width; output 4x); Stride the first block's.
	Blocks, Planes, Stride int
}

// Extra is one extra feature layer: 1x1 conv to Mid channels, then a 3x3
// conv to Out channels with Stride and Pad.
type Extra struct{ Mid, Out, Stride, Pad int }

// Config is an SSD's architecture.
type Config struct {
	// Name labels the configuration ("ssd300", "ssd-proxy").
	Name string
	// InChannels and the square input side (Boxes.FigSize) are the input.
	InChannels int
	// Classes counts the background (81 for COCO, 11 for mnist-detect).
	Classes int
	// StemWidth, StemK and StemStride are the stem conv; MaxPool adds the
	// 3x3/2 max pool after it.
	StemWidth, StemK, StemStride int
	MaxPool                      bool
	// Bottleneck selects bottleneck blocks (ResNet-50) over basic ones.
	Bottleneck bool
	// Stages are layer1, layer2, layer3 (conv4).
	Stages []Stage
	// Extras are the extra feature layers after the backbone.
	Extras []Extra
	// Boxes are the default boxes; its FeatSizes must equal the maps'.
	Boxes BoxSpec
	// Seed seeds the initialisation.
	Seed uint64
}

// Full is SSD300 with ResNet-50 (torchvision layout) to conv4, conv4's
// first block at stride 1 (NVIDIA v1.1), 81 COCO classes.
func Full() Config {
	return Config{Name: "ssd300", InChannels: 3, Classes: 81, StemWidth: 64, StemK: 7, StemStride: 2, MaxPool: true,
		Bottleneck: true, Stages: []Stage{{3, 64, 1}, {4, 128, 2}, {6, 256, 1}},
		Extras: []Extra{{256, 512, 2, 1}, {256, 512, 2, 1}, {128, 256, 2, 1}, {128, 256, 1, 0}, {128, 256, 1, 0}},
		Boxes:  SSD300Boxes}
}

// Proxy is the same design on the 1x64x64 mnist-detect canvas: a 3x3/2 stem
// of 16 channels and max pool, one basic block per stage (16, 32, 64
// channels; layer3 at stride 1), three extra layers of 64 channels, 11
// classes (background + 10 digits).
func Proxy() Config {
	return Config{Name: "ssd-proxy", InChannels: 1, Classes: 11, StemWidth: 16, StemK: 3, StemStride: 2, MaxPool: true,
		Stages: []Stage{{1, 16, 1}, {1, 32, 2}, {1, 64, 1}},
		Extras: []Extra{{32, 64, 2, 1}, {32, 64, 2, 1}, {32, 64, 2, 1}},
		Boxes:  ProxyBoxes}
}

type extra struct{ a, b nn.ConvBN }

// Model is an SSD: backbone, extra layers and heads, with its default boxes.
type Model struct {
	cfg     Config
	ps      *nn.ParamSet
	stem    nn.ConvBN
	blocks  []*nn.Residual
	extras  []extra
	loc     []*nn.Conv2d
	conf    []*nn.Conv2d
	anchors []Anchor
	matcher *Matcher
	// mapSizes are the feature-map sides, checked against Boxes.
	mapSizes []int
}

// Partitions of kappa 4 (the table's default): 0 = stem + layer1,
// 1 = layer2, 2 = layer3 (conv4), 3 = extra layers + all heads. kappa 2
// joins 0-1 and 2-3; kappa 1 is everything.
const Kappa = 4

// New builds an SSD from cfg. Parameter names follow the PyTorch twin
// (scripts/torch/ssd_t.py): backbone.conv1, backbone.bn1,
// backbone.layerS.B.{conv1,bn1,...,downsample.0,downsample.1},
// additional_blocks.I.{0,1,3,4} (conv, BN, conv, BN as NVIDIA's
// nn.Sequential), loc.I and conf.I (3x3 convs with bias). Every conv
// weight is prunable; backbone.conv1 is FirstOrLast (kept dense by the
// table); partitions as Kappa's comment says.
func New(cfg Config) (*Model, error) {
	if err := cfg.Boxes.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Extras)+1 != len(cfg.Boxes.FeatSizes) {
		return nil, fmt.Errorf("ssd: %d extra layers give %d maps, boxes have %d", len(cfg.Extras), len(cfg.Extras)+1, len(cfg.Boxes.FeatSizes))
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x55d^cfg.Seed))
	m := &Model{cfg: cfg, ps: nn.NewParamSet()}
	h, w := cfg.Boxes.FigSize, cfg.Boxes.FigSize
	cb := func(conv, bn string, s nn.ConvSpec, part int) nn.ConvBN {
		c := nn.NewConv2d(m.ps, conv, s, rng)
		c.W.Partition = part
		h, w = c.Plan(h, w)
		return nn.ConvBN{Conv: c, BN: nn.NewBatchNorm(m.ps, bn, s.Out)}
	}
	m.stem = cb("backbone.conv1", "backbone.bn1", nn.ConvSpec{In: cfg.InChannels, Out: cfg.StemWidth, K: cfg.StemK, Stride: cfg.StemStride, Pad: cfg.StemK / 2}, 0)
	m.stem.Conv.W.FirstOrLast = true
	if cfg.MaxPool {
		h, w = (h+2-3)/2+1, (w+2-3)/2+1
	}
	in := cfg.StemWidth
	exp := 1
	if cfg.Bottleneck {
		exp = 4
	}
	for s, st := range cfg.Stages {
		part := max(0, s) // stem+layer1 -> 0, layer2 -> 1, layer3 -> 2
		for b := 0; b < st.Blocks; b++ {
			stride := 1
			if b == 0 {
				stride = st.Stride
			}
			out := st.Planes * exp
			p := fmt.Sprintf("backbone.layer%d.%d.", s+1, b)
			sh, sw := h, w
			blk := &nn.Residual{}
			if cfg.Bottleneck {
				blk.Layers = []nn.ConvBN{
					cb(p+"conv1", p+"bn1", nn.ConvSpec{In: in, Out: st.Planes, K: 1}, part),
					cb(p+"conv2", p+"bn2", nn.ConvSpec{In: st.Planes, Out: st.Planes, K: 3, Stride: stride, Pad: 1}, part),
					cb(p+"conv3", p+"bn3", nn.ConvSpec{In: st.Planes, Out: out, K: 1}, part),
				}
			} else {
				blk.Layers = []nn.ConvBN{
					cb(p+"conv1", p+"bn1", nn.ConvSpec{In: in, Out: out, K: 3, Stride: stride, Pad: 1}, part),
					cb(p+"conv2", p+"bn2", nn.ConvSpec{In: out, Out: out, K: 3, Pad: 1}, part),
				}
			}
			if stride != 1 || in != out {
				bh, bw := h, w
				h, w = sh, sw
				sc := cb(p+"downsample.0", p+"downsample.1", nn.ConvSpec{In: in, Out: out, K: 1, Stride: stride}, part)
				h, w = bh, bw
				blk.Shortcut = &sc
			}
			m.blocks = append(m.blocks, blk)
			in = out
		}
	}
	m.mapSizes = []int{h}
	chans := []int{in}
	for i, e := range cfg.Extras {
		p := "additional_blocks." + strconv.Itoa(i) + "."
		a := cb(p+"0", p+"1", nn.ConvSpec{In: in, Out: e.Mid, K: 1}, 3)
		b := cb(p+"3", p+"4", nn.ConvSpec{In: e.Mid, Out: e.Out, K: 3, Stride: e.Stride, Pad: e.Pad}, 3)
		m.extras = append(m.extras, extra{a, b})
		in = e.Out
		m.mapSizes = append(m.mapSizes, h)
		chans = append(chans, in)
	}
	for k, f := range cfg.Boxes.FeatSizes {
		if m.mapSizes[k] != f {
			return nil, fmt.Errorf("ssd: %s: feature map %d is %dx%d, default boxes expect %dx%d", cfg.Name, k, m.mapSizes[k], m.mapSizes[k], f, f)
		}
		nd := cfg.Boxes.BoxesPerCell(k)
		l := nn.NewConv2d(m.ps, "loc."+strconv.Itoa(k), nn.ConvSpec{In: chans[k], Out: nd * 4, K: 3, Pad: 1, Bias: true}, rng)
		c := nn.NewConv2d(m.ps, "conf."+strconv.Itoa(k), nn.ConvSpec{In: chans[k], Out: nd * cfg.Classes, K: 3, Pad: 1, Bias: true}, rng)
		l.Plan(f, f)
		c.Plan(f, f)
		l.W.Partition, c.W.Partition = 3, 3
		m.loc, m.conf = append(m.loc, l), append(m.conf, c)
	}
	var err error
	if m.anchors, err = DefaultBoxes(cfg.Boxes); err != nil {
		return nil, err
	}
	m.matcher = NewMatcher(m.anchors, MatchThreshold)
	return m, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Params is the model's parameter set.
func (m *Model) Params() *nn.ParamSet { return m.ps }

// Anchors are the default boxes in output order.
func (m *Model) Anchors() []Anchor { return m.anchors }

// NumAnchors is the number of default boxes.
func (m *Model) NumAnchors() int { return len(m.anchors) }

// NumClasses counts the background.
func (m *Model) NumClasses() int { return m.cfg.Classes }

// InputSide is the square input's side.
func (m *Model) InputSide() int { return m.cfg.Boxes.FigSize }

// DenseForwardFLOPs sums the conv weights' dense forward FLOPs per example.
func (m *Model) DenseForwardFLOPs() float64 {
	f := 0.0
	for _, p := range m.ps.All() {
		f += p.FwdFLOPs
	}
	return f
}

// NumPartitions is Kappa.
func (m *Model) NumPartitions() int { return Kappa }

// PartitionOf returns the kappa-4 partition of any parameter or buffer name
// (a batch norm goes with its conv): 0 stem and layer1, 1 layer2, 2 layer3,
// 3 extra layers and heads; -1 for an unknown name.
func (m *Model) PartitionOf(name string) int {
	switch {
	case strings.HasPrefix(name, "backbone.conv1."), strings.HasPrefix(name, "backbone.bn1."), strings.HasPrefix(name, "backbone.layer1."):
		return 0
	case strings.HasPrefix(name, "backbone.layer2."):
		return 1
	case strings.HasPrefix(name, "backbone.layer3."):
		return 2
	case strings.HasPrefix(name, "additional_blocks."), strings.HasPrefix(name, "loc."), strings.HasPrefix(name, "conf."):
		return 3
	}
	return -1
}

// PartitionFor maps a kappa-4 partition to kappa 1, 2 or 4 (kappa 2: {0,1}
// -> 0, {2,3} -> 1).
func PartitionFor(p4, kappa int) int {
	switch {
	case p4 < 0:
		return -1
	case kappa == 1:
		return 0
	case kappa == 2:
		return p4 / 2
	}
	return p4
}

// SetKappa re-assigns the prunable tensors' Partition for kappa 1, 2 or 4.
func (m *Model) SetKappa(kappa int) error {
	if kappa != 1 && kappa != 2 && kappa != 4 {
		return fmt.Errorf("ssd: kappa %d (want 1, 2 or 4)", kappa)
	}
	for _, p := range m.ps.All() {
		if p.Prunable {
			p.Partition = PartitionFor(m.PartitionOf(p.Name), kappa)
		}
	}
	return nil
}

// Forward maps x [N, C, S, S] to box offsets loc [N, 4, A] and class
// logits conf [N, Classes, A] (A default boxes, in DefaultBoxes' order:
// each head's [N, nd*k, H, W] output viewed as [N, k, nd*H*W], as NVIDIA's
// SSD300 does, concatenated over the maps).
func (m *Model) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) (loc, conf *engine.Var[float32]) {
	s := x.Shape()
	S := m.cfg.Boxes.FigSize
	if len(s) != 4 || s[1] != m.cfg.InChannels || s[2] != S || s[3] != S {
		panic(fmt.Sprintf("ssd: input %v, want [N %d %d %d]", s, m.cfg.InChannels, S, S))
	}
	n := s[0]
	h := tp.ReLU(m.stem.Forward(tp, x, training))
	if m.cfg.MaxPool {
		h = tp.MaxPool2D(h, engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	}
	for _, b := range m.blocks {
		h = b.Forward(tp, h, training)
	}
	feats := []*engine.Var[float32]{h}
	for _, e := range m.extras {
		h = tp.ReLU(e.a.Forward(tp, h, training))
		h = tp.ReLU(e.b.Forward(tp, h, training))
		feats = append(feats, h)
	}
	locs := make([]*engine.Var[float32], len(feats))
	confs := make([]*engine.Var[float32], len(feats))
	for k, f := range feats {
		locs[k] = tp.Reshape(m.loc[k].Forward(tp, f), n, 4, -1)
		confs[k] = tp.Reshape(m.conf[k].Forward(tp, f), n, m.cfg.Classes, -1)
	}
	return tp.Concat(2, locs...), tp.Concat(2, confs...)
}

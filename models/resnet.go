package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

func newConvBN(ps *nn.ParamSet, conv, bn string, s nn.ConvSpec, part int, h, w *int, rng *rand.Rand) nn.ConvBN {
	c := nn.NewConv2d(ps, conv, s, rng)
	c.W.Partition = part
	*h, *w = c.Plan(*h, *w)
	return nn.ConvBN{Conv: c, BN: nn.NewBatchNorm(ps, bn, s.Out)}
}

// blockSpec says how to build one residual block.
type blockSpec struct {
	prefix      string // "layer1.0"
	in, out     int    // block input and output channels
	mid         int    // bottleneck width (0: basic block)
	stride      int
	shortcutFmt string // "%s.shortcut.%d" or "%s.downsample.%d"
	part        int
}

func newBlock(ps *nn.ParamSet, s blockSpec, h, w *int, rng *rand.Rand) *nn.Residual {
	b := &nn.Residual{}
	sh, sw := *h, *w
	n := func(kind string, i int) string { return s.prefix + "." + kind + strconv.Itoa(i) }
	if s.mid == 0 {
		b.Layers = []nn.ConvBN{
			newConvBN(ps, n("conv", 1), n("bn", 1), nn.ConvSpec{In: s.in, Out: s.out, K: 3, Stride: s.stride, Pad: 1}, s.part, h, w, rng),
			newConvBN(ps, n("conv", 2), n("bn", 2), nn.ConvSpec{In: s.out, Out: s.out, K: 3, Pad: 1}, s.part, h, w, rng),
		}
	} else {
		b.Layers = []nn.ConvBN{
			newConvBN(ps, n("conv", 1), n("bn", 1), nn.ConvSpec{In: s.in, Out: s.mid, K: 1}, s.part, h, w, rng),
			newConvBN(ps, n("conv", 2), n("bn", 2), nn.ConvSpec{In: s.mid, Out: s.mid, K: 3, Stride: s.stride, Pad: 1}, s.part, h, w, rng),
			newConvBN(ps, n("conv", 3), n("bn", 3), nn.ConvSpec{In: s.mid, Out: s.out, K: 1}, s.part, h, w, rng),
		}
	}
	if s.stride != 1 || s.in != s.out {
		sc := newConvBN(ps, fmt.Sprintf(s.shortcutFmt, s.prefix, 0), fmt.Sprintf(s.shortcutFmt, s.prefix, 1),
			nn.ConvSpec{In: s.in, Out: s.out, K: 1, Stride: s.stride}, s.part, &sh, &sw, rng)
		b.Shortcut = &sc
	}
	return b
}

// resnet is a residual network: stem, stages of blocks, global mean, linear.
type resnet struct {
	common
	stem    nn.ConvBN
	maxPool bool
	blocks  []*nn.Residual
	fc      *nn.Linear
}

// Forward computes the logits.
func (m *resnet) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	checkInput(m.name, x, m.c, m.h, m.w)
	h := m.stem.ForwardReLU(tp, x, training)
	if m.maxPool {
		h = tp.MaxPool2D(h, engine.PoolOpts{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1})
	}
	for _, b := range m.blocks {
		h = b.Forward(tp, h, training)
	}
	return m.fc.Forward(tp, tp.GlobalAvgPool2D(h))
}

// claimAll fills the partition map: each conv with its batch norm, the stem
// (conv1, bn1) with partition 0 and fc (weight and bias) with its weight's.
func (m *resnet) claimAll() {
	cb := func(c nn.ConvBN) {
		m.claim(c.Conv.W.Partition, strings.TrimSuffix(c.Conv.W.Name, ".weight"), strings.TrimSuffix(c.BN.Weight.Name, ".weight"))
	}
	cb(m.stem)
	for _, b := range m.blocks {
		for _, l := range b.Layers {
			cb(l)
		}
		if b.Shortcut != nil {
			cb(*b.Shortcut)
		}
	}
	m.claim(m.fc.W.Partition, "fc")
}

func scaled(base int, mult float64) int { return max(1, int(math.Round(float64(base)*mult))) }

// ResNetCIFAR builds the CIFAR ResNet of He et al. (depth 6n+2: 20, 32, 44,
// 56, 110) as torch_reference.py's ResNet20: a 3x3 stem conv (16 channels), 3
// stages of n basic blocks (16, 32, 64 channels times WidthMult; the first
// block of stages 2 and 3 has stride 2), a 1x1 conv + BN shortcut when the
// shape changes, global mean and a linear layer. Default input 3x32x32.
//
// Names: conv1, bn1, layerS.B.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1},
// fc. Partitions: stage S is partition S-1 (3 partitions); the stem conv goes
// with partition 0 and fc with partition 2. conv1 and fc are FirstOrLast.
func ResNetCIFAR(depth int, c Config) (Model, error) {
	if depth < 8 || (depth-2)%6 != 0 {
		return nil, fmt.Errorf("CIFAR ResNet depth %d is not 6n+2", depth)
	}
	n := (depth - 2) / 6
	c = c.withDefaults(3, 32, 32)
	rng := c.rng()
	m := &resnet{common: newCommon("resnet"+strconv.Itoa(depth), c, 3)}
	h, w := c.Height, c.Width
	in := scaled(16, c.WidthMult)
	m.stem = newConvBN(m.ps, "conv1", "bn1", nn.ConvSpec{In: c.InChannels, Out: in, K: 3, Pad: 1}, 0, &h, &w, rng)
	m.stem.Conv.W.FirstOrLast = true
	for s, base := range []int{16, 32, 64} {
		out := scaled(base, c.WidthMult)
		for b := 0; b < n; b++ {
			stride := 1
			if b == 0 && s > 0 {
				stride = 2
			}
			m.blocks = append(m.blocks, newBlock(m.ps, blockSpec{prefix: fmt.Sprintf("layer%d.%d", s+1, b), in: in, out: out,
				stride: stride, shortcutFmt: "%s.shortcut.%d", part: s}, &h, &w, rng))
			in = out
		}
	}
	m.fc = nn.NewLinear(m.ps, "fc", in, c.Classes, true, rng)
	m.fc.W.Partition, m.fc.W.FirstOrLast = 2, true
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("input %dx%d too small", c.Height, c.Width)
	}
	m.claimAll()
	return m, nil
}

// ResNet18 builds torchvision's resnet18 (basic blocks [2,2,2,2]).
// See imagenetResNet for the layout, names and partitions.
func ResNet18(c Config) (Model, error) {
	return imagenetResNet("resnet18", []int{2, 2, 2, 2}, false, c)
}

// ResNet50 builds torchvision's resnet50 (bottleneck blocks [3,4,6,3],
// stride on the 3x3 conv, "v1.5"). See imagenetResNet.
func ResNet50(c Config) (Model, error) { return imagenetResNet("resnet50", []int{3, 4, 6, 3}, true, c) }

// imagenetResNet builds an ImageNet-style ResNet as torchvision does: a 7x7/2
// stem conv (64 channels) + BN + ReLU + 3x3/2 max pool (or, with SmallStem, a
// 3x3/1 conv and no pool), 4 stages of 64, 128, 256, 512 planes (times
// WidthMult; bottlenecks expand 4x), 1x1 conv + BN downsample when the shape
// changes, global mean and fc. Default input 3x224x224, 10 classes (1000 for
// ImageNet proper: set Classes).
//
// Names: conv1, bn1, layerS.B.{conv1,bn1,conv2,bn2[,conv3,bn3],downsample.0,
// downsample.1}, fc (torchvision's). Partitions: stage S is partition S-1 (4
// partitions); the stem conv goes with partition 0 and fc with partition 3.
// conv1 and fc are FirstOrLast.
func imagenetResNet(name string, blocks []int, bottleneck bool, c Config) (Model, error) {
	c = c.withDefaults(3, 224, 224)
	rng := c.rng()
	m := &resnet{common: newCommon(name, c, 4), maxPool: !c.SmallStem}
	h, w := c.Height, c.Width
	in := scaled(64, c.WidthMult)
	stem := nn.ConvSpec{In: c.InChannels, Out: in, K: 7, Stride: 2, Pad: 3}
	if c.SmallStem {
		stem = nn.ConvSpec{In: c.InChannels, Out: in, K: 3, Pad: 1}
	}
	m.stem = newConvBN(m.ps, "conv1", "bn1", stem, 0, &h, &w, rng)
	m.stem.Conv.W.FirstOrLast = true
	if m.maxPool {
		h, w = (h+2-3)/2+1, (w+2-3)/2+1
	}
	expansion := 1
	if bottleneck {
		expansion = 4
	}
	for s, nb := range blocks {
		planes := scaled(64<<s, c.WidthMult)
		for b := 0; b < nb; b++ {
			stride := 1
			if b == 0 && s > 0 {
				stride = 2
			}
			spec := blockSpec{prefix: fmt.Sprintf("layer%d.%d", s+1, b), in: in, out: planes * expansion,
				stride: stride, shortcutFmt: "%s.downsample.%d", part: s}
			if bottleneck {
				spec.mid = planes
			}
			m.blocks = append(m.blocks, newBlock(m.ps, spec, &h, &w, rng))
			in = planes * expansion
		}
	}
	m.fc = nn.NewLinear(m.ps, "fc", in, c.Classes, true, rng)
	m.fc.W.Partition, m.fc.W.FirstOrLast = 3, true
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("input %dx%d too small", c.Height, c.Width)
	}
	m.claimAll()
	return m, nil
}

// Package models builds the harness's networks (MLP, LeNet-5, conv2, CIFAR
// ResNet-20/32, ImageNet ResNet-18/50) on the engine. Each model owns an
// nn.ParamSet whose parameter names follow PyTorch's (torchvision's for the
// ImageNet ResNets), marks every conv and linear weight prunable, flags the
// first conv (first layer) and last linear as FirstOrLast (the layers a table
// usually keeps dense), assigns GaP partitions, and records each weight's dense
// forward FLOPs per example.
package models

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// Model is a classifier built from named parameters.
type Model interface {
	// Name is the builder's name ("resnet20", ...).
	Name() string
	// Forward maps x [N, C, H, W] to logits [N, NumClasses()]. training
	// selects batch-norm batch statistics (and running-stat updates).
	Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32]
	// Params is the model's parameter set.
	Params() *nn.ParamSet
	// NumPartitions is the number of GaP partitions of the prunable tensors.
	NumPartitions() int
	// InputShape is the expected input (channels, height, width).
	InputShape() (c, h, w int)
	// NumClasses is the number of logits.
	NumClasses() int
	// DenseForwardFLOPs is the dense forward FLOPs per example of all conv
	// and linear layers (prunable and FirstOrLast alike); batch norm,
	// activations and pooling are not counted (as RigL counts).
	DenseForwardFLOPs() float64
	// DenseByDefault names the tensors a table keeps dense by default: the
	// first conv (first layer) and the last linear.
	DenseByDefault() []string
	// DenseSet names the prunable tensors a table keeps dense under a rule:
	// "none", "first" (the first layer only, as RigL's ImageNet runs) or
	// "first-last" (the first and the last layer).
	DenseSet(rule string) ([]string, error)
	// PartitionOf is the GaP partition of any parameter or buffer name: a
	// batch norm (its weight, bias and running statistics) and a bias go
	// with the partition of their layer's weight, the stem's batch norm with
	// the stem conv. -1 means in no partition; an unknown name is -1 too.
	PartitionOf(name string) int
}

// DenseRules are the valid rules of Model.DenseSet.
var denseRules = []string{"none", "first", "first-last"}

// DenseRules lists the valid DenseSet rules.
func DenseRules() []string { return append([]string(nil), denseRules...) }

// Config sets a model's size and seed. Zero fields take the model's default
// (the reference input shape, 10 classes, width 1).
type Config struct {
	// Classes is the number of outputs (default 10).
	Classes int
	// InChannels, Height and Width are the input shape (default: the model's
	// reference shape, e.g. 1x28x28 for LeNet-5, 3x32x32 for ResNet-20,
	// 3x224x224 for ImageNet ResNets).
	InChannels, Height, Width int
	// WidthMult scales every ResNet channel count (default 1); ignored by
	// MLP, LeNet-5 and conv2.
	WidthMult float64
	// Seed seeds the initialisation.
	Seed uint64
	// SmallStem replaces the ImageNet ResNets' 7x7/2 stem and max pool by a
	// 3x3/1 conv (the usual adaptation to 32x32 inputs). Ignored elsewhere.
	SmallStem bool
}

func (c Config) withDefaults(ch, h, w int) Config {
	if c.Classes == 0 {
		c.Classes = 10
	}
	if c.InChannels == 0 {
		c.InChannels = ch
	}
	if c.Height == 0 {
		c.Height = h
	}
	if c.Width == 0 {
		c.Width = w
	}
	if c.WidthMult == 0 {
		c.WidthMult = 1
	}
	return c
}

func (c Config) rng() *rand.Rand { return rand.New(rand.NewPCG(c.Seed, 0x9e3779b97f4a7c15^c.Seed)) }

// Builder makes a model from a config.
type Builder func(Config) (Model, error)

// builders is the read-only registry of model names.
var builders = map[string]Builder{
	"mlp":      MLP,
	"lenet5":   LeNet5,
	"conv2":    Conv2,
	"resnet20": func(c Config) (Model, error) { return ResNetCIFAR(20, c) },
	"resnet32": func(c Config) (Model, error) { return ResNetCIFAR(32, c) },
	"resnet18": ResNet18,
	"resnet50": ResNet50,
}

// Names lists the registered model names, sorted.
func Names() []string {
	out := make([]string, 0, len(builders))
	for k := range builders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// New builds the named model.
func New(name string, c Config) (Model, error) {
	b, ok := builders[name]
	if !ok {
		return nil, fmt.Errorf("models: unknown model %q (known: %v)", name, Names())
	}
	m, err := b(c)
	if err != nil {
		return nil, fmt.Errorf("models: %s: %w", name, err)
	}
	return m, nil
}

// common implements the bookkeeping half of Model.
type common struct {
	name    string
	ps      *nn.ParamSet
	parts   int
	partOf  map[string]int // parameter or buffer name -> partition (see claim)
	c, h, w int
	classes int
}

func newCommon(name string, c Config, parts int) common {
	return common{name: name, ps: nn.NewParamSet(), parts: parts, c: c.InChannels, h: c.Height, w: c.Width, classes: c.Classes}
}

// Name is the model's name.
func (m *common) Name() string { return m.name }

// Params is the model's parameter set.
func (m *common) Params() *nn.ParamSet { return m.ps }

// NumPartitions is the number of GaP partitions.
func (m *common) NumPartitions() int { return m.parts }

// InputShape is the expected input shape.
func (m *common) InputShape() (c, h, w int) { return m.c, m.h, m.w }

// NumClasses is the number of logits.
func (m *common) NumClasses() int { return m.classes }

// DenseForwardFLOPs sums the weights' dense forward FLOPs.
func (m *common) DenseForwardFLOPs() float64 {
	var f float64
	for _, p := range m.ps.All() {
		f += p.FwdFLOPs
	}
	return f
}

// DenseSet implements Model.DenseSet from the FirstOrLast flags: the first
// flagged tensor in registration order is the first layer, the last one the
// last layer.
func (m *common) DenseSet(rule string) ([]string, error) {
	fl := m.DenseByDefault()
	switch rule {
	case "none":
		return nil, nil
	case "first":
		if len(fl) == 0 {
			return nil, nil
		}
		return fl[:1], nil
	case "first-last", "":
		return fl, nil
	}
	return nil, fmt.Errorf("models: dense rule %q: expected one of %v", rule, denseRules)
}

// PartitionOf implements Model.PartitionOf from the map the builder filled
// (see claim) and, for a name the builder did not claim, the parameter's own
// Partition.
func (m *common) PartitionOf(name string) int {
	if p, ok := m.partOf[name]; ok {
		return p
	}
	if p := m.ps.Get(name); p != nil {
		return p.Partition
	}
	return -1
}

// claim puts every parameter and buffer of the modules named by prefixes
// (a module "layer1.0.bn1" owns "layer1.0.bn1.weight", ".running_mean", ...)
// in partition part.
func (m *common) claim(part int, prefixes ...string) {
	if m.partOf == nil {
		m.partOf = map[string]int{}
	}
	for _, pre := range prefixes {
		for _, p := range m.ps.All() {
			if strings.HasPrefix(p.Name, pre+".") {
				m.partOf[p.Name] = part
			}
		}
		for _, b := range m.ps.Buffers() {
			if strings.HasPrefix(b.Name, pre+".") {
				m.partOf[b.Name] = part
			}
		}
	}
}

// DenseByDefault names the FirstOrLast tensors.
func (m *common) DenseByDefault() []string {
	var out []string
	for _, p := range m.ps.All() {
		if p.FirstOrLast {
			out = append(out, p.Name)
		}
	}
	return out
}

func checkInput(name string, x *engine.Var[float32], c, h, w int) {
	s := x.Shape()
	if len(s) != 4 || s[1] != c || s[2] != h || s[3] != w {
		panic(fmt.Sprintf("models: %s: input %v, want [N %d %d %d]", name, s, c, h, w))
	}
}

// flatten reshapes [N, ...] to [N, rest] (a view).
func flatten(tp *engine.Tape[float32], x *engine.Var[float32]) *engine.Var[float32] {
	return tp.Reshape(x, x.Shape()[0], -1)
}

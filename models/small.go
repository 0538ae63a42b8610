package models

import (
	"fmt"
	"strings"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
)

// mlp is the 784-300-100-10 multilayer perceptron (LeNet-300-100).
type mlp struct {
	common
	fc1, fc2, fc3 *nn.Linear
}

// MLP builds the 784-300-100-10 ReLU perceptron (input flattened; default
// 1x28x28). Partitions: one per layer (fc1: 0, fc2: 1, fc3: 2); fc1 and fc3
// are FirstOrLast.
func MLP(c Config) (Model, error) {
	c = c.withDefaults(1, 28, 28)
	rng := c.rng()
	m := &mlp{common: newCommon("mlp", c, 3)}
	in := c.InChannels * c.Height * c.Width
	m.fc1 = nn.NewLinear(m.ps, "fc1", in, 300, true, rng)
	m.fc2 = nn.NewLinear(m.ps, "fc2", 300, 100, true, rng)
	m.fc3 = nn.NewLinear(m.ps, "fc3", 100, c.Classes, true, rng)
	m.layerPartitions(m.fc1.W, m.fc2.W, m.fc3.W)
	return m, nil
}

// Forward computes the logits.
func (m *mlp) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	checkInput(m.name, x, m.c, m.h, m.w)
	h := tp.ReLU(m.fc1.Forward(tp, flatten(tp, x)))
	h = tp.ReLU(m.fc2.Forward(tp, h))
	return m.fc3.Forward(tp, h)
}

// layerPartitions gives weight i (and its layer's bias) partition i and
// marks the first and last.
func (m *common) layerPartitions(ws ...*nn.Param) {
	for i, w := range ws {
		w.Partition = i
		m.claim(i, strings.TrimSuffix(w.Name, ".weight"))
	}
	ws[0].FirstOrLast = true
	ws[len(ws)-1].FirstOrLast = true
}

// lenet5 is torch_reference.py's LeNet-5.
type lenet5 struct {
	common
	c1, c2     *nn.Conv2d
	f1, f2, f3 *nn.Linear
}

// LeNet5 builds LeNet-5 as in torch_reference.py: conv 5x5 (6, pad 2), ReLU,
// max pool 2; conv 5x5 (16), ReLU, max pool 2; linear 120, 84, classes.
// Default input 1x28x28. Names conv1, conv2, fc1, fc2, fc3; partitions one per
// layer (0..4); conv1 and fc3 are FirstOrLast.
func LeNet5(c Config) (Model, error) {
	c = c.withDefaults(1, 28, 28)
	rng := c.rng()
	m := &lenet5{common: newCommon("lenet5", c, 5)}
	m.c1 = nn.NewConv2d(m.ps, "conv1", nn.ConvSpec{In: c.InChannels, Out: 6, K: 5, Pad: 2, Bias: true}, rng)
	h, w := m.c1.Plan(c.Height, c.Width)
	h, w = h/2, w/2
	m.c2 = nn.NewConv2d(m.ps, "conv2", nn.ConvSpec{In: 6, Out: 16, K: 5, Bias: true}, rng)
	h, w = m.c2.Plan(h, w)
	h, w = h/2, w/2
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("input %dx%d too small for LeNet-5", c.Height, c.Width)
	}
	m.f1 = nn.NewLinear(m.ps, "fc1", 16*h*w, 120, true, rng)
	m.f2 = nn.NewLinear(m.ps, "fc2", 120, 84, true, rng)
	m.f3 = nn.NewLinear(m.ps, "fc3", 84, c.Classes, true, rng)
	m.layerPartitions(m.c1.W, m.c2.W, m.f1.W, m.f2.W, m.f3.W)
	return m, nil
}

var pool2 = engine.PoolOpts{KH: 2, KW: 2}

// Forward computes the logits.
func (m *lenet5) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	checkInput(m.name, x, m.c, m.h, m.w)
	h := tp.MaxPool2D(m.c1.ForwardReLU(tp, x), pool2)
	h = flatten(tp, tp.MaxPool2D(m.c2.ForwardReLU(tp, h), pool2))
	h = tp.ReLU(m.f1.Forward(tp, h))
	h = tp.ReLU(m.f2.Forward(tp, h))
	return m.f3.Forward(tp, h)
}

// conv2 is torch_reference.py's Conv2.
type conv2 struct {
	common
	c1, c2 *nn.Conv2d
	fc     *nn.Linear
}

// Conv2 builds torch_reference.py's conv2: conv 3x3 (32, pad 1, no bias),
// ReLU, conv 3x3 (64, pad 1, no bias), ReLU, global mean, linear. Default
// input 3x32x32. Partitions one per layer (0..2); conv1 and fc FirstOrLast.
func Conv2(c Config) (Model, error) {
	c = c.withDefaults(3, 32, 32)
	rng := c.rng()
	m := &conv2{common: newCommon("conv2", c, 3)}
	m.c1 = nn.NewConv2d(m.ps, "conv1", nn.ConvSpec{In: c.InChannels, Out: 32, K: 3, Pad: 1}, rng)
	h, w := m.c1.Plan(c.Height, c.Width)
	m.c2 = nn.NewConv2d(m.ps, "conv2", nn.ConvSpec{In: 32, Out: 64, K: 3, Pad: 1}, rng)
	m.c2.Plan(h, w)
	m.fc = nn.NewLinear(m.ps, "fc", 64, c.Classes, true, rng)
	m.layerPartitions(m.c1.W, m.c2.W, m.fc.W)
	return m, nil
}

// Forward computes the logits.
func (m *conv2) Forward(tp *engine.Tape[float32], x *engine.Var[float32], training bool) *engine.Var[float32] {
	checkInput(m.name, x, m.c, m.h, m.w)
	h := m.c1.ForwardReLU(tp, x)
	h = m.c2.ForwardReLU(tp, h)
	return m.fc.Forward(tp, tp.GlobalAvgPool2D(h))
}

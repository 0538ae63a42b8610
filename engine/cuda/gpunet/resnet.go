// Package gpunet holds networks that train entirely in GPU memory on the
// CUDA backend's kernels (package cuda): today the torchvision ResNet
// (bottleneck v1.5: the stride on the 3x3 convolution), with its forward,
// backward and SGD step. Activations are kept channel-major (CNHW), so every
// convolution is one cuBLAS GEMM over the whole batch (after im2col when the
// kernel is not 1x1 stride 1) whose output is the next layer's input as it
// stands. Every buffer is allocated once, in New; a step allocates nothing on
// the device.
package gpunet

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gap-harness/gap/engine/cuda"
)

// Config is a bottleneck ResNet and the batch it trains on.
type Config struct {
	// Batch and Size: images per step and their height = width.
	Batch, Size int
	// Classes is the width of the final linear layer.
	Classes int
	// Stem is the stem convolution's output channels (64 in ResNet-50).
	Stem int
	// Planes are the bottleneck widths of the four stages (64, 128, 256,
	// 512); each block outputs 4x its width.
	Planes [4]int
	// Blocks are the blocks per stage (3, 4, 6, 3).
	Blocks [4]int
	// Seed draws the initial weights.
	Seed uint64
}

// ResNet50 is torchvision's resnet50 at the given batch, image size and classes.
func ResNet50(batch, size, classes int) Config {
	return Config{Batch: batch, Size: size, Classes: classes, Stem: 64,
		Planes: [4]int{64, 128, 256, 512}, Blocks: [4]int{3, 4, 6, 3}, Seed: 1}
}

// Param is a trainable tensor on the device: its value, gradient (written by
// each Backward) and momentum buffer.
type Param struct {
	// Name is torchvision's state-dict key ("layer1.0.conv2.weight").
	Name string
	// Shape is PyTorch's shape ([O, C, KH, KW] for a convolution).
	Shape []int
	// W, G and Mom are the value, gradient and SGD momentum.
	W, G, Mom *cuda.Buffer
}

// Len is the number of values.
func (p *Param) Len() int { return p.W.Len() }

// unit is convolution -> batch norm (-> ReLU).
type unit struct {
	name        string
	g           cuda.ConvGeom
	w, gam, bet *Param
	bn          cuda.BNState
	in          *cuda.Buffer // the input activation (CNHW), owned elsewhere
	c, y, dY    *cuda.Buffer // conv output, bn(/relu) output, gradient of y
	relu        bool
	runMean     string // state-dict keys of the running statistics
	runVar      string
	outLen      int
}

type block struct {
	u1, u2, u3, down *unit // down is nil for an identity shortcut
	in, dIn          *cuda.Buffer
}

// Net is a ResNet on one device.
type Net struct {
	cfg    Config
	be     cuda.Backend
	params []*Param
	byName map[string]*Param
	stats  map[string]*cuda.Buffer

	xNCHW, x0   *cuda.Buffer
	stem        *unit
	pool        cuda.PoolGeom
	pooled, arg *cuda.Buffer
	dPooled     *cuda.Buffer
	blocks      []*block
	last        cuda.Layout
	feat, dFeat *cuda.Buffer
	fcW, fcB    *Param
	logits      *cuda.Buffer
	labels      *cuda.Buffer
	rows, loss  *cuda.Buffer
	dLogits     *cuda.Buffer
	col, dC     *cuda.Buffer // shared workspaces: im2col and a unit's conv-output gradient
	bufs        []*cuda.Buffer
	features    int
}

// BN hyper-parameters (PyTorch's defaults).
const (
	bnEps      = 1e-5
	bnMomentum = 0.1
)

// New builds the network on a backend (a GPU's *cuda.Ops, or cuda.Host):
// every parameter (initialised as
// torchvision does: Kaiming-normal fan-out convolutions, BN weight 1 and bias
// 0, the linear layer uniform in +-1/sqrt(fan-in)), activation, gradient and
// workspace buffer.
func New(be cuda.Backend, cfg Config) (*Net, error) {
	if cfg.Batch < 1 || cfg.Size < 32 || cfg.Classes < 1 || cfg.Stem < 1 {
		return nil, fmt.Errorf("gpunet: config %+v: batch, classes and stem must be positive and the size at least 32", cfg)
	}
	n := &Net{cfg: cfg, be: be, byName: map[string]*Param{}, stats: map[string]*cuda.Buffer{}}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	var err error
	alloc := func(k int) *cuda.Buffer {
		if err != nil {
			return nil
		}
		var b *cuda.Buffer
		b, err = n.be.Alloc(k)
		if err == nil {
			n.bufs = append(n.bufs, b)
		}
		return b
	}
	param := func(name string, init []float32, shape ...int) *Param {
		p := &Param{Name: name, Shape: shape, W: alloc(len(init)), G: alloc(len(init)), Mom: alloc(len(init))}
		if err == nil {
			err = n.be.Upload(p.W, init)
		}
		n.params = append(n.params, p)
		n.byName[name] = p
		return p
	}
	fill := func(k int, v float32) []float32 {
		s := make([]float32, k)
		for i := range s {
			s[i] = v
		}
		return s
	}
	B := cfg.Batch
	maxCol, maxOut := 0, 0
	mkUnit := func(name, bnName string, in *cuda.Buffer, c, h, w, o, k, s, p int, relu, needDY bool) *unit {
		g, gerr := cuda.NewConvGeom(B, c, h, w, o, k, k, s, s, p, p)
		if gerr != nil && err == nil {
			err = fmt.Errorf("gpunet: %s: %w", name, gerr)
		}
		std := math.Sqrt(2 / float64(o*k*k)) // kaiming_normal_, mode fan_out, relu
		wi := make([]float32, o*c*k*k)
		for i := range wi {
			wi[i] = float32(r.NormFloat64() * std)
		}
		u := &unit{name: name, g: g, in: in, relu: relu, outLen: g.Out().Len()}
		u.w = param(name+".weight", wi, o, c, k, k)
		u.gam = param(bnName+".weight", fill(o, 1), o)
		u.bet = param(bnName+".bias", fill(o, 0), o)
		u.bn = cuda.BNState{Mean: alloc(o), InvStd: alloc(o), RunMean: alloc(o), RunVar: alloc(o)}
		if err == nil {
			err = n.be.Upload(u.bn.RunVar, fill(o, 1))
		}
		u.runMean, u.runVar = bnName+".running_mean", bnName+".running_var"
		n.stats[u.runMean], n.stats[u.runVar] = u.bn.RunMean, u.bn.RunVar
		u.c, u.y = alloc(u.outLen), alloc(u.outLen)
		if needDY {
			u.dY = alloc(u.outLen)
		}
		maxCol, maxOut = max(maxCol, g.ColLen()), max(maxOut, u.outLen)
		return u
	}
	S := cfg.Size
	n.xNCHW, n.x0 = alloc(B*3*S*S), alloc(B*3*S*S)
	n.stem = mkUnit("conv1", "bn1", n.x0, 3, S, S, cfg.Stem, 7, 2, 3, true, true)
	h := n.stem.g.OH
	pool, perr := cuda.NewPoolGeom(cfg.Stem*B, h, h, 3, 2, 1)
	if err == nil && perr != nil {
		err = fmt.Errorf("gpunet: max pool: %w", perr)
	}
	if err != nil {
		n.Close()
		return nil, err
	}
	n.pool = pool
	h = n.pool.OH
	n.pooled, n.arg, n.dPooled = alloc(cfg.Stem*B*h*h), alloc(cfg.Stem*B*h*h), alloc(cfg.Stem*B*h*h)
	in, dIn, inC := n.pooled, n.dPooled, cfg.Stem
	for s := range 4 {
		p := cfg.Planes[s]
		for i := 0; i < cfg.Blocks[s]; i++ {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			pre := fmt.Sprintf("layer%d.%d.", s+1, i)
			b := &block{in: in, dIn: dIn}
			b.u1 = mkUnit(pre+"conv1", pre+"bn1", in, inC, h, h, p, 1, 1, 0, true, true)
			b.u2 = mkUnit(pre+"conv2", pre+"bn2", b.u1.y, p, h, h, p, 3, stride, 1, true, true)
			oh := b.u2.g.OH
			b.u3 = mkUnit(pre+"conv3", pre+"bn3", b.u2.y, p, oh, oh, 4*p, 1, 1, 0, false, true)
			if stride != 1 || inC != 4*p {
				b.down = mkUnit(pre+"downsample.0", pre+"downsample.1", in, inC, h, h, 4*p, 1, stride, 0, false, false)
			}
			n.blocks = append(n.blocks, b)
			in, dIn, inC, h = b.u3.y, b.u3.dY, 4*p, oh
		}
	}
	n.last = cuda.CNHW(B, inC, h, h)
	n.features = inC
	n.feat, n.dFeat = alloc(B*inC), alloc(B*inC)
	bound := 1 / math.Sqrt(float64(inC))
	uni := func(k int) []float32 {
		s := make([]float32, k)
		for i := range s {
			s[i] = float32((2*r.Float64() - 1) * bound)
		}
		return s
	}
	n.fcW = param("fc.weight", uni(cfg.Classes*inC), cfg.Classes, inC)
	n.fcB = param("fc.bias", uni(cfg.Classes), cfg.Classes)
	n.logits, n.dLogits = alloc(B*cfg.Classes), alloc(B*cfg.Classes)
	n.labels, n.rows, n.loss = alloc(B), alloc(B), alloc(1)
	n.col, n.dC = alloc(max(maxCol, 1)), alloc(maxOut)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("gpunet: allocating %s: %w", cfg.describe(), err)
	}
	if err := n.checkSpecs(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (c Config) describe() string {
	return fmt.Sprintf("ResNet stem %d planes %v blocks %v, batch %d, %dx%d, %d classes", c.Stem, c.Planes, c.Blocks, c.Batch, c.Size, c.Size, c.Classes)
}

// Config is the network's configuration.
func (n *Net) Config() Config { return n.cfg }

// Params lists the trainable parameters in torchvision's state-dict order.
func (n *Net) Params() []*Param { return n.params }

// Param returns the parameter with a torchvision state-dict key, or nil.
func (n *Net) Param(name string) *Param { return n.byName[name] }

// SetParam uploads a parameter's value from a host slice in PyTorch's layout.
func (n *Net) SetParam(name string, v []float32) error {
	p := n.byName[name]
	if p == nil {
		return fmt.Errorf("gpunet: no parameter %q", name)
	}
	if len(v) != p.Len() {
		return fmt.Errorf("gpunet: parameter %s has %d values (shape %v), %d given", name, p.Len(), p.Shape, len(v))
	}
	return n.be.Upload(p.W, v)
}

// SetStat uploads a batch norm's running statistic ("layer1.0.bn1.running_mean").
func (n *Net) SetStat(name string, v []float32) error {
	b := n.stats[name]
	if b == nil {
		return fmt.Errorf("gpunet: no running statistic %q", name)
	}
	return n.be.Upload(b, v)
}

// Stat returns a running statistic's buffer, or nil.
func (n *Net) Stat(name string) *cuda.Buffer { return n.stats[name] }

// SetBatch uploads a batch: images in NCHW order [Batch, 3, Size, Size] and
// one label in [0, Classes) per image.
func (n *Net) SetBatch(images []float32, labels []int32) error {
	c := n.cfg
	if len(images) != c.Batch*3*c.Size*c.Size || len(labels) != c.Batch {
		return fmt.Errorf("gpunet: batch of %d image values and %d labels, want %d and %d", len(images), len(labels), c.Batch*3*c.Size*c.Size, c.Batch)
	}
	for i, l := range labels {
		if l < 0 || int(l) >= c.Classes {
			return fmt.Errorf("gpunet: label %d of the batch is %d, outside [0, %d)", i, l, c.Classes)
		}
	}
	if err := n.be.Upload(n.xNCHW, images); err != nil {
		return err
	}
	return n.be.UploadInt32(n.labels, labels)
}

func (u *unit) forward(o cuda.Backend, col *cuda.Buffer) error {
	if err := o.ConvForward(u.g, u.in, u.w.W, u.c, col); err != nil {
		return fmt.Errorf("%s forward: %w", u.name, err)
	}
	if err := o.BatchNormForward(u.g.Out(), u.c, u.y, u.gam.W, u.bet.W, u.bn, bnEps, bnMomentum); err != nil {
		return fmt.Errorf("%s batch norm forward: %w", u.name, err)
	}
	if u.relu {
		if err := o.ReLU(u.outLen, u.y, u.y); err != nil {
			return fmt.Errorf("%s relu: %w", u.name, err)
		}
	}
	return nil
}

// backward takes dy (the gradient of y; masked in place by the ReLU), writes
// the parameters' gradients and, when dIn is not nil, the input's gradient
// (added to dIn when accumulate is set).
func (u *unit) backward(o cuda.Backend, dy, dIn, col, dC *cuda.Buffer, accumulate bool) error {
	if u.relu {
		if err := o.ReLUMask(u.outLen, u.y, dy); err != nil {
			return fmt.Errorf("%s relu backward: %w", u.name, err)
		}
	}
	if err := o.BatchNormBackward(u.g.Out(), u.c, dy, u.gam.W, u.bn, dC, u.gam.G, u.bet.G); err != nil {
		return fmt.Errorf("%s batch norm backward: %w", u.name, err)
	}
	if err := o.ConvBackwardWeight(u.g, u.in, dC, u.w.G, col); err != nil {
		return fmt.Errorf("%s weight gradient: %w", u.name, err)
	}
	if dIn == nil {
		return nil
	}
	if err := o.ConvBackwardData(u.g, u.w.W, dC, dIn, col, accumulate); err != nil {
		return fmt.Errorf("%s input gradient: %w", u.name, err)
	}
	return nil
}

// Forward runs the network on the batch SetBatch uploaded, in training mode
// (batch statistics, running statistics updated), and the loss.
func (n *Net) Forward() error {
	o, c := n.be, n.cfg
	if err := o.Swap01(c.Batch, 3, c.Size*c.Size, n.xNCHW, n.x0); err != nil {
		return fmt.Errorf("gpunet: input layout: %w", err)
	}
	if err := n.stem.forward(o, n.col); err != nil {
		return err
	}
	if err := o.MaxPoolForward(n.pool, n.stem.y, n.pooled, n.arg); err != nil {
		return fmt.Errorf("maxpool forward: %w", err)
	}
	for _, b := range n.blocks {
		for _, u := range []*unit{b.u1, b.u2, b.u3, b.down} {
			if u == nil {
				continue
			}
			if err := u.forward(o, n.col); err != nil {
				return err
			}
		}
		sc := b.in
		if b.down != nil {
			sc = b.down.y
		}
		if err := o.Add(b.u3.outLen, b.u3.y, sc, b.u3.y); err != nil {
			return fmt.Errorf("%s residual add: %w", b.u3.name, err)
		}
		if err := o.ReLU(b.u3.outLen, b.u3.y, b.u3.y); err != nil {
			return fmt.Errorf("%s residual relu: %w", b.u3.name, err)
		}
	}
	if err := o.GlobalAvgPoolForward(n.last, n.blocks[len(n.blocks)-1].u3.y, n.feat); err != nil {
		return fmt.Errorf("avgpool forward: %w", err)
	}
	if err := o.LinearForward(c.Batch, n.features, c.Classes, n.feat, n.fcW.W, n.fcB.W, n.logits); err != nil {
		return fmt.Errorf("fc forward: %w", err)
	}
	if err := o.SoftmaxCrossEntropy(c.Batch, c.Classes, n.logits, n.labels, n.rows, n.loss, n.dLogits); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	return nil
}

// Backward writes every parameter's gradient of the mean loss (overwriting
// the previous step's).
func (n *Net) Backward() error {
	o, c := n.be, n.cfg
	if err := o.LinearBackward(c.Batch, n.features, c.Classes, n.feat, n.fcW.W, n.dLogits, n.dFeat, n.fcW.G, n.fcB.G); err != nil {
		return fmt.Errorf("fc backward: %w", err)
	}
	lastB := n.blocks[len(n.blocks)-1]
	if err := o.GlobalAvgPoolBackward(n.last, n.dFeat, lastB.u3.dY); err != nil {
		return fmt.Errorf("avgpool backward: %w", err)
	}
	for i := len(n.blocks) - 1; i >= 0; i-- {
		b := n.blocks[i]
		g := b.u3.dY
		if err := o.ReLUMask(b.u3.outLen, b.u3.y, g); err != nil {
			return fmt.Errorf("%s residual relu backward: %w", b.u3.name, err)
		}
		if err := b.u3.backward(o, g, b.u2.dY, n.col, n.dC, false); err != nil {
			return err
		}
		if err := b.u2.backward(o, b.u2.dY, b.u1.dY, n.col, n.dC, false); err != nil {
			return err
		}
		if err := b.u1.backward(o, b.u1.dY, b.dIn, n.col, n.dC, false); err != nil {
			return err
		}
		if b.down != nil {
			if err := b.down.backward(o, g, b.dIn, n.col, n.dC, true); err != nil {
				return err
			}
		} else if err := o.Add(b.u3.outLen, b.dIn, g, b.dIn); err != nil {
			return fmt.Errorf("%s shortcut backward: %w", b.u3.name, err)
		}
	}
	if err := o.MaxPoolBackward(n.pool, n.dPooled, n.arg, n.stem.dY); err != nil {
		return fmt.Errorf("maxpool backward: %w", err)
	}
	return n.stem.backward(o, n.stem.dY, nil, n.col, n.dC, false)
}

// Update is one SGD step (PyTorch's rule: momentum, weight decay on every
// parameter, dampening 0, no Nesterov) with the gradients Backward wrote.
func (n *Net) Update(lr, momentum, weightDecay float32) error {
	for _, p := range n.params {
		if err := n.be.SGD(p.Len(), p.W, p.G, p.Mom, lr, momentum, weightDecay, false); err != nil {
			return fmt.Errorf("sgd %s: %w", p.Name, err)
		}
	}
	return nil
}

// Step is Forward, Backward and Update: one training step, enqueued on the
// device (Loss or the device's Sync waits for it).
func (n *Net) Step(lr, momentum, weightDecay float32) error {
	if err := n.Forward(); err != nil {
		return err
	}
	if err := n.Backward(); err != nil {
		return err
	}
	return n.Update(lr, momentum, weightDecay)
}

// Loss waits for the device and returns the last Forward's mean loss.
func (n *Net) Loss() (float32, error) {
	v := make([]float32, 1)
	if err := n.be.Sync(); err != nil {
		return 0, err
	}
	if err := n.be.Download(v, n.loss); err != nil {
		return 0, err
	}
	return v[0], nil
}

// Read waits for the device and copies a buffer (a parameter's value or
// gradient) to the host.
func (n *Net) Read(b *cuda.Buffer) ([]float32, error) {
	v := make([]float32, b.Len())
	if err := n.be.Sync(); err != nil {
		return nil, err
	}
	if err := n.be.Download(v, b); err != nil {
		return nil, err
	}
	return v, nil
}

// Close frees every device buffer of the network.
func (n *Net) Close() error {
	var first error
	for _, b := range n.bufs {
		if err := n.be.Free(b); err != nil && first == nil {
			first = err
		}
	}
	n.bufs = nil
	return first
}

// ParamSpec names a parameter and its shape.
type ParamSpec struct {
	Name  string
	Shape []int
}

// Specs lists the parameters a configuration has, in torchvision's
// state-dict order, without a device (New checks that it built exactly these).
func Specs(cfg Config) []ParamSpec {
	var out []ParamSpec
	conv := func(conv, bn string, o, c, k int) {
		out = append(out, ParamSpec{conv + ".weight", []int{o, c, k, k}}, ParamSpec{bn + ".weight", []int{o}}, ParamSpec{bn + ".bias", []int{o}})
	}
	conv("conv1", "bn1", cfg.Stem, 3, 7)
	inC := cfg.Stem
	for s := range 4 {
		p := cfg.Planes[s]
		for i := 0; i < cfg.Blocks[s]; i++ {
			pre := fmt.Sprintf("layer%d.%d.", s+1, i)
			conv(pre+"conv1", pre+"bn1", p, inC, 1)
			conv(pre+"conv2", pre+"bn2", p, p, 3)
			conv(pre+"conv3", pre+"bn3", 4*p, p, 1)
			if (s > 0 && i == 0) || inC != 4*p {
				conv(pre+"downsample.0", pre+"downsample.1", 4*p, inC, 1)
			}
			inC = 4 * p
		}
	}
	return append(out, ParamSpec{"fc.weight", []int{cfg.Classes, inC}}, ParamSpec{"fc.bias", []int{cfg.Classes}})
}

// checkSpecs reports whether the built parameters are Specs(cfg).
func (n *Net) checkSpecs() error {
	want := Specs(n.cfg)
	if len(want) != len(n.params) {
		return fmt.Errorf("gpunet: built %d parameters, the layout has %d", len(n.params), len(want))
	}
	for i, s := range want {
		p := n.params[i]
		if p.Name != s.Name || fmt.Sprint(p.Shape) != fmt.Sprint(s.Shape) {
			return fmt.Errorf("gpunet: parameter %d is %s %v, the layout says %s %v", i, p.Name, p.Shape, s.Name, s.Shape)
		}
	}
	return nil
}

package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/blas"
	"github.com/gap-harness/gap/engine/optim"
	"github.com/gap-harness/gap/internal/goldenhash"
	"github.com/gap-harness/gap/models"
)

// updateBits rewrites testdata/training_bits.json from the current code:
// go test ./models/bench -run TestTrainingBits -update-bits (once per BLAS
// build). Only ever run it on the commit whose numbers are the reference.
var updateBits = flag.Bool("update-bits", false, "rewrite testdata/training_bits.json from the current code")

const bitsFile = "testdata/training_bits.json"

// bitsCase is one short training run whose every bit is pinned.
type bitsCase struct {
	name    string // key prefix
	model   string
	cfg     models.Config
	batch   int
	adam    bool    // Adam(1e-3) as gap bench step; else the image suite's SGD
	masked  float64 // uniform mask sparsity on the prunable layers (0: none)
	threads int
}

func bitsCases() []bitsCase {
	proxy := models.Config{Classes: 10, InChannels: 1, Height: 28, Width: 28, WidthMult: 1.0 / 8, SmallStem: true}
	var cs []bitsCase
	for _, th := range []int{1, 2} {
		cs = append(cs,
			bitsCase{name: "resnet20", model: "resnet20", batch: 12, masked: 0.8, threads: th},
			bitsCase{name: "resnet20-adam", model: "resnet20", batch: 12, adam: true, threads: th},
			bitsCase{name: "conv2", model: "conv2", batch: 12, masked: 0.8, threads: th},
			bitsCase{name: "resnet18-8-proxy", model: "resnet18", cfg: proxy, batch: 16, masked: 0.9, threads: th},
			bitsCase{name: "lenet5", model: "lenet5", batch: 16, masked: 0.8, threads: th},
			bitsCase{name: "mlp", model: "mlp", batch: 16, masked: 0.8, threads: th},
		)
	}
	return cs
}

// runBits trains c for a few steps on fixed random batches and returns a
// SHA-256 over the losses, every parameter and buffer (BN running
// statistics), every parameter's gradient of the last step, and the
// evaluation-mode logits of a fresh batch, all as float32 bits.
func runBits(t *testing.T, c bitsCase) string {
	t.Helper()
	const steps = 3
	cfg := c.cfg
	cfg.Seed = 7
	m, err := models.New(c.model, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	if c.masked > 0 {
		if err := UniformMasks(ps, c.masked, 11); err != nil {
			t.Fatal(err)
		}
		ps.ApplyMasks()
	}
	var opt interface{ Step() }
	if c.adam {
		opt, err = optim.NewAdam(ps.Vars(), optim.AdamConfig{LR: 1e-3, Threads: c.threads})
	} else {
		opt, err = optim.NewSGD(ps.Vars(), optim.SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4, Threads: c.threads})
	}
	if err != nil {
		t.Fatal(err)
	}
	ch, h, w := m.InputShape()
	rng := rand.New(rand.NewPCG(3, 5))
	batch := func() (*engine.Tensor[float32], []int32) {
		x := engine.NewTensor[float32](c.batch, ch, h, w)
		for i := range x.Data() {
			x.Data()[i] = float32(rng.NormFloat64())
		}
		y := make([]int32, c.batch)
		for i := range y {
			y[i] = int32(rng.IntN(m.NumClasses()))
		}
		return x, y
	}
	hs := sha256.New()
	put := func(v []float32) {
		var b [4]byte
		for _, f := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(f))
			hs.Write(b[:])
		}
	}
	tp := engine.NewTape[float32](c.threads)
	ce := engine.CEOpts{}
	if !c.adam {
		ce.LabelSmoothing = 0.1 // the image tables' training loss
	}
	for s := 0; s < steps; s++ {
		x, y := batch()
		tp.Reset()
		ps.ZeroGrad()
		l := tp.CrossEntropy(m.Forward(tp, tp.Const(x), true), y, ce)
		put(l.Value.Data())
		if err := tp.Backward(l); err != nil {
			t.Fatal(err)
		}
		if s == steps-1 {
			for _, p := range ps.All() {
				if p.V.Grad != nil {
					put(p.V.Grad.Data())
				}
			}
		}
		opt.Step()
		ps.ApplyMasks()
	}
	sd := ps.StateDict()
	names := make([]string, 0, len(sd))
	for k := range sd {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		hs.Write([]byte(k))
		put(sd[k])
	}
	x, _ := batch()
	tp.Reset()
	tp.SetNoGrad(true)
	put(m.Forward(tp, tp.Const(x), false).Value.Data())
	tp.SetNoGrad(false)
	return hex.EncodeToString(hs.Sum(nil))
}

// TestTrainingBits pins, bit for bit, a few training steps (forward,
// label-smoothed cross-entropy, backward, SGD with Nesterov momentum and
// weight decay, masks) of resnet20, conv2, the imagenet table's ResNet-18/8
// proxy, lenet5 and mlp at 1 and 2 threads, plus resnet20 under gap bench
// step's Adam, against hashes recorded with the code at bf24792 (before the
// dense-engine speed work of issue 13). Any change to the float32 results
// or their summation order on the image suite's training path fails it.
// The hashes are per BLAS build (openblas, gonum, and gonum with the
// noasm tag, whose gonum kernels sum in another order; all recorded at
// bf24792), and for OpenBLAS per CPU model, since it chooses its kernels by
// processor; a build or machine with no recorded hash skips. lenet5's
// hashes were recorded again in session 6, when the input gradient of
// convolutions that shrink the image (its unpadded conv2) moved from the
// transposed convolution to gemm-and-col2im; no table report uses LeNet-5.
func TestTrainingBits(t *testing.T) {
	golden := goldenhash.Load(t, bitsFile, *updateBits)
	for _, c := range bitsCases() {
		key := fmt.Sprintf("%s/threads=%d/blas=%s%s", c.name, c.threads, blas.Impl, bitsVariant)
		if blas.Impl == "openblas" {
			// OpenBLAS picks its kernels by processor: its bits are
			// pinned per CPU model (a machine without a recorded hash skips).
			key += "/cpu=" + cpuModel()
		}
		golden.Check(t, key, runBits(t, c), "training bits")
	}
	golden.Save(t)
}

// cpuModel is the first "model name" of /proc/cpuinfo ("unknown" where
// there is none).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

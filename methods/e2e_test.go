package methods

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// linReg is a tiny linear-regression "model" with three weight tensors
// (two partitions and a Dense one), SGD with momentum, and real gradients:
// it drives the methods through the runner's hook order.
type linReg struct {
	ctx    *Context
	x, y   [][]float32 // samples: inputs (40) and targets (4)
	in     []int       // input offset of each tensor
	vel    map[string][]float32
	batch  int
	cursor int
}

func newLinReg(seed uint64, sparsity float64, dist string) *linReg {
	specs := []spec{{[]int{4, 16}, 0, false}, {[]int{4, 16}, 1, false}, {[]int{4, 8}, -1, true}}
	ctx := newCtx(seed, specs, sparsity, dist)
	ctx.StepsPerEpoch = 8
	l := &linReg{ctx: ctx, in: []int{0, 16, 32}, vel: map[string][]float32{}, batch: 16}
	for _, t := range ctx.Tensors {
		l.vel[t.Name] = make([]float32, t.Size())
		for i := range t.W {
			t.W[i] *= 0.1
		}
	}
	ctx.Opt = l
	rng := rand.New(rand.NewPCG(seed, 99))
	truth := make([][]float32, 4)
	for o := range truth {
		truth[o] = make([]float32, 40)
		for i := range truth[o] {
			if rng.IntN(4) == 0 { // a sparse ground truth
				truth[o][i] = float32(rng.NormFloat64())
			}
		}
	}
	for n := 0; n < 128; n++ {
		x := make([]float32, 40)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		y := make([]float32, 4)
		for o := range y {
			for i := range x {
				y[o] += truth[o][i] * x[i]
			}
		}
		l.x, l.y = append(l.x, x), append(l.y, y)
	}
	ctx.Grad = func() error { l.grad(); return nil }
	return l
}

func (l *linReg) ZeroPruned(name string, mask []float32) {
	for i, m := range mask {
		if m == 0 {
			l.vel[name][i] = 0
		}
	}
}

func (l *linReg) ZeroIndices(name string, idx []int) {
	for _, i := range idx {
		l.vel[name][i] = 0
	}
}

func (l *linReg) predict(x []float32) []float32 {
	p := make([]float32, 4)
	for k, t := range l.ctx.Tensors {
		cols := t.Shape[1]
		for o := 0; o < 4; o++ {
			for i := 0; i < cols; i++ {
				p[o] += t.W[o*cols+i] * x[l.in[k]+i]
			}
		}
	}
	return p
}

// grad fills every G with the dense gradient of the MSE on the next batch.
func (l *linReg) grad() {
	for _, t := range l.ctx.Tensors {
		clear(t.G)
	}
	for b := 0; b < l.batch; b++ {
		n := (l.cursor + b) % len(l.x)
		p := l.predict(l.x[n])
		for k, t := range l.ctx.Tensors {
			cols := t.Shape[1]
			for o := 0; o < 4; o++ {
				e := 2 * (p[o] - l.y[n][o]) / float32(l.batch)
				for i := 0; i < cols; i++ {
					t.G[o*cols+i] += e * l.x[n][l.in[k]+i]
				}
			}
		}
	}
	l.cursor = (l.cursor + l.batch) % len(l.x)
}

func (l *linReg) loss() float64 {
	s := 0.0
	for n := range l.x {
		p := l.predict(l.x[n])
		for o := range p {
			d := float64(p[o] - l.y[n][o])
			s += d * d
		}
	}
	return s / float64(len(l.x))
}

// train runs epochs [from, to) in the runner's hook order.
func (l *linReg) train(t *testing.T, m Method, from, to int) {
	ctx := l.ctx
	for e := from; e < to; e++ {
		ctx.Epoch = e
		for s := 0; s < ctx.StepsPerEpoch; s++ {
			l.grad()
			if err := m.Update(ctx); err != nil {
				t.Fatal(err)
			}
			if sk, ok := m.(StepSkipper); !ok || !sk.SkipsOptimizerStep(ctx.Step) {
				for _, x := range ctx.Tensors {
					v := l.vel[x.Name]
					for i := range x.W {
						v[i] = 0.9*v[i] + x.G[i]
						x.W[i] -= 0.02 * v[i]
					}
				}
			}
			ApplyMasks(ctx)
			if as, ok := m.(AfterStepper); ok {
				if err := as.AfterStep(ctx); err != nil {
					t.Fatal(err)
				}
			}
			ctx.Step++
		}
		if err := m.EpochEnd(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func (l *linReg) checkFinal(t *testing.T, name string, loss0 float64) {
	t.Helper()
	if !strings.HasPrefix(name, "dense/") {
		checkTargets(t, l.ctx, name+" final")
	}
	for _, x := range l.ctx.Tensors {
		for i, m := range x.M {
			if m == 0 && (x.W[i] != 0 || l.vel[x.Name][i] != 0) {
				t.Fatalf("%s: pruned weight or momentum nonzero", name)
			}
		}
	}
	if got := l.loss(); !(got < 0.5*loss0) {
		t.Fatalf("%s: loss %v did not fall below half of %v", name, got, loss0)
	}
}

// Every sequential method trains a real model through the hook order and
// ends at its targets with a lower loss.
func TestEndToEndLinearRegression(t *testing.T) {
	for _, info := range Default().List() {
		if info.Name == "pgap" {
			continue
		}
		for _, d := range dists {
			p := map[string]string(nil)
			switch info.Name {
			case "cgap":
				p = map[string]string{"kappa": "2", "rounds": "2"}
			case "gmp":
				p = map[string]string{"freq": "4"}
			case "rigl", "set":
				p = map[string]string{"delta_t": "4"}
			}
			m := mustNew(t, info.Name, p)
			l := newLinReg(21, 0.6, d)
			loss0 := l.loss()
			l.ctx.TotalEpochs = m.Epochs(8)
			if err := m.Init(l.ctx); err != nil {
				t.Fatalf("%s: %v", info.Name, err)
			}
			l.train(t, m, 0, l.ctx.TotalEpochs)
			l.checkFinal(t, info.Name+"/"+d, loss0)
		}
	}
}

// P-GaP orchestrated as a runner would: an init run, branches that start
// from the merged state, Merge, and a masked fine-tune.
func TestEndToEndPGaP(t *testing.T) {
	for _, d := range dists {
		m := mustNew(t, "pgap", map[string]string{"kappa": "2", "rounds": "2", "step_epochs": "2", "finetune_epochs": "3"})
		p := m.(Parallel)
		l := newLinReg(22, 0.6, d)
		loss0 := l.loss()
		l.ctx.TotalEpochs = m.Epochs(8)
		if err := m.Init(l.ctx); err != nil {
			t.Fatal(err)
		}
		targets := l.ctx.Targets // saved with the checkpoint
		checkTargets(t, l.ctx, "pgap init")
		state, masks := snapshot(l.ctx)
		partOf := func(n string) int { return l.ctx.Tensor(n).Partition }
		prunable := map[string]bool{}
		for _, x := range l.ctx.Tensors {
			prunable[x.Name] = !x.Dense
		}
		for r := 0; r < p.Rounds(); r++ {
			var branches []map[string][]float32
			for b := 0; b < p.Branches(); b++ {
				bl := newLinReg(22, 0.6, d) // a fresh process
				bl.ctx.Targets = targets
				for _, x := range bl.ctx.Tensors {
					copy(x.W, state[x.Name])
					copy(x.M, masks[x.Name])
				}
				if err := p.BranchInit(bl.ctx, b); err != nil {
					t.Fatal(err)
				}
				bl.train(t, m, r*p.BranchEpochs(), (r+1)*p.BranchEpochs())
				w, _ := snapshot(bl.ctx)
				branches = append(branches, w)
			}
			var err error
			state, masks, err = Merge(branches, partOf, prunable, targets)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range l.ctx.Tensors {
				if x.Dense {
					masks[x.Name] = make([]float32, x.Size())
					setOnes(masks[x.Name])
				}
			}
		}
		for _, x := range l.ctx.Tensors {
			copy(x.W, state[x.Name])
			copy(x.M, masks[x.Name])
		}
		ApplyMasks(l.ctx)
		checkTargets(t, l.ctx, "pgap merged")
		l.train(t, m, p.Rounds()*p.BranchEpochs(), l.ctx.TotalEpochs)
		l.checkFinal(t, "pgap/"+d, loss0)
	}
}

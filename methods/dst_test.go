package methods

import (
	"math"
	"testing"
)

func snapshot(ctx *Context) (w, m map[string][]float32) {
	w, m = map[string][]float32{}, map[string][]float32{}
	for _, x := range ctx.Tensors {
		w[x.Name] = append([]float32(nil), x.W...)
		m[x.Name] = append([]float32(nil), x.M...)
	}
	return w, m
}

func TestRigLRegrowsTopGradient(t *testing.T) {
	for _, d := range dists {
		ctx := newCtx(9, fakeSpecs(), 0.8, d)
		m := mustNew(t, "rigl", nil)
		ctx.TotalEpochs = m.Epochs(100) // 1000 steps, T_end 750
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		r := m.(RigL)
		ctx.Step = 200
		f := r.DropFraction(200)
		if want := 0.15 * (1 + math.Cos(math.Pi*200/750)); !near(f, want) {
			t.Fatalf("drop fraction %v want %v", f, want)
		}
		w0, m0 := snapshot(ctx)
		ctx.Opt.(*fakeOpt).indices = map[string][][]int{}
		// Garbage in inactive weights: regrown ones must still start at 0.
		for _, x := range ctx.Tensors {
			for i := range x.W {
				if x.M[i] == 0 {
					x.W[i] = 5
				}
			}
		}
		if err := maskUpdate(m, ctx); err != nil {
			t.Fatal(err)
		}
		for _, x := range ctx.Tensors {
			if x.Dense {
				continue
			}
			n := x.Size()
			active := make([]bool, n)
			na := 0
			for i := range active {
				active[i] = m0[x.Name][i] == 1
				if active[i] {
					na++
				}
			}
			nDrop := int(f * float64(na))
			kept := make([]float32, n)
			topKAmong(absCopy(w0[x.Name]), active, na-nDrop, kept)
			// Reference grow set: sort |G| over positions not kept.
			cand := make([]float32, n)
			for i := range cand {
				cand[i] = -1
				if kept[i] == 0 {
					cand[i] = float32(math.Abs(float64(x.G[i])))
				}
			}
			grown := refTopK(cand, nDrop)
			var fresh []int
			for i := 0; i < n; i++ {
				want := float32(0)
				if kept[i] == 1 || grown[i] == 1 {
					want = 1
				}
				if x.M[i] != want {
					t.Fatalf("%s/%s[%d]: mask %v want %v", d, x.Name, i, x.M[i], want)
				}
				if grown[i] == 1 && !active[i] {
					fresh = append(fresh, i)
					if x.W[i] != 0 {
						t.Fatalf("regrown weight not zero")
					}
				}
			}
			if CountOnes(x.M) != na {
				t.Fatalf("%s: active count changed %d -> %d", x.Name, na, CountOnes(x.M))
			}
			got := ctx.Opt.(*fakeOpt).indices[x.Name]
			if nDrop > 0 && (len(got) != 1 || len(got[0]) != len(fresh)) {
				t.Fatalf("%s: zeroed %v, want %d fresh indices", x.Name, got, len(fresh))
			}
			for k := range fresh {
				if got[0][k] != fresh[k] {
					t.Fatalf("%s: zeroed state of %d, want %d", x.Name, got[0][k], fresh[k])
				}
			}
		}
		checkMasked(t, ctx, "rigl")
		checkTargets(t, ctx, "rigl")
	}
}

func TestRigLScheduleAndEnd(t *testing.T) {
	ctx := newCtx(10, fakeSpecs(), 0.9, Uniform)
	m := mustNew(t, "rigl", map[string]string{"delta_t": "10"})
	ctx.TotalEpochs = m.Epochs(20) // 200 steps, T_end 150
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	r := m.(RigL)
	if r.EndStep() != 150 {
		t.Fatalf("T_end %d", r.EndStep())
	}
	if !near(r.DropFraction(0), 0.3) || !near(r.DropFraction(75), 0.15) || !near(r.DropFraction(150), 0) || !near(r.DropFraction(180), 0) {
		t.Fatal("drop fraction is not 0.3/2*(1+cos(pi t/T_end))")
	}
	updates := 0
	for ctx.Step = 0; ctx.Step < 200; ctx.Step++ {
		_, before := snapshot(ctx)
		if err := maskUpdate(m, ctx); err != nil {
			t.Fatal(err)
		}
		changed := false
		for _, x := range ctx.Tensors {
			for i := range x.M {
				if x.M[i] != before[x.Name][i] {
					changed = true
				}
			}
		}
		if changed {
			updates++
			if ctx.Step%10 != 0 || ctx.Step >= 150 {
				t.Fatalf("mask changed at step %d", ctx.Step)
			}
		}
		if r.NeedsDenseGrad(ctx.Step) != (ctx.Step > 0 && ctx.Step%10 == 0 && ctx.Step <= 150) {
			t.Fatalf("NeedsDenseGrad(%d) wrong", ctx.Step)
		}
		train(ctx)
	}
	if updates < 10 {
		t.Fatalf("only %d updates changed the mask", updates)
	}
	checkTargets(t, ctx, "rigl end")
}

// SET's regrowth is uniform over the candidates: a chi-square test over
// many updates from the same state with a fixed seed.
func TestSETRegrowthUniform(t *testing.T) {
	ctx := newCtx(11, []spec{{[]int{5, 10}, -1, false}}, 0.5, Uniform)
	m := mustNew(t, "set", map[string]string{"anneal": "constant", "delta_t": "1"})
	ctx.TotalEpochs = m.Epochs(100)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	x := ctx.Tensors[0]
	// A weight ordering that makes the drop set fixed.
	for i := range x.W {
		if x.M[i] == 1 {
			x.W[i] = float32(i + 1)
		}
	}
	w0, m0 := snapshot(ctx)
	na := CountOnes(x.M)
	nDrop := int(0.3 * float64(na))
	kept := make([]float32, x.Size())
	active := make([]bool, x.Size())
	for i := range active {
		active[i] = m0[x.Name][i] == 1
	}
	topKAmong(absCopy(w0[x.Name]), active, na-nDrop, kept)
	counts := make([]int, x.Size())
	const trials = 4000
	for k := 0; k < trials; k++ {
		copy(x.W, w0[x.Name])
		copy(x.M, m0[x.Name])
		ctx.Step = 1
		if err := maskUpdate(m, ctx); err != nil {
			t.Fatal(err)
		}
		for i := range x.M {
			if x.M[i] == 1 && kept[i] == 0 {
				counts[i]++
			}
		}
	}
	ncand := x.Size() - (na - nDrop)
	e := float64(trials*nDrop) / float64(ncand)
	chi := 0.0
	for i, c := range counts {
		if kept[i] == 1 {
			continue
		}
		chi += (float64(c) - e) * (float64(c) - e) / e
	}
	// df = ncand-1 = 31; the 0.999 quantile of chi-square(31) is 61.1.
	if ncand != 32 || chi > 61.1 {
		t.Fatalf("regrowth not uniform: chi2 = %.1f over %d candidates", chi, ncand)
	}
}

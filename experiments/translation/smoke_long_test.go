//go:build long

package translation

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/optim"
)

// TestSmokeProfileDenseSWORD trains a profile's dense row (smoke, or the
// one named by GAP_TRANSLATION_PROFILE; GAP_EPOCHS overrides its epochs,
// GAP_THREADS its threads) on
// the SWORD English-Spanish corpus (needs mod2imp and the Debian modules)
// with the reference recipe (Adam 0.9/0.98, inverse-sqrt warm-up) and
// reports the wall and CPU time (user+sys of the process) of loading,
// training and evaluating, the load average, and the BLEU.
func TestSmokeProfileDenseSWORD(t *testing.T) {
	if _, err := exec.LookPath("mod2imp"); err != nil {
		t.Skip("mod2imp not installed (Debian libsword-utils, sword-text-kjv, sword-text-sparv)")
	}
	p := Profiles()[0]
	for _, q := range Profiles() {
		if q.Name == os.Getenv("GAP_TRANSLATION_PROFILE") {
			p = q
		}
	}
	if n, err := strconv.Atoi(os.Getenv("GAP_EPOCHS")); err == nil && n > 0 {
		p.Budget.DenseEpochs = n
	}
	if n, err := strconv.Atoi(os.Getenv("GAP_THREADS")); err == nil && n > 0 {
		p.Threads = n // the table runs 2 rows at once, 1 thread each
	}
	p.Spec.Data.CacheDir = t.TempDir()
	if d := os.Getenv("GAP_SWORD_CACHE"); d != "" {
		p.Spec.Data.CacheDir = d
	}
	p.Spec.Seed = 1
	c0 := cpuTime()
	t0 := time.Now()
	task, err := New(context.Background(), p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	tLoad, cLoad := time.Since(t0), cpuTime()-c0
	opt, err := optim.NewAdam(task.Params().Vars(), optim.AdamConfig{LR: p.Optim.PeakLR, Beta1: p.Optim.Beta1, Beta2: p.Optim.Beta2, Eps: p.Optim.Eps, Threads: p.Threads})
	if err != nil {
		t.Fatal(err)
	}
	sched := optim.InverseSqrt{Peak: p.Optim.PeakLR, WarmupSteps: p.Optim.WarmupSteps}
	tp := engine.NewTape[float32](p.Threads)
	rng := rand.New(rand.NewPCG(1, 1))
	t1, c1 := time.Now(), cpuTime()
	var first, last float64
	step := int64(0)
	for epoch := 0; epoch < p.Budget.DenseEpochs; epoch++ {
		for s := 0; s < task.StepsPerEpoch(); s++ {
			opt.SetLR(sched.LR(step + 1))
			tp.Reset()
			task.Params().ZeroGrad()
			l, err := task.Loss(tp, epoch, s, rng)
			if err != nil {
				t.Fatal(err)
			}
			v := float64(l.Value.Data()[0])
			if math.IsNaN(v) {
				t.Fatal("NaN loss")
			}
			if step == 0 {
				first = v
			}
			last = v
			if err := tp.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step()
			step++
		}
	}
	tTrain, cTrain := time.Since(t1), cpuTime()-c1
	t2, c2 := time.Now(), cpuTime()
	m, err := task.Evaluate(context.Background(), p.Threads)
	if err != nil {
		t.Fatal(err)
	}
	tEval, cEval := time.Since(t2), cpuTime()-c2
	la, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%s dense on SWORD: vocab %d, %d steps/epoch, %d pairs/step, %d skipped; wall (CPU) load %v (%v), train %v (%v) (%d steps, loss %.3f -> %.3f), eval %v (%v); BLEU %.2f (cased %.2f); %d threads; load average %s", p.Name,
		task.Spec().Model.Vocab, task.StepsPerEpoch(), task.ExamplesPerStep(), task.Skipped(), tLoad.Round(time.Millisecond), cLoad.Round(time.Millisecond),
		tTrain.Round(time.Millisecond), cTrain.Round(time.Millisecond), step, first, last, tEval.Round(time.Millisecond), cEval.Round(time.Millisecond),
		m["bleu"], m["bleu_cased"], p.Threads, la)
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

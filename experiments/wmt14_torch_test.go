//go:build long && parity

package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/experiments/translation"
	"github.com/gap-harness/gap/internal/paritytest"
	"github.com/gap-harness/gap/results"
)

// TestParityWMT14DenseBLEU runs the wmt14 table's dense row (default
// profile, seed 0, 1 thread as in the table) through the runner and trains
// the PyTorch twin (scripts/torch/train_transformer.py) at the same time
// from the same initial weights on the same batches in the same order with
// the same learning rates (Adam 0.9/0.98, inverse-sqrt warm-up), dropout as
// configured (0.1) in both, each in its own random streams; then decodes the
// evaluation split from PyTorch's final weights with the same beam search
// and scores both with sacreBLEU: case-insensitive BLEU within 1 point (the
// issue's target for the dense default row). Before training, the loss of
// the first batch with dropout off must agree to 1e-4 relative (same
// weights, batch and model). GAP_EPOCHS shrinks the comparison to the first
// N epochs; GAP_RESULTS keeps the Go run's result (a finished run there is
// read back, not trained again). Run with -tags "long parity".
func TestParityWMT14DenseBLEU(t *testing.T) {
	paritytest.RequireTorch(t)
	if _, err := exec.LookPath("mod2imp"); err != nil {
		t.Skip("mod2imp not installed (Debian libsword-utils, sword-text-kjv, sword-text-sparv)")
	}
	tab := WMT14()
	p, err := tab.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.Atoi(os.Getenv("GAP_EPOCHS")); err == nil && n > 0 {
		p.Epochs = n
	}
	plan := Plan{Table: tab, Profile: p, Seeds: 1, Rows: []string{"dense/0/dense"}}
	specs, _ := plan.Specs()
	if len(specs) != 1 {
		t.Fatalf("%d runs", len(specs))
	}
	spec := specs[0]
	spec.Threads = 1
	resDir := os.Getenv("GAP_RESULTS")
	if resDir == "" {
		resDir = t.TempDir()
	}
	env := Env{Dir: filepath.Join(resDir, tab.Name), Threads: 1, Data: &DataCache{}}

	// The same Task as the run's: initial weights and batches.
	built, err := newTranslationTask(TaskConfig{Profile: spec.Profile, Seed: spec.Seed, Threads: 1, Data: env.Data,
		MethodParams: spec.resolvedMethodParams()})
	if err != nil {
		t.Skip(err) // no SWORD corpus here
	}
	task := built.(*translation.Task)
	dir := t.TempDir()
	if err := task.Params().SaveSafetensors(filepath.Join(dir, "init.safetensors"), nn.SafetensorsOptions{}); err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(task.Spec().Model)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cj, 0o644); err != nil {
		t.Fatal(err)
	}
	spe := task.StepsPerEpoch()
	steps := p.Epochs * spe
	ts := map[string]nn.STensor{}
	ids := func(x []int32, b, l int) nn.STensor {
		d := make([]float32, len(x))
		for i, v := range x {
			d[i] = float32(v)
		}
		return nn.STensor{Shape: []int{b, l}, Data: d}
	}
	for e := 0; e < p.Epochs; e++ {
		for s := 0; s < spe; s++ {
			bt, err := task.Batch(e, s)
			if err != nil {
				t.Fatal(err)
			}
			i := e*spe + s
			ts[fmt.Sprintf("src.%d", i)] = ids(bt.Src, bt.B, bt.SrcLen)
			ts[fmt.Sprintf("tgt_in.%d", i)] = ids(bt.TgtIn, bt.B, bt.TgtLen)
			ts[fmt.Sprintf("tgt_out.%d", i)] = ids(bt.TgtOut, bt.B, bt.TgtLen)
		}
	}
	o := p.Optim
	meta := map[string]string{"steps": strconv.Itoa(steps), "peak_lr": fmt.Sprint(o.LR), "warmup": strconv.Itoa(o.WarmupEpochs*spe + o.WarmupSteps),
		"beta1": fmt.Sprint(o.Beta1), "beta2": fmt.Sprint(o.Beta2), "eps": fmt.Sprint(o.Eps), "dropout": "on"}
	var buf bytes.Buffer
	if err := nn.WriteSafetensors(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "batches.safetensors"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The first batch's loss, dropout off, from the initial weights.
	tp := engine.NewTape[float32](1)
	l0, err := task.Loss(tp, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	goInit := float64(l0.Value.Data()[0])

	// PyTorch in the background, the Go row meanwhile.
	cmd := exec.Command(paritytest.Python, filepath.Join(paritytest.ScriptDir(t), "train_transformer.py"), dir, "--threads", "1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := Execute(context.Background(), spec, env)
	goWall := time.Since(t0)
	werr := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if werr != nil {
		t.Fatalf("train_transformer.py: %v\n%s", werr, out.String())
	}
	thLoss := map[int]float64{}
	var thInit float64
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "loss":
			i, _ := strconv.Atoi(f[1])
			v, _ := strconv.ParseFloat(f[2], 64)
			thLoss[i] = v
		case len(f) == 2 && f[0] == "init_loss":
			thInit, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	if len(thLoss) != steps {
		t.Fatalf("PyTorch printed %d losses of %d steps:\n%s", len(thLoss), steps, out.String())
	}
	if rel := math.Abs(goInit-thInit) / thInit; !(rel <= 1e-4) {
		t.Fatalf("first batch, initial weights, dropout off: Go loss %.7g, PyTorch %.7g (relative %.2g): not the same model, weights or batch", goInit, thInit, rel)
	}
	// Per-epoch mean training loss side by side.
	var goCurve []results.Point
	for _, pt := range run.Curves {
		if pt.Metric == "train_loss" {
			goCurve = append(goCurve, pt)
		}
	}
	for e := 0; e < p.Epochs; e++ {
		var s float64
		for i := e * spe; i < (e+1)*spe; i++ {
			s += thLoss[i]
		}
		g := math.NaN()
		if e < len(goCurve) {
			g = goCurve[e].Value
		}
		t.Logf("epoch %d: mean training loss Go %.4f, PyTorch %.4f", e+1, g, s/float64(spe))
	}
	// PyTorch's final weights, decoded and scored here.
	if err := task.Params().LoadSafetensors(filepath.Join(dir, "torch_final.safetensors"), false); err != nil {
		t.Fatal(err)
	}
	th, err := task.Evaluate(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dense default row, %d epochs (%d steps), seed %d: BLEU Go %.2f (cased %.2f), PyTorch %.2f (cased %.2f); Go row %.0f s training (wall %v with PyTorch beside it)",
		p.Epochs, steps, spec.Seed, run.Final["bleu"], run.Final["bleu_cased"], th["bleu"], th["bleu_cased"], run.WallSeconds, goWall.Round(time.Second))
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "time ") {
			t.Logf("PyTorch training %s s", strings.TrimPrefix(line, "time "))
		}
	}
	if d := math.Abs(run.Final["bleu"] - th["bleu"]); d > 1 {
		t.Errorf("BLEU Go %.2f, PyTorch %.2f: %.2f apart (target: within 1)", run.Final["bleu"], th["bleu"], d)
	}
}

//go:build long

package experiments

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/experiments/pointcloud"
)

// TestShapeNetDenseReplay runs the shapenet table's dense row (default
// profile, seed 0) through the runner exactly as `gap reproduce` does, and
// writes what a PyTorch replay of that training needs to $PC_REPLAY:
// init.safetensors (the initial weights and batch-norm buffers),
// epoch<E>.safetensors (each step's augmented batch, labels and dropout
// keep-mask), train/test.safetensors, and recipe.json (the network, the
// learning rate and batch-norm momentum of each epoch, weight decay, the
// category parts, and the Go run's instance and class mIoU). Then
// `scripts/torch/parity_pointnet2.py --replay $PC_REPLAY` trains the
// PyTorch twin on the same batches and prints its mIoU beside Go's.
// PC_REPLAY_EPOCHS cuts the row to its first epochs (the step decay and
// momentum decay do not depend on the run's length, so those epochs are
// the row's own). Skips unless PC_REPLAY is set.
func TestShapeNetDenseReplay(t *testing.T) {
	dir := os.Getenv("PC_REPLAY")
	if dir == "" {
		t.Skip("PC_REPLAY not set")
	}
	tab := ShapeNet()
	prof, err := tab.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := Plan{Table: tab, Profile: prof, Seeds: 1, Rows: []string{"dense/0/dense"}}.Specs()
	if len(specs) != 1 {
		t.Fatalf("%d dense specs", len(specs))
	}
	spec := specs[0]
	spec.Threads = 1
	if e := os.Getenv("PC_REPLAY_EPOCHS"); e != "" {
		n, err := strconv.Atoi(e)
		if err != nil || n < 1 {
			t.Fatalf("PC_REPLAY_EPOCHS %q", e)
		}
		spec.Epochs = n
	}
	epochs := spec.baseEpochs()

	var task *pointcloud.Task
	steps := map[int]map[string]nn.STensor{}
	var dropP float64
	suites := DefaultSuites()
	suites["pointcloud"] = func(c TaskConfig) (Task, error) {
		tk, err := newPointCloudTask(c)
		if err != nil {
			return nil, err
		}
		pt := tk.(*pointcloud.Task)
		if task == nil { // the run's one stage: its initial weights
			task = pt
			if err := pt.Params().SaveSafetensors(filepath.Join(dir, "init.safetensors"), nn.SafetensorsOptions{}); err != nil {
				return nil, err
			}
		}
		dropP = pt.Model().Config().Dropout
		pt.SetTrace(func(st pointcloud.StepTrace) {
			ts := steps[st.Epoch]
			if ts == nil {
				ts = map[string]nn.STensor{}
				steps[st.Epoch] = ts
			}
			b := st.Batch
			k := strconv.Itoa(st.Step)
			cat := make([]float32, len(b.Category))
			for i, c := range b.Category {
				cat[i] = float32(c)
			}
			lab := make([]float32, len(st.Labels))
			for i, l := range st.Labels {
				lab[i] = float32(l)
			}
			keep := make([]float32, len(st.DropoutDraws))
			for i, d := range st.DropoutDraws {
				if float64(d<<11>>11)/(1<<53) >= dropP {
					keep[i] = 1
				}
			}
			ts["xyz."+k] = nn.STensor{Shape: b.XYZ.Shape(), Data: append([]float32(nil), b.XYZ.Data()...)}
			ts["normals."+k] = nn.STensor{Shape: b.Normals.Shape(), Data: append([]float32(nil), b.Normals.Data()...)}
			ts["category."+k] = nn.STensor{Shape: []int{len(cat)}, Data: cat}
			ts["labels."+k] = nn.STensor{Shape: []int{len(b.Category), len(lab) / len(b.Category)}, Data: lab}
			ts["keep."+k] = nn.STensor{Shape: []int{len(keep)}, Data: keep}
		})
		return pt, nil
	}
	env := Env{Dir: t.TempDir(), Threads: 1, Suites: suites, Data: &DataCache{}}
	run, err := Execute(context.Background(), spec, env)
	if err != nil {
		t.Fatal(err)
	}
	for e, ts := range steps {
		var buf bytes.Buffer
		if err := nn.WriteSafetensors(&buf, ts, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("epoch%d.safetensors", e)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, split := range []string{"train", "test"} {
		ts, err := task.SplitTensors(split == "test")
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := nn.WriteSafetensors(&buf, ts, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, split+".safetensors"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := spec.Profile.Optim
	mc := task.Model().Config()
	lrs, moms := make([]float64, epochs), make([]float64, epochs)
	for e := range lrs {
		lrs[e] = math.Max(o.LR*math.Pow(o.StepGamma, float64(e/o.StepEpochs)), o.MinLR)
		moms[e] = task.BNMomentum(e)
	}
	fin := run.Final
	// The Go run's evaluation after every epoch, for a replay of the
	// first epochs only.
	curve := map[string][]float64{}
	for _, pt := range run.Curves {
		switch pt.Metric {
		case "train_loss", "test_miou_instance", "test_miou_class":
			curve[pt.Metric] = append(curve[pt.Metric], pt.Value)
		}
	}
	recipe := map[string]any{
		"config": map[string]any{"npoints": mc.NumPoints, "categories": mc.NumCategories, "parts": mc.NumParts,
			"normals": mc.Normals, "width": mc.Width, "npoint1": mc.NPoint1, "npoint2": mc.NPoint2,
			"radius1": mc.Radius1, "radius2": mc.Radius2, "k1": mc.K1, "k2": mc.K2, "dropout": mc.Dropout},
		"epochs": epochs, "steps_per_epoch": len(steps[0]) / 5, "batch": spec.Profile.Batch,
		"lr": lrs, "bn_momentum": moms, "weight_decay": o.WeightDecay, "optim": o.Name, "schedule": o.Schedule,
		"cat_parts": task.CategoryParts(), "run_id": spec.ID(), "go_curve": curve,
		"go": map[string]float64{"miou_instance": fin["miou_instance"], "miou_class": fin["miou_class"], "accuracy": fin["accuracy"]},
	}
	js, err := json.MarshalIndent(recipe, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "recipe.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("Go dense row (%d epochs): instance mIoU %.4f, class mIoU %.4f", epochs, fin["miou_instance"], fin["miou_class"])
}

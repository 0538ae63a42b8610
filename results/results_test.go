package results

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func sampleRun(id string) *Run {
	start := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	r := &Run{
		ID: id, Table: "imagenet", Row: RowKey("cgap", 0.9, "uniform"), Suite: "image", Profile: "default",
		Method: "cgap", Model: "resnet-cifar", Dataset: "fashion-mnist", Distribution: "uniform",
		Sparsity: 0.9, Seed: -3, Epochs: 12,
		Settings: map[string]string{"lr": "0.1", "partitions": "4", "empty": "", "ünï": "ø"},
		Final:    map[string]float64{"top1": 77.123456789, "top5": 93.5, "loss": 0.1 + 0.2, "tiny": math.SmallestNonzeroFloat64, "inf": math.Inf(1)},
		Metric:   "top1",
		Layers: []Layer{
			{Name: "conv1", Partition: -1, Params: 864, Nonzero: 864},
			{Name: "layer1.0.conv1", Partition: 0, Params: 1 << 40, Nonzero: 1 << 36},
			{Name: "fc", Partition: 3, Params: 6400, Nonzero: 640},
		},
		Phases: []Phase{
			{Name: "grow", Partition: 0, StartEpoch: 0, EndEpoch: 2},
			{Name: "grow", Partition: 1, StartEpoch: 2, EndEpoch: 4},
			{Name: "finetune", Partition: -1, StartEpoch: 8, EndEpoch: 12},
		},
		MaskChanges: []MaskChange{{Round: 1, Partition: 0, Changed: 0.25}, {Round: 1, Partition: 1, Changed: 0}},
		TrainFLOPs:  1.5e18, DenseTrainFLOPs: 3e18, InferFLOPs: 4.1e8, DenseInferFLOPs: 4.1e9,
		WallSeconds: 345.25, Commit: "abc123-dirty", Machine: "cpu, 2 cores, linux/amd64", GoVersion: "go1.26.8",
		Started: start, Finished: start.Add(345 * time.Second),
	}
	for e := 0; e < 12; e++ {
		r.Curves = append(r.Curves, Point{Epoch: e, Step: int64(e * 100), Metric: "test_top1", Value: 50 + float64(e)})
		r.Curves = append(r.Curves, Point{Epoch: e, Step: int64(e*100 + 99), Metric: "train_loss", Value: 1 / float64(e+1)})
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []*Run{sampleRun("full"), {ID: "empty"}} {
		path, err := Write(dir, r)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, r.ID+".arrow"); path != want {
			t.Errorf("path = %s, want %s", path, want)
		}
		got, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: round trip differs (-want +got):\n%s", r.ID, d)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("folder holds %d entries, want 2 (no temp files)", len(ents))
	}
}

func TestWriteErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := Write(dir, &Run{ID: id}); err == nil {
			t.Errorf("Write(ID %q) succeeded", id)
		}
	}
	if _, err := Write(dir, nil); err == nil {
		t.Error("Write(nil) succeeded")
	}
	// A folder in the way of the final name: the rename fails.
	if err := os.Mkdir(filepath.Join(dir, "busy.arrow"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busy.arrow", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, &Run{ID: "busy"}); err == nil {
		t.Error("Write over a non-empty folder succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want only busy.arrow", names)
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	for i, tbl := range []string{"imagenet", "wmt", "imagenet"} {
		r := sampleRun(fmt.Sprintf("run%d", i))
		r.Table, r.Seed = tbl, int64(10-i)
		if _, err := Write(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".run9.arrow.tmp-1"), []byte("partial"), 0o644)
	runs, err := ReadDir(dir, "imagenet")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != "run2" || runs[1].ID != "run0" {
		t.Errorf("ReadDir gave %d runs %v, want run2, run0 (sorted by seed)", len(runs), ids(runs))
	}
	if all, _ := ReadDir(dir, ""); len(all) != 3 {
		t.Errorf("ReadDir(all) gave %d runs, want 3", len(all))
	}

	bad := filepath.Join(dir, "corrupt.arrow")
	os.WriteFile(bad, []byte("ARROW1 but not really"), 0o644)
	if _, err := ReadDir(dir, "imagenet"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt file: err = %v, want one naming %s", err, bad)
	}
	missing := filepath.Join(dir, "nope")
	if _, err := ReadDir(missing, "imagenet"); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing folder: err = %v, want one naming %s", err, missing)
	}
}

func TestTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	path, err := Write(dir, sampleRun("t"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)/2], 0o644)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("truncated: err = %v, want one naming %s", err, path)
	}
}

func ids(runs []*Run) []string {
	var s []string
	for _, r := range runs {
		s = append(s, r.ID)
	}
	return s
}

func TestHelpers(t *testing.T) {
	r := sampleRun("h")
	want := 1 - float64(864+(1<<36)+640)/float64(864+(1<<40)+6400)
	if got := r.OverallSparsity(); got != want {
		t.Errorf("OverallSparsity = %v, want %v", got, want)
	}
	if got := (&Run{Sparsity: 0.8}).OverallSparsity(); got != 0.8 {
		t.Errorf("OverallSparsity without layers = %v, want 0.8", got)
	}
	if r.TrainCost() != 0.5 || r.InferCost() != 0.1 || (&Run{}).TrainCost() != 0 {
		t.Errorf("TrainCost/InferCost = %v/%v", r.TrainCost(), r.InferCost())
	}
	if k := RowKey("dense", 0, "dense"); k != "dense/0/dense" {
		t.Errorf("RowKey = %q", k)
	}
	if m := Machine(); !strings.Contains(m, "cores") {
		t.Errorf("Machine() = %q", m)
	}
}

func TestGitCommit(t *testing.T) {
	if got := GitCommit(t.TempDir()); got != "unknown" {
		t.Errorf("outside a repo: %q, want unknown", got)
	}
	// A hand-made repository: HEAD -> branch ref; packed refs; detached.
	top := t.TempDir()
	g := filepath.Join(top, ".git")
	os.MkdirAll(filepath.Join(g, "refs", "heads"), 0o755)
	os.WriteFile(filepath.Join(g, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
	if got := GitCommit(top); got != "unknown" {
		t.Errorf("unborn branch: %q, want unknown", got)
	}
	os.WriteFile(filepath.Join(g, "packed-refs"), []byte("# pack-refs\ncafe refs/heads/main\n"), 0o644)
	sub := filepath.Join(top, "a", "b")
	os.MkdirAll(sub, 0o755)
	if got := strings.TrimSuffix(GitCommit(sub), "-dirty"); got != "cafe" {
		t.Errorf("packed ref: %q, want cafe", got)
	}
	os.WriteFile(filepath.Join(g, "refs", "heads", "main"), []byte("beef\n"), 0o644)
	if got := strings.TrimSuffix(GitCommit(top), "-dirty"); got != "beef" {
		t.Errorf("loose ref: %q, want beef", got)
	}
	os.WriteFile(filepath.Join(g, "HEAD"), []byte("0123abcd\n"), 0o644)
	if got := strings.TrimSuffix(GitCommit(top), "-dirty"); got != "0123abcd" {
		t.Errorf("detached: %q", got)
	}
}

// TestStampCommit checks that a commit known to the binary wins over the work tree's.
func TestStampCommit(t *testing.T) {
	var r Run
	r.StampCommit("0123abcd", t.TempDir())
	if r.Commit != "0123abcd" || r.Machine == "" || r.GoVersion == "" {
		t.Fatalf("stamp: %+v", r)
	}
	r.StampCommit("", t.TempDir())
	if r.Commit == "" {
		t.Fatal("no fallback commit")
	}
}

//go:build long

package pointcloud

import (
	"context"
	"log/slog"
	"os"
	"testing"
)

// TestDefaultDenseLong trains the default profile's dense row (one seed)
// and logs its instance and class mIoU; it requires the model to beat the
// trivial "most frequent part of the category" level clearly (0.5).
func TestDefaultDenseLong(t *testing.T) {
	p, err := ProfileNamed("default")
	if err != nil {
		t.Fatal(err)
	}
	p.Task.Seed = 1
	task, err := New(p.Task)
	if err != nil {
		t.Fatal(err)
	}
	m, err := TrainDense(context.Background(), task, p, 2, 1, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default profile (proxy) dense: %v", m)
	if m["miou_instance"] < 0.5 {
		t.Fatalf("instance mIoU %.3f", m["miou_instance"])
	}
}

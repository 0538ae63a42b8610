package gpunet

import (
	"testing"

	"github.com/gap-harness/gap/engine/cuda"
)

func TestTmpCond(t *testing.T) {
	cfg := small()
	cfg.Batch, cfg.Size = 4, 64
	net, _ := New(cuda.Host{}, cfg)
	x, l := randBatch(cfg, 7)
	w0, shapes := map[string][]float32{}, map[string][]int{}
	for _, p := range net.Params() {
		v, _ := net.Read(p.W)
		w0[p.Name], shapes[p.Name] = v, p.Shape
	}
	_, g1, _ := cpuResNet(cfg, w0, shapes, x, l)
	x2 := append([]float32{}, x...)
	for i := range x2 {
		x2[i] *= 1 + 1e-6
	}
	_, g2, _ := cpuResNet(cfg, w0, shapes, x2, l)
	for _, n := range []string{"layer3.0.bn3.weight", "layer3.1.bn3.weight", "conv1.weight"} {
		t.Logf("%s: %.3g", n, normErr(f32(g2[n]), g1[n]))
	}
}

func f32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

package engine_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gap-harness/gap/engine"
	"github.com/gap-harness/gap/engine/internal/gradcheck"
	G "gorgonia.org/gorgonia"
)

// pointsRef is the fixed 16-point cloud whose FPS, ball query and three-NN
// interpolation PyTorch 1.13 printed (float64, torch ops as in
// scripts/torch/parity_pointnet2.py): p_i = (sin 1.3i, cos 0.7i, 0.5 sin 0.31i).
func pointsRef() *engine.Tensor[float64] {
	const n = 16
	t := engine.NewTensor[float64](1, n, 3)
	for i := 0; i < n; i++ {
		f := float64(i)
		t.Set(math.Sin(f*1.3), 0, i, 0)
		t.Set(math.Cos(f*0.7), 0, i, 1)
		t.Set(0.5*math.Sin(f*0.31), 0, i, 2)
	}
	return t
}

// gatherXYZ returns the points of cloud 0 at idx as [1, len(idx), 3].
func gatherXYZ(p *engine.Tensor[float64], idx []int32) *engine.Tensor[float64] {
	out := engine.NewTensor[float64](1, len(idx), 3)
	for j, i := range idx {
		for d := 0; d < 3; d++ {
			out.Set(p.At(0, int(i), d), 0, j, d)
		}
	}
	return out
}

func eqIdx(t *testing.T, name string, got []int32, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d indices, want %d", name, len(got), len(want))
	}
	for i := range got {
		if int(got[i]) != want[i] {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
	}
}

// TestPointOpsTorchValues checks FPS, ball query, three-NN and interpolation
// against the values PyTorch printed for pointsRef.
func TestPointOpsTorchValues(t *testing.T) {
	tp := engine.NewTape[float64](2)
	p := pointsRef()
	fps := tp.FarthestPointSample(p, 6)
	eqIdx(t, "fps", fps, []int{0, 13, 6, 12, 1, 3})
	c := gatherXYZ(p, fps)
	eqIdx(t, "ball query", tp.BallQuery(p, c, 0.8, 4), []int{0, 9, 10, 0, 13, 14, 13, 13, 6, 6, 6, 6, 12, 15, 12, 12, 1, 2, 10, 11, 3, 4, 3, 3})
	idx, w, k := tp.ThreeNN(p, c)
	if k != 3 {
		t.Fatalf("three-NN k = %d", k)
	}
	eqIdx(t, "three-NN", idx, []int{0, 4, 3, 4, 0, 2, 4, 2, 3, 5, 1, 3, 5, 1, 3, 3, 2, 5, 2, 3, 4, 4, 2, 0, 0, 5, 3, 0, 5, 4, 0, 4, 3, 4, 2, 3, 3, 5, 1, 1, 5, 3, 1, 3, 5, 3, 2, 4})
	wantW := []float64{0.9999999858934792, 9.930399905611539e-09, 4.176120911755659e-09, 0.9999999841286927, 9.930399888086503e-09, 5.940907284901771e-09, 0.4146064693471972, 0.33744739805767915, 0.24794613259512377, 0.9999999793981525, 1.1406834362045235e-08, 9.195013189876732e-09, 0.68846219601668, 0.2174631847012508, 0.09407461928206912, 0.36522616760595505, 0.35183592503040395, 0.282937907363641, 0.9999999867100817, 7.349010912072265e-09, 5.940907300237564e-09, 0.36231117800180057, 0.3205598776558994, 0.3171289443422999, 0.5602306470310588, 0.2788095993036745, 0.16095975366526666, 0.6830441500048499, 0.17952552013425108, 0.13743032986089926, 0.528792125985129, 0.4016243468138431, 0.06958352720102781, 0.5144424116934813, 0.2972404934667712, 0.1883170948397475, 0.9999999829422612, 9.195013222464859e-09, 7.862725622964803e-09, 0.99999998073044, 1.140683437724242e-08, 7.86272560557386e-09, 0.7843385909674849, 0.12251485759078638, 0.0931465514417286, 0.7071141769175314, 0.19123094730925727, 0.10165487577321128}
	if msg := gradcheck.Close(w, wantW, 1e-15, 1e-12); msg != "" {
		t.Fatalf("three-NN weights: %s", msg)
	}
	feat := engine.NewTensor[float64](1, 2, 6)
	for ch := 0; ch < 2; ch++ {
		for i := 0; i < 6; i++ {
			feat.Set(math.Cos(0.37*float64(i)*float64(ch+1)), 0, ch, i)
		}
	}
	out := tp.ThreeInterpolate(tp.Const(feat), idx, w, 16, 3)
	wantOut := []float64{0.9999999886508449, 0.09067163734280559, 0.3970394391698143, -0.2755902264232726, 0.05484477012683239, 0.3442468623815616, 0.7384685527218952, 0.5867036782523858, 0.5549660489410846, 0.6460296988589062, 0.5961491746806044, 0.3498854529878972, 0.4446615139533651, 0.932327327993136, 0.7600676778701275, 0.4648617171827489, 0.9999999736016784, -0.9835572869545945, -0.5270887187649136, -0.8481000113732582, -0.48016811042596963, -0.4288564224157347, 0.09067161297320715, -0.010159179530195905, 0.2264636323931845, 0.3956179447188008, 0.09170468318626501, -0.5928798451211702, -0.6045522627375499, 0.7384685300720585, 0.42614516020146054, -0.5101316573846782}
	if msg := gradcheck.Close(out.Value.Data(), wantOut, 1e-14, 1e-12); msg != "" {
		t.Fatalf("interpolation: %s", msg)
	}
}

// naiveFPS is farthest point sampling written from its definition: the next
// pick maximises the minimum squared distance to the picks so far.
func naiveFPS(p []float64, n, m int) []int32 {
	d2 := func(a, b int) float64 {
		s := 0.0
		for k := 0; k < 3; k++ {
			s += (p[3*a+k] - p[3*b+k]) * (p[3*a+k] - p[3*b+k])
		}
		return s
	}
	out := []int32{0}
	for len(out) < m {
		best, bi := -1.0, -1
		for i := 0; i < n; i++ {
			md := math.Inf(1)
			for _, j := range out {
				md = math.Min(md, d2(i, int(j)))
			}
			if md > best {
				best, bi = md, i
			}
		}
		out = append(out, int32(bi))
	}
	return out
}

// TestFPSBallQueryRandom checks FPS and ball query on random batched clouds
// against implementations written from the definitions.
func TestFPSBallQueryRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const b, n, m, k, r = 3, 200, 20, 8, 0.6
	p := gradcheck.Random(rng, b, n, 3)
	tp := engine.NewTape[float64](2)
	fps := tp.FarthestPointSample(p, m)
	centers := engine.NewTensor[float64](b, m, 3)
	for bi := 0; bi < b; bi++ {
		cloud := p.Data()[bi*n*3 : (bi+1)*n*3]
		want := naiveFPS(cloud, n, m)
		for j := range want {
			if fps[bi*m+j] != want[j] {
				t.Fatalf("cloud %d: fps %v, want %v", bi, fps[bi*m:(bi+1)*m], want)
			}
			copy(centers.Data()[(bi*m+j)*3:(bi*m+j+1)*3], cloud[3*want[j]:3*want[j]+3])
		}
	}
	bq := tp.BallQuery(p, centers, r, k)
	for q := 0; q < b*m; q++ {
		bi := q / m
		var in []int32
		for i := 0; i < n; i++ {
			s := 0.0
			for d := 0; d < 3; d++ {
				v := p.At(bi, i, d) - centers.Data()[3*q+d]
				s += v * v
			}
			if s < r*r {
				in = append(in, int32(i))
			}
		}
		if len(in) > k {
			in = in[:k]
		}
		for len(in) < k {
			in = append(in, in[0])
		}
		for j := range in {
			if bq[q*k+j] != in[j] {
				t.Fatalf("query %d: %v, want %v", q, bq[q*k:(q+1)*k], in)
			}
		}
	}
}

// selection returns the [N, M] matrix S with S[idx[j], j] += w[j] (w nil: 1),
// so that x [C, N] @ S is the gather (or interpolation) of x at idx.
func selection(n, cols, per int, idx []int32, w []float64) *engine.Tensor[float64] {
	s := engine.NewTensor[float64](n, cols)
	for j, i := range idx {
		v := 1.0
		if w != nil {
			v = w[j]
		}
		s.Set(s.At(int(i), j/per)+v, int(i), j/per)
	}
	return s
}

// TestGroupPoints checks the grouping gather's gradient (scatter-add, with
// repeated indices) by finite differences in a batch of two, and value and
// gradient for one cloud against gorgonia's x @ S with S a one-hot selection.
func TestGroupPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const c, n, m, k = 3, 7, 4, 3
	idx := []int32{0, 2, 0, 6, 6, 6, 1, 2, 3, 5, 4, 5, 3, 3, 1, 0, 0, 0, 2, 1, 6, 6, 5, 4}
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.GroupPoints(in[0], idx, m, k)
	}
	gradcheck.Check(t, "group points", f, []*engine.Tensor[float64]{gradcheck.Random(rng, 2, c, n)}, nil, 1)
	one := idx[:m*k]
	f1 := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Reshape(tp.GroupPoints(in[0], one, m, k), c, m*k)
	}
	ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		x, err := G.Reshape(in[0], []int{c, n})
		if err != nil {
			return nil, err
		}
		return G.Mul(x, in[1])
	}
	inputs := []*engine.Tensor[float64]{gradcheck.Random(rng, 1, c, n), selection(n, m*k, 1, one, nil)}
	gradcheck.CheckReference(t, "group points", f1, ref, inputs, map[int]bool{1: true}, 2)
}

// TestThreeInterpolate checks interpolation's gradient to the features by
// finite differences (batch of two, weights from ThreeNN), and one cloud
// against gorgonia's feat @ W with W the [M, N] interpolation matrix.
func TestThreeInterpolate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const c, n, m = 4, 9, 5
	tp := engine.NewTape[float64](1)
	idx, w, k := tp.ThreeNN(gradcheck.Random(rng, 2, n, 3), gradcheck.Random(rng, 2, m, 3))
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.ThreeInterpolate(in[0], idx, w, n, k)
	}
	gradcheck.Check(t, "three interpolate", f, []*engine.Tensor[float64]{gradcheck.Random(rng, 2, c, m)}, nil, 1)
	i1, w1 := idx[:n*k], w[:n*k]
	f1 := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Reshape(tp.ThreeInterpolate(in[0], i1, w1, n, k), c, n)
	}
	ref := func(g *G.ExprGraph, in []*G.Node) (*G.Node, error) {
		x, err := G.Reshape(in[0], []int{c, m})
		if err != nil {
			return nil, err
		}
		return G.Mul(x, in[1])
	}
	inputs := []*engine.Tensor[float64]{gradcheck.Random(rng, 1, c, m), selection(m, n, k, i1, w1)}
	gradcheck.CheckReference(t, "three interpolate", f1, ref, inputs, map[int]bool{1: true}, 2)
	// Weights of each point sum to one; with one known point they are all 1.
	for q := 0; q < len(w)/k; q++ {
		s := w[q*k] + w[q*k+1] + w[q*k+2]
		if math.Abs(s-1) > 1e-12 {
			t.Fatalf("point %d: weights sum to %g", q, s)
		}
	}
	idx1, w1s, k1 := tp.ThreeNN(gradcheck.Random(rng, 1, n, 3), gradcheck.Random(rng, 1, 1, 3))
	if k1 != 1 || w1s[0] != 1 || idx1[0] != 0 {
		t.Fatalf("one known point: k=%d w=%v idx=%v", k1, w1s, idx1)
	}
}

// TestNeighbourhoodMax checks that Max over the last axis of a grouped
// [B, C, M, K] tensor (the max over the neighbourhood) sends the gradient
// to the maximal entry, by finite differences.
func TestNeighbourhoodMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	f := func(tp *engine.Tape[float64], in []*engine.Var[float64]) *engine.Var[float64] {
		return tp.Max(in[0], []int{3}, false)
	}
	gradcheck.Check(t, "neighbourhood max", f, []*engine.Tensor[float64]{gradcheck.Random(rng, 2, 3, 4, 5)}, nil, 1)
}

func benchCloud(b, n int) *engine.Tensor[float32] {
	rng := rand.New(rand.NewPCG(1, 2))
	t := engine.NewTensor[float32](b, n, 3)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.Float64()*2 - 1)
	}
	return t
}

// BenchmarkFarthestPointSample times FPS of 512 of 2,048 points for a batch
// of 16 (the first set abstraction of the bench configuration).
func BenchmarkFarthestPointSample(b *testing.B) {
	p := benchCloud(16, 2048)
	tp := engine.NewTape[float32](2)
	for i := 0; i < b.N; i++ {
		tp.FarthestPointSample(p, 512)
	}
}

// BenchmarkBallQuery times the first set abstraction's ball query: 512
// centres, radius 0.2, 32 neighbours, among 2,048 points, batch 16 (points
// of a unit sphere's surface, as the data are normalised).
func BenchmarkBallQuery(b *testing.B) {
	p := benchCloud(16, 2048)
	d := p.Data()
	for i := 0; i < len(d); i += 3 {
		r := float32(math.Sqrt(float64(d[i]*d[i] + d[i+1]*d[i+1] + d[i+2]*d[i+2])))
		d[i], d[i+1], d[i+2] = d[i]/r, d[i+1]/r, d[i+2]/r
	}
	tp := engine.NewTape[float32](2)
	idx := tp.FarthestPointSample(p, 512)
	c := engine.NewTensor[float32](16, 512, 3)
	for q, i := range idx {
		bi := q / 512
		copy(c.Data()[3*q:3*q+3], d[(bi*2048+int(i))*3:(bi*2048+int(i))*3+3])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tp.BallQuery(p, c, 0.2, 32)
	}
}

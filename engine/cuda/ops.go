package cuda

import (
	_ "embed"
	"fmt"
)

// NetSource is the CUDA C of the layer kernels a ResNet training step needs
// (nn.cu): im2col/col2im, batch norm, pooling, softmax cross-entropy, bias,
// ReLU mask and layout swap.
//
//go:embed nn.cu
var NetSource string

// NetKernelNames lists the kernels NetSource defines.
var NetKernelNames = []string{"im2col_f32", "col2im_f32", "bn_fwd_train_f32", "bn_bwd_f32", "relu_mask_f32",
	"maxpool_fwd_f32", "maxpool_bwd_f32", "gap_fwd_f32", "gap_bwd_f32", "bias_add_f32", "col_sum_f32",
	"swap01_f32", "softmax_xent_f32", "sum_scaled_f32", "sum_slices_f32"}

// Block sizes the reduction kernels are written for (BN_THREADS and
// CE_THREADS in nn.cu: powers of two, the size of their shared arrays).
const (
	bnThreads = 512
	ceThreads = 256
)

// Ops runs the layer kernels (nn.cu) and the elementwise kernels
// (kernels.cu) on one device. Every method only enqueues work (call
// Device.Sync to wait) and checks its buffers' sizes first.
type Ops struct {
	dv   *Device
	elem *Module
	net  *Module
	// emu, set only by tests, runs the launches and GEMMs elsewhere (the
	// CUDA source compiled for the CPU) over host buffers.
	emu emulator
	// splitK > 1 splits a convolution's weight-gradient GEMM over up to
	// splitK groups of images (SetSplitK); work holds the partial products.
	splitK int
	work   *Buffer
}

// SetSplitK makes each convolution's weight gradient (a GEMM of depth
// N*OH*OW) up to s strided-batched GEMMs over groups of images whose
// partial products a fixed-order kernel adds: a deterministic split-K for
// cuBLAS shapes with a small output and a huge depth. s <= 1 turns it off.
// The result differs from the single GEMM by float summation order only.
func (o *Ops) SetSplitK(s int) error {
	if s > 1 && o.emu == nil && !o.dv.HasStridedBatched() {
		return fmt.Errorf("cuda: split-K needs cublasSgemmStridedBatched, which %s lacks", o.dv.info.CublasLib)
	}
	o.splitK = s
	return nil
}

// splitFor is the number of image groups a weight gradient is split into:
// the largest divisor of n no larger than splitK, 1 when small.
func (o *Ops) splitFor(g ConvGeom) int {
	if o.splitK <= 1 || g.NP() < 4096 {
		return 1
	}
	s := min(o.splitK, g.N)
	for g.N%s != 0 {
		s--
	}
	return s
}

// emulator runs kernel launches and GEMMs without a device (tests only).
type emulator interface {
	launch(src, fn string, grid, block [3]int, args []any) error
	gemm(transA, transB bool, m, n, k int, alpha float32, a, b *Buffer, beta float32, c *Buffer) error
	gemmSlices(m, n, chunk, ld, count int, dy, col, work *Buffer) error
}

func (o *Ops) launchN(src, fn string, n int, args ...any) error {
	if n == 0 {
		return nil
	}
	const block = 256
	return o.launchG(src, fn, [3]int{(n + block - 1) / block, 1, 1}, [3]int{block, 1, 1}, args...)
}

func (o *Ops) launchG(src, fn string, grid, block [3]int, args ...any) error {
	if o.emu != nil {
		return o.emu.launch(src, fn, grid, block, args)
	}
	if src == "elem" {
		return o.elem.LaunchGrid(fn, grid, block, args...)
	}
	return o.net.LaunchGrid(fn, grid, block, args...)
}

func (o *Ops) gemm(transA, transB bool, m, n, k int, alpha float32, a, b *Buffer, beta float32, c *Buffer) error {
	if o.emu != nil {
		return o.emu.gemm(transA, transB, m, n, k, alpha, a, b, beta, c)
	}
	return o.dv.Gemm(transA, transB, m, n, k, alpha, a, b, beta, c)
}

// NewOps compiles (or takes from the PTX cache) and loads both kernel sources.
func NewOps(dv *Device) (*Ops, error) {
	elem, err := dv.LoadKernels("kernels.cu", KernelSource)
	if err != nil {
		return nil, err
	}
	net, err := dv.LoadKernels("nn.cu", NetSource)
	if err != nil {
		return nil, err
	}
	return &Ops{dv: dv, elem: elem, net: net}, nil
}

// Device is the device the kernels run on.
func (o *Ops) Device() *Device { return o.dv }

// Layout addresses an activation of N images, C channels and S = H*W
// positions: element (n, c, s) is at n*SN + c*SC + s.
type Layout struct {
	N, C, S, SN, SC int
}

// NCHW is the layout of PyTorch's and the CPU engine's activations.
func NCHW(n, c, h, w int) Layout { return Layout{N: n, C: c, S: h * w, SN: c * h * w, SC: h * w} }

// CNHW is the layout the GPU network keeps (channel-major, so a convolution's
// GEMM output [O, N*OH*OW] is the next layer's input as it stands).
func CNHW(n, c, h, w int) Layout { return Layout{N: n, C: c, S: h * w, SN: h * w, SC: n * h * w} }

// Len is the number of elements.
func (l Layout) Len() int { return l.N * l.C * l.S }

// ConvGeom is an NCHW 2-D convolution without groups or dilation (what
// ResNets use): input [N,C,H,W], filters [O,C,KH,KW], output [N,O,OH,OW].
type ConvGeom struct {
	N, C, H, W     int
	O, KH, KW      int
	SH, SW, PH, PW int
	OH, OW         int
}

// NewConvGeom fills in the output size; an empty output or a non-positive
// size is an error.
func NewConvGeom(n, c, h, w, o, kh, kw, sh, sw, ph, pw int) (ConvGeom, error) {
	g := ConvGeom{N: n, C: c, H: h, W: w, O: o, KH: kh, KW: kw, SH: sh, SW: sw, PH: ph, PW: pw}
	if n < 1 || c < 1 || h < 1 || w < 1 || o < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 {
		return g, fmt.Errorf("cuda: convolution %+v: sizes must be positive", g)
	}
	g.OH, g.OW = (h+2*ph-kh)/sh+1, (w+2*pw-kw)/sw+1
	if g.OH < 1 || g.OW < 1 {
		return g, fmt.Errorf("cuda: convolution %+v: empty output", g)
	}
	return g, nil
}

// K is the GEMM depth C*KH*KW; NP is the GEMM width N*OH*OW.
func (g ConvGeom) K() int  { return g.C * g.KH * g.KW }
func (g ConvGeom) NP() int { return g.N * g.OH * g.OW }

// Direct says the input itself is the im2col matrix (1x1, stride 1, no
// padding, CNHW input).
func (g ConvGeom) Direct() bool {
	return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0
}

// ColLen is the size of the im2col workspace the convolution needs (0 when direct).
func (g ConvGeom) ColLen() int {
	if g.Direct() {
		return 0
	}
	return g.K() * g.NP()
}

// In and Out are the CNHW layouts of the input and output.
func (g ConvGeom) In() Layout  { return CNHW(g.N, g.C, g.H, g.W) }
func (g ConvGeom) Out() Layout { return CNHW(g.N, g.O, g.OH, g.OW) }

const maxInt32 = 1<<31 - 1

func need(op string, b *Buffer, n int) error {
	if b == nil {
		return fmt.Errorf("cuda: %s: nil buffer (%d values needed)", op, n)
	}
	if b.n < n {
		return fmt.Errorf("cuda: %s: buffer of %d values, %d needed", op, b.n, n)
	}
	if n > maxInt32 {
		return fmt.Errorf("cuda: %s: %d values exceed the kernels' int32 indexing", op, n)
	}
	return nil
}

func i32(v int) int32 { return int32(v) }

func convArgs(g ConvGeom, l Layout) []any {
	return []any{i32(g.N), i32(g.C), i32(g.H), i32(g.W), i32(g.KH), i32(g.KW), i32(g.SH), i32(g.SW),
		i32(g.PH), i32(g.PW), i32(g.OH), i32(g.OW), i32(l.SN), i32(l.SC)}
}

func (g ConvGeom) checkLayout(op string, l Layout) error {
	if l.N != g.N || l.C != g.C || l.S != g.H*g.W {
		return fmt.Errorf("cuda: %s: layout %+v does not fit input [%d,%d,%d,%d]", op, l, g.N, g.C, g.H, g.W)
	}
	return nil
}

// Im2col unfolds x (layout l, any strides) into col [K, N*OH*OW]: row
// (c,kh,kw), column (n,oh,ow).
func (o *Ops) Im2col(g ConvGeom, l Layout, x, col *Buffer) error {
	if err := firstErr(g.checkLayout("im2col", l), need("im2col x", x, l.Len()), need("im2col col", col, g.K()*g.NP())); err != nil {
		return err
	}
	total := g.K() * g.NP()
	return o.launchN("nn", "im2col_f32", total, append([]any{i32(total), x, col}, convArgs(g, l)...)...)
}

// Col2im is im2col's adjoint as a gather: x (layout l) = (accumulate ? x : 0)
// + the sum of the col entries read from each element.
func (o *Ops) Col2im(g ConvGeom, l Layout, col, x *Buffer, accumulate bool) error {
	if err := firstErr(g.checkLayout("col2im", l), need("col2im x", x, l.Len()), need("col2im col", col, g.K()*g.NP())); err != nil {
		return err
	}
	acc := int32(0)
	if accumulate {
		acc = 1
	}
	total := l.Len()
	args := append([]any{i32(total), col, x}, convArgs(g, l)...)
	return o.launchN("nn", "col2im_f32", total, append(args, acc)...)
}

// columns is the GEMM operand of a convolution of x: x itself for a direct
// (1x1, stride 1, unpadded) convolution, else im2col(x) written into col.
func (o *Ops) columns(g ConvGeom, x, col *Buffer) (*Buffer, error) {
	if g.Direct() {
		return x, nil
	}
	if err := o.Im2col(g, g.In(), x, col); err != nil {
		return nil, err
	}
	return col, nil
}

// ConvForward computes y [O, N*OH*OW] (CNHW) = w [O, K] x im2col(x) for a CNHW
// input x; col is the workspace (ColLen values; unused when direct).
func (o *Ops) ConvForward(g ConvGeom, x, w, y, col *Buffer) error {
	if err := firstErr(need("conv x", x, g.In().Len()), need("conv w", w, g.O*g.K()), need("conv y", y, g.Out().Len())); err != nil {
		return err
	}
	src, err := o.columns(g, x, col)
	if err != nil {
		return err
	}
	if err := o.gemm(false, false, g.O, g.NP(), g.K(), 1, w, src, 0, y); err != nil {
		return fmt.Errorf("conv forward %+v: %w", g, err)
	}
	return nil
}

// ConvBackwardData computes dx (CNHW) = col2im(w^T x dy), added to dx when
// accumulate is set; col is the workspace.
func (o *Ops) ConvBackwardData(g ConvGeom, w, dy, dx, col *Buffer, accumulate bool) error {
	if err := firstErr(need("conv dx", dx, g.In().Len()), need("conv w", w, g.O*g.K()), need("conv dy", dy, g.Out().Len())); err != nil {
		return err
	}
	if g.Direct() {
		beta := float32(0)
		if accumulate {
			beta = 1
		}
		if err := o.gemm(true, false, g.K(), g.NP(), g.O, 1, w, dy, beta, dx); err != nil {
			return fmt.Errorf("conv backward data %+v: %w", g, err)
		}
		return nil
	}
	if err := need("conv col", col, g.ColLen()); err != nil {
		return err
	}
	if err := o.gemm(true, false, g.K(), g.NP(), g.O, 1, w, dy, 0, col); err != nil {
		return fmt.Errorf("conv backward data %+v: %w", g, err)
	}
	return o.Col2im(g, g.In(), col, dx, accumulate)
}

// ConvBackwardWeight computes dw [O, K] = dy x im2col(x)^T (overwritten); col
// is the workspace (it is refilled with im2col(x)).
func (o *Ops) ConvBackwardWeight(g ConvGeom, x, dy, dw, col *Buffer) error {
	if err := firstErr(need("conv x", x, g.In().Len()), need("conv dw", dw, g.O*g.K()), need("conv dy", dy, g.Out().Len())); err != nil {
		return err
	}
	src, err := o.columns(g, x, col)
	if err != nil {
		return err
	}
	if s := o.splitFor(g); s > 1 {
		n := g.O * g.K()
		if o.work == nil || o.work.Len() < s*n {
			if o.work != nil {
				if err := o.Free(o.work); err != nil {
					return err
				}
			}
			w, err := o.Alloc(s * n)
			if err != nil {
				return fmt.Errorf("split-K workspace: %w", err)
			}
			o.work = w
		}
		if err := o.gemmSlices(g.O, g.K(), g.NP()/s, g.NP(), s, dy, src, o.work); err != nil {
			return fmt.Errorf("conv backward weight %+v: %w", g, err)
		}
		return o.launchN("nn", "sum_slices_f32", n, i32(n), o.work, dw, i32(s))
	}
	if err := o.gemm(false, true, g.O, g.K(), g.NP(), 1, dy, src, 0, dw); err != nil {
		return fmt.Errorf("conv backward weight %+v: %w", g, err)
	}
	return nil
}

func (o *Ops) gemmSlices(m, n, chunk, ld, count int, dy, col, work *Buffer) error {
	if o.emu != nil {
		return o.emu.gemmSlices(m, n, chunk, ld, count, dy, col, work)
	}
	return o.dv.GemmWeightSlices(m, n, chunk, ld, count, dy, col, work)
}

// BNState holds a batch norm's per-channel buffers: the saved mean and
// 1/sqrt(var+eps) of the last training forward and the running statistics.
type BNState struct {
	Mean, InvStd, RunMean, RunVar *Buffer
}

// BatchNormForward is batch norm in training mode over layout l: per-channel
// statistics of x, y = gamma*(x-mean)/sqrt(var+eps) + beta, the running
// statistics updated with momentum (PyTorch's rule).
func (o *Ops) BatchNormForward(l Layout, x, y, gamma, beta *Buffer, st BNState, eps, momentum float32) error {
	if err := firstErr(need("bn x", x, l.Len()), need("bn y", y, l.Len()), need("bn gamma", gamma, l.C), need("bn beta", beta, l.C),
		need("bn mean", st.Mean, l.C), need("bn invstd", st.InvStd, l.C), need("bn running mean", st.RunMean, l.C), need("bn running var", st.RunVar, l.C)); err != nil {
		return err
	}
	return o.launchG("nn", "bn_fwd_train_f32", [3]int{l.C, 1, 1}, [3]int{bnThreads, 1, 1},
		x, y, gamma, beta, st.Mean, st.InvStd, st.RunMean, st.RunVar, i32(l.N), i32(l.C), i32(l.S), i32(l.SN), i32(l.SC), eps, momentum)
}

// BatchNormBackward writes dx, dgamma and dbeta (overwritten) from dy and the
// statistics the forward saved; dx may be dy.
func (o *Ops) BatchNormBackward(l Layout, x, dy, gamma *Buffer, st BNState, dx, dgamma, dbeta *Buffer) error {
	if err := firstErr(need("bn x", x, l.Len()), need("bn dy", dy, l.Len()), need("bn dx", dx, l.Len()), need("bn gamma", gamma, l.C),
		need("bn dgamma", dgamma, l.C), need("bn dbeta", dbeta, l.C), need("bn mean", st.Mean, l.C), need("bn invstd", st.InvStd, l.C)); err != nil {
		return err
	}
	return o.launchG("nn", "bn_bwd_f32", [3]int{l.C, 1, 1}, [3]int{bnThreads, 1, 1},
		x, dy, gamma, st.Mean, st.InvStd, dx, dgamma, dbeta, i32(l.N), i32(l.C), i32(l.S), i32(l.SN), i32(l.SC))
}

// ReLU writes y = max(x, 0) over n values (y may be x).
func (o *Ops) ReLU(n int, x, y *Buffer) error {
	if err := firstErr(need("relu x", x, n), need("relu y", y, n)); err != nil {
		return err
	}
	return o.launchN("elem", "relu_f32", n, i32(n), x, y)
}

// ReLUMask zeroes dy where y (a ReLU's output) is not positive: the ReLU
// backward in place.
func (o *Ops) ReLUMask(n int, y, dy *Buffer) error {
	if err := firstErr(need("relu mask y", y, n), need("relu mask dy", dy, n)); err != nil {
		return err
	}
	return o.launchN("nn", "relu_mask_f32", n, i32(n), y, dy)
}

// Add writes out = a + b over n values (out may be a or b): the residual add.
func (o *Ops) Add(n int, a, b, out *Buffer) error {
	if err := firstErr(need("add a", a, n), need("add b", b, n), need("add out", out, n)); err != nil {
		return err
	}
	return o.launchN("elem", "add_f32", n, i32(n), a, b, out)
}

// PoolGeom is a square max pool over planes of H x W.
type PoolGeom struct {
	Planes, H, W, K, S, P, OH, OW int
}

// NewPoolGeom fills in the output size (PyTorch's floor rule; padding at
// most half the kernel).
func NewPoolGeom(planes, h, w, k, s, p int) (PoolGeom, error) {
	g := PoolGeom{Planes: planes, H: h, W: w, K: k, S: s, P: p}
	if planes < 1 || h < 1 || w < 1 || k < 1 || s < 1 || p < 0 || 2*p > k {
		return g, fmt.Errorf("cuda: pool %+v: bad sizes", g)
	}
	g.OH, g.OW = (h+2*p-k)/s+1, (w+2*p-k)/s+1
	if g.OH < 1 || g.OW < 1 {
		return g, fmt.Errorf("cuda: pool %+v: empty output", g)
	}
	return g, nil
}

// MaxPoolForward writes y [planes, OH, OW] and arg (int32 indices in each
// plane of the first maximum, for the backward).
func (o *Ops) MaxPoolForward(g PoolGeom, x, y, arg *Buffer) error {
	out := g.Planes * g.OH * g.OW
	if err := firstErr(need("maxpool x", x, g.Planes*g.H*g.W), need("maxpool y", y, out), need("maxpool arg", arg, out)); err != nil {
		return err
	}
	return o.launchN("nn", "maxpool_fwd_f32", out, i32(out), x, y, arg, i32(g.H), i32(g.W), i32(g.K), i32(g.S), i32(g.P), i32(g.OH), i32(g.OW))
}

// MaxPoolBackward writes dx (overwritten) by gathering dy through arg.
func (o *Ops) MaxPoolBackward(g PoolGeom, dy, arg, dx *Buffer) error {
	in := g.Planes * g.H * g.W
	out := g.Planes * g.OH * g.OW
	if err := firstErr(need("maxpool dx", dx, in), need("maxpool dy", dy, out), need("maxpool arg", arg, out)); err != nil {
		return err
	}
	return o.launchN("nn", "maxpool_bwd_f32", in, i32(in), dy, arg, dx, i32(g.H), i32(g.W), i32(g.K), i32(g.S), i32(g.P), i32(g.OH), i32(g.OW))
}

// GlobalAvgPoolForward writes out [N, C] (row-major) = the mean of each
// (n, c) plane of x (layout l).
func (o *Ops) GlobalAvgPoolForward(l Layout, x, out *Buffer) error {
	if err := firstErr(need("gap x", x, l.Len()), need("gap out", out, l.N*l.C)); err != nil {
		return err
	}
	n := l.N * l.C
	return o.launchN("nn", "gap_fwd_f32", n, i32(n), x, out, i32(l.N), i32(l.C), i32(l.S), i32(l.SN), i32(l.SC))
}

// GlobalAvgPoolBackward writes dx (layout l, overwritten) = dy[n, c] / S.
func (o *Ops) GlobalAvgPoolBackward(l Layout, dy, dx *Buffer) error {
	if err := firstErr(need("gap dy", dy, l.N*l.C), need("gap dx", dx, l.Len())); err != nil {
		return err
	}
	n := l.Len()
	return o.launchN("nn", "gap_bwd_f32", n, i32(n), dy, dx, i32(l.N), i32(l.C), i32(l.S), i32(l.SN), i32(l.SC))
}

// LinearForward writes y [n, out] = x [n, in] w^T + b (w [out, in], PyTorch's
// layout; b may be nil).
func (o *Ops) LinearForward(n, in, out int, x, w, b, y *Buffer) error {
	if err := firstErr(need("linear x", x, n*in), need("linear w", w, out*in), need("linear y", y, n*out)); err != nil {
		return err
	}
	if err := o.gemm(false, true, n, out, in, 1, x, w, 0, y); err != nil {
		return fmt.Errorf("linear forward: %w", err)
	}
	if b == nil {
		return nil
	}
	if err := need("linear b", b, out); err != nil {
		return err
	}
	return o.launchN("nn", "bias_add_f32", n*out, i32(n*out), y, b, i32(out))
}

// LinearBackward writes dx = dy w (skipped when dx is nil), dw = dy^T x and
// db = the column sums of dy (skipped when nil), all overwritten.
func (o *Ops) LinearBackward(n, in, out int, x, w, dy, dx, dw, db *Buffer) error {
	if err := firstErr(need("linear x", x, n*in), need("linear w", w, out*in), need("linear dy", dy, n*out), need("linear dw", dw, out*in)); err != nil {
		return err
	}
	if dx != nil {
		if err := need("linear dx", dx, n*in); err != nil {
			return err
		}
		if err := o.gemm(false, false, n, in, out, 1, dy, w, 0, dx); err != nil {
			return fmt.Errorf("linear backward data: %w", err)
		}
	}
	if err := o.gemm(true, false, out, in, n, 1, dy, x, 0, dw); err != nil {
		return fmt.Errorf("linear backward weight: %w", err)
	}
	if db == nil {
		return nil
	}
	if err := need("linear db", db, out); err != nil {
		return err
	}
	return o.launchN("nn", "col_sum_f32", out, i32(out), dy, db, i32(n))
}

// SoftmaxCrossEntropy computes, for logits [n, k] and int32 labels [n] (in
// [0, k): the caller checks them on the host), the mean cross-entropy into
// loss[0], each row's loss into rows [n] and the gradient of the mean into
// dlogits [n, k].
func (o *Ops) SoftmaxCrossEntropy(n, k int, logits, labels, rows, loss, dlogits *Buffer) error {
	if err := firstErr(need("xent logits", logits, n*k), need("xent labels", labels, n), need("xent rows", rows, n),
		need("xent loss", loss, 1), need("xent dlogits", dlogits, n*k)); err != nil {
		return err
	}
	if err := o.launchG("nn", "softmax_xent_f32", [3]int{n, 1, 1}, [3]int{ceThreads, 1, 1},
		logits, labels, rows, dlogits, i32(n), i32(k), float32(1/float64(n))); err != nil {
		return err
	}
	return o.launchN("nn", "sum_scaled_f32", 1, int32(1), rows, loss, i32(n), float32(1/float64(n)))
}

// Swap01 writes out [B, A, P] = in [A, B, P] (NCHW to CNHW with A = N,
// B = C, P = H*W, and back with A and B exchanged).
func (o *Ops) Swap01(a, b, p int, in, out *Buffer) error {
	n := a * b * p
	if err := firstErr(need("swap in", in, n), need("swap out", out, n)); err != nil {
		return err
	}
	return o.launchN("nn", "swap01_f32", n, i32(n), in, out, i32(a), i32(b), i32(p))
}

// SGD is one step of SGD with momentum and weight decay (PyTorch's rule,
// dampening 0) over n parameters w with gradient g and momentum buffer buf.
func (o *Ops) SGD(n int, w, g, buf *Buffer, lr, momentum, weightDecay float32, nesterov bool) error {
	if err := firstErr(need("sgd w", w, n), need("sgd g", g, n), need("sgd buf", buf, n)); err != nil {
		return err
	}
	nv := int32(0)
	if nesterov {
		nv = 1
	}
	return o.launchN("elem", "sgd_f32", n, i32(n), w, g, buf, lr, momentum, weightDecay, nv)
}

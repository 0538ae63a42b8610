//go:build !noasm

#include "textflag.h"

// AVX2 kernels of the batch-norm and ReLU passes of training (elem_amd64.go).
// Each computes, lane by lane, exactly the float32/float64 operations of its
// pure-Go twin in the same order (no FMA: the Go compiler does not fuse on
// amd64 at GOAMD64=v1), so the results are the same bits. The float64
// reductions keep four accumulators, lane j summing elements j, j+4, j+8,
// ..., which is the order of the Go kernels' a0..a3 and b0..b3.

// func normSumsAVX2(x *float32, n int, k float64, acc *[8]float64)
//
// n a multiple of 4: acc[0:4] = lanes of sum(x-k), acc[4:8] = lanes of
// sum((x-k)^2).
TEXT ·normSumsAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD k+16(FP), Y15
	MOVQ         acc+24(FP), DI
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	SHRQ         $2, CX
	JZ           sumsDone

sumsLoop:
	VCVTPS2PD (SI), Y2
	VSUBPD    Y15, Y2, Y2
	VADDPD    Y2, Y0, Y0
	VMULPD    Y2, Y2, Y3
	VADDPD    Y3, Y1, Y1
	ADDQ      $16, SI
	DECQ      CX
	JNZ       sumsLoop

sumsDone:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VZEROUPPER
	RET

// func normGradSumsAVX2(dy *float32, x *float32, n int, mu float64, acc *[8]float64)
//
// n a multiple of 4: acc[0:4] = lanes of sum(dy), acc[4:8] = lanes of
// sum(dy*(x-mu)).
TEXT ·normGradSumsAVX2(SB), NOSPLIT, $0-40
	MOVQ         dy+0(FP), SI
	MOVQ         x+8(FP), DX
	MOVQ         n+16(FP), CX
	VBROADCASTSD mu+24(FP), Y15
	MOVQ         acc+32(FP), DI
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	SHRQ         $2, CX
	JZ           gsumsDone

gsumsLoop:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD (DX), Y3
	VADDPD    Y2, Y0, Y0
	VSUBPD    Y15, Y3, Y3
	VMULPD    Y3, Y2, Y3
	VADDPD    Y3, Y1, Y1
	ADDQ      $16, SI
	ADDQ      $16, DX
	DECQ      CX
	JNZ       gsumsLoop

gsumsDone:
	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VZEROUPPER
	RET

// func normAffineAVX2(dst *float32, x *float32, n int, a float32, b float32, relu int)
//
// n a multiple of 8: dst = x*a + b, then with relu max(., 0) as Go's max
// (+0 for -0: VMAXPS returns its second source for two zeros, and adding
// +0 turns -0 into +0).
TEXT ·normAffineAVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y13
	MOVQ         relu+32(FP), AX
	VXORPS       Y12, Y12, Y12
	SHRQ         $3, CX
	JZ           affDone
	TESTQ        AX, AX
	JNZ          affReluLoop

affLoop:
	VMULPS  (SI), Y14, Y0
	VADDPS  Y13, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     affLoop
	JMP     affDone

affReluLoop:
	VMULPS  (SI), Y14, Y0
	VADDPS  Y13, Y0, Y0
	VMAXPS  Y0, Y12, Y0
	VADDPS  Y12, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     affReluLoop

affDone:
	VZEROUPPER
	RET

// func normGradAVX2(gp *float32, dy *float32, x *float32, n int, a float32, b float32, c float32, fresh int)
//
// n a multiple of 8: t = (a*dy + b*x) + c; g = g + t, or with fresh
// g = t + 0 (the value of 0 + t, without reading g).
TEXT ·normGradAVX2(SB), NOSPLIT, $0-56
	MOVQ         gp+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS a+32(FP), Y14
	VBROADCASTSS b+36(FP), Y13
	VBROADCASTSS c+40(FP), Y12
	MOVQ         fresh+48(FP), AX
	VXORPS       Y11, Y11, Y11
	SHRQ         $3, CX
	JZ           ngDone
	TESTQ        AX, AX
	JNZ          ngSetLoop

ngLoop:
	VMULPS  (SI), Y14, Y0
	VMULPS  (DX), Y13, Y1
	VADDPS  Y1, Y0, Y0
	VADDPS  Y12, Y0, Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     ngLoop
	JMP     ngDone

ngSetLoop:
	VMULPS  (SI), Y14, Y0
	VMULPS  (DX), Y13, Y1
	VADDPS  Y1, Y0, Y0
	VADDPS  Y12, Y0, Y0
	VADDPS  Y11, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     ngSetLoop

ngDone:
	VZEROUPPER
	RET

// func reluAVX2(dst *float32, x *float32, y *float32, n int)
//
// n a multiple of 8: dst = max(x, 0), or with y non-nil max(x+y, 0), as
// Go's max (see normAffineAVX2).
TEXT ·reluAVX2(SB), NOSPLIT, $0-32
	MOVQ   dst+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   y+16(FP), DX
	MOVQ   n+24(FP), CX
	VXORPS Y12, Y12, Y12
	SHRQ   $3, CX
	JZ     reluDone
	TESTQ  DX, DX
	JNZ    addReluLoop

reluLoop:
	VMOVUPS (SI), Y0
	VMAXPS  Y0, Y12, Y0
	VADDPS  Y12, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     reluLoop
	JMP     reluDone

addReluLoop:
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	VMAXPS  Y0, Y12, Y0
	VADDPS  Y12, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     addReluLoop

reluDone:
	VZEROUPPER
	RET

// func reluBackAVX2(gx *float32, gs *float32, x *float32, n int, fresh int)
//
// n a multiple of 8: m = g where x's int32 image is > 0, else +0 (the
// bit mask of reluBackward); gx = gx + m, or with fresh gx = m + 0.
TEXT ·reluBackAVX2(SB), NOSPLIT, $0-40
	MOVQ   gx+0(FP), DI
	MOVQ   gs+8(FP), SI
	MOVQ   x+16(FP), DX
	MOVQ   n+24(FP), CX
	MOVQ   fresh+32(FP), AX
	VPXOR  Y12, Y12, Y12
	SHRQ   $3, CX
	JZ     rbDone
	TESTQ  AX, AX
	JNZ    rbSetLoop

rbLoop:
	VMOVDQU  (DX), Y1
	VPCMPGTD Y12, Y1, Y2
	VANDPS   (SI), Y2, Y0
	VADDPS   (DI), Y0, Y0
	VMOVUPS  Y0, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DX
	ADDQ     $32, DI
	DECQ     CX
	JNZ      rbLoop
	JMP      rbDone

rbSetLoop:
	VMOVDQU  (DX), Y1
	VPCMPGTD Y12, Y1, Y2
	VANDPS   (SI), Y2, Y0
	VADDPS   Y12, Y0, Y0
	VMOVUPS  Y0, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DX
	ADDQ     $32, DI
	DECQ     CX
	JNZ      rbSetLoop

rbDone:
	VZEROUPPER
	RET

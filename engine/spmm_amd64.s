//go:build !noasm

#include "textflag.h"

// func spmmTile64AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int)
//
// c[0:64] += sum over k < nnz of val[k] * b[col[k]*ldb : col[k]*ldb+64]: one row
// of a CSR matrix times a 64-column panel of a dense row-major matrix, with the
// 64 sums held in eight YMM accumulators across the row's nonzeros.
TEXT ·spmmTile64AVX2(SB), NOSPLIT, $0-48
	MOVQ c+0(FP), DI
	MOVQ val+8(FP), SI
	MOVQ col+16(FP), DX
	MOVQ nnz+24(FP), CX
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7
	TESTQ CX, CX
	JZ    done64

loop64:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	VFMADD231PS  128(AX), Y8, Y4
	VFMADD231PS  160(AX), Y8, Y5
	VFMADD231PS  192(AX), Y8, Y6
	VFMADD231PS  224(AX), Y8, Y7
	ADDQ         $4, SI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          loop64

done64:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func spmmTile32AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int)
//
// spmmTile64AVX2 for a 32-column panel. Two nonzeros per iteration keep eight
// independent accumulator chains in flight (summed at the end).
TEXT ·spmmTile32AVX2(SB), NOSPLIT, $0-48
	MOVQ c+0(FP), DI
	MOVQ val+8(FP), SI
	MOVQ col+16(FP), DX
	MOVQ nnz+24(FP), CX
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	CMPQ    CX, $2
	JL      tail32

loop32:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	MOVLQSX      4(DX), R9
	IMULQ        R8, R9
	ADDQ         BX, R9
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	VFMADD231PS  0(R9), Y9, Y4
	VFMADD231PS  32(R9), Y9, Y5
	VFMADD231PS  64(R9), Y9, Y6
	VFMADD231PS  96(R9), Y9, Y7
	ADDQ         $8, SI
	ADDQ         $8, DX
	SUBQ         $2, CX
	CMPQ         CX, $2
	JGE          loop32

tail32:
	TESTQ        CX, CX
	JZ           done32
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3

done32:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func spmmTile8AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int)
//
// spmmTile64AVX2 for an 8-column panel, four nonzeros per iteration into four
// accumulators (summed at the end).
TEXT ·spmmTile8AVX2(SB), NOSPLIT, $0-48
	MOVQ c+0(FP), DI
	MOVQ val+8(FP), SI
	MOVQ col+16(FP), DX
	MOVQ nnz+24(FP), CX
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	VMOVUPS 0(DI), Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	CMPQ    CX, $4
	JL      tail8

loop8:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	MOVLQSX      4(DX), R9
	IMULQ        R8, R9
	MOVLQSX      8(DX), R10
	IMULQ        R8, R10
	MOVLQSX      12(DX), R11
	IMULQ        R8, R11
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VBROADCASTSS 8(SI), Y10
	VBROADCASTSS 12(SI), Y11
	VFMADD231PS  (BX)(AX*1), Y8, Y0
	VFMADD231PS  (BX)(R9*1), Y9, Y1
	VFMADD231PS  (BX)(R10*1), Y10, Y2
	VFMADD231PS  (BX)(R11*1), Y11, Y3
	ADDQ         $16, SI
	ADDQ         $16, DX
	SUBQ         $4, CX
	CMPQ         CX, $4
	JGE          loop8

tail8:
	TESTQ        CX, CX
	JZ           done8

tail8loop:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (BX)(AX*1), Y8, Y0
	ADDQ         $4, SI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          tail8loop

done8:
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, 0(DI)
	VZEROUPPER
	RET

// func dotAVX2(a *float32, b *float32, n int) float32
//
// The dot product of a[0:n] and b[0:n] for n a multiple of 32: four
// accumulators of eight lanes, summed in a fixed order.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ   $5, CX
	JZ     dotdone

dotloop:
	VMOVUPS     0(SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS 0(DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        CX
	JNZ         dotloop

dotdone:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET


// func spmmTile64EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)
//
// spmmTile64AVX2 with the start and the end of an output row fused in:
// the sums start from *bias (broadcast) instead of c when bias is not nil,
// and before they are stored res[0:64] is added when res is not nil and
// negative sums are clamped to zero when relu is not 0. The order of the
// additions is spmmTile64AVX2's, then + res, then the clamp, so the result
// is bit-identical to the unfused passes (bias fill, product, epilogue).
TEXT ·spmmTile64EpAVX2(SB), NOSPLIT, $0-72
	MOVQ c+0(FP), DI
	MOVQ val+8(FP), SI
	MOVQ col+16(FP), DX
	MOVQ nnz+24(FP), CX
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	MOVQ bias+48(FP), R10
	TESTQ R10, R10
	JZ    load64e
	VBROADCASTSS (R10), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	VMOVAPS Y0, Y4
	VMOVAPS Y0, Y5
	VMOVAPS Y0, Y6
	VMOVAPS Y0, Y7
	JMP init64e

load64e:
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7

init64e:
	TESTQ CX, CX
	JZ    ep64e

loop64e:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	VFMADD231PS  128(AX), Y8, Y4
	VFMADD231PS  160(AX), Y8, Y5
	VFMADD231PS  192(AX), Y8, Y6
	VFMADD231PS  224(AX), Y8, Y7
	ADDQ         $4, SI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          loop64e

ep64e:
	MOVQ  res+56(FP), R11
	TESTQ R11, R11
	JZ    relu64e
	VADDPS 0(R11), Y0, Y0
	VADDPS 32(R11), Y1, Y1
	VADDPS 64(R11), Y2, Y2
	VADDPS 96(R11), Y3, Y3
	VADDPS 128(R11), Y4, Y4
	VADDPS 160(R11), Y5, Y5
	VADDPS 192(R11), Y6, Y6
	VADDPS 224(R11), Y7, Y7

relu64e:
	MOVQ  relu+64(FP), R11
	TESTQ R11, R11
	JZ    store64e
	VXORPS Y15, Y15, Y15
	VMAXPS Y15, Y0, Y0
	VMAXPS Y15, Y1, Y1
	VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3
	VMAXPS Y15, Y4, Y4
	VMAXPS Y15, Y5, Y5
	VMAXPS Y15, Y6, Y6
	VMAXPS Y15, Y7, Y7

store64e:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func spmmTile32EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)
//
// spmmTile32AVX2 with the start and the end of an output row fused in:
// the sums start from *bias (broadcast) instead of c when bias is not nil,
// and before they are stored res[0:32] is added when res is not nil and
// negative sums are clamped to zero when relu is not 0. The order of the
// additions is spmmTile32AVX2's, then + res, then the clamp, so the result
// is bit-identical to the unfused passes (bias fill, product, epilogue).
TEXT ·spmmTile32EpAVX2(SB), NOSPLIT, $0-72
	MOVQ c+0(FP), DI
	MOVQ val+8(FP), SI
	MOVQ col+16(FP), DX
	MOVQ nnz+24(FP), CX
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	MOVQ bias+48(FP), R10
	TESTQ R10, R10
	JZ    load32e
	VBROADCASTSS (R10), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	JMP init32e

load32e:
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3

init32e:
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	CMPQ    CX, $2
	JL      tail32e

loop32e:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	MOVLQSX      4(DX), R9
	IMULQ        R8, R9
	ADDQ         BX, R9
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	VFMADD231PS  0(R9), Y9, Y4
	VFMADD231PS  32(R9), Y9, Y5
	VFMADD231PS  64(R9), Y9, Y6
	VFMADD231PS  96(R9), Y9, Y7
	ADDQ         $8, SI
	ADDQ         $8, DX
	SUBQ         $2, CX
	CMPQ         CX, $2
	JGE          loop32e

tail32e:
	TESTQ        CX, CX
	JZ           sum32e
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3

sum32e:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3

ep32e:
	MOVQ  res+56(FP), R11
	TESTQ R11, R11
	JZ    relu32e
	VADDPS 0(R11), Y0, Y0
	VADDPS 32(R11), Y1, Y1
	VADDPS 64(R11), Y2, Y2
	VADDPS 96(R11), Y3, Y3

relu32e:
	MOVQ  relu+64(FP), R11
	TESTQ R11, R11
	JZ    store32e
	VXORPS Y15, Y15, Y15
	VMAXPS Y15, Y0, Y0
	VMAXPS Y15, Y1, Y1
	VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3

store32e:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func spmmTile8EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)
//
// spmmTile8AVX2 with the start and the end of an output row fused in:
// the sums start from *bias (broadcast) instead of c when bias is not nil,
// and before they are stored res[0:8] is added when res is not nil and
// negative sums are clamped to zero when relu is not 0. The order of the
// additions is spmmTile8AVX2's, then + res, then the clamp, so the result
// is bit-identical to the unfused passes (bias fill, product, epilogue).
TEXT ·spmmTile8EpAVX2(SB), NOSPLIT, $0-72
	MOVQ c+0(FP), DI
	MOVQ val+8(FP), SI
	MOVQ col+16(FP), DX
	MOVQ nnz+24(FP), CX
	MOVQ b+32(FP), BX
	MOVQ ldb+40(FP), R8
	SHLQ $2, R8
	MOVQ bias+48(FP), R10
	TESTQ R10, R10
	JZ    load8e
	VBROADCASTSS (R10), Y0
	JMP init8e

load8e:
	VMOVUPS 0(DI), Y0

init8e:
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	CMPQ    CX, $4
	JL      tail8e

loop8e:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	MOVLQSX      4(DX), R9
	IMULQ        R8, R9
	MOVLQSX      8(DX), R12
	IMULQ        R8, R12
	MOVLQSX      12(DX), R11
	IMULQ        R8, R11
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VBROADCASTSS 8(SI), Y10
	VBROADCASTSS 12(SI), Y11
	VFMADD231PS  (BX)(AX*1), Y8, Y0
	VFMADD231PS  (BX)(R9*1), Y9, Y1
	VFMADD231PS  (BX)(R12*1), Y10, Y2
	VFMADD231PS  (BX)(R11*1), Y11, Y3
	ADDQ         $16, SI
	ADDQ         $16, DX
	SUBQ         $4, CX
	CMPQ         CX, $4
	JGE          loop8e

tail8e:
	TESTQ        CX, CX
	JZ           sum8e

tailloop8e:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (BX)(AX*1), Y8, Y0
	ADDQ         $4, SI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          tailloop8e

sum8e:
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0

ep8e:
	MOVQ  res+56(FP), R11
	TESTQ R11, R11
	JZ    relu8e
	VADDPS 0(R11), Y0, Y0

relu8e:
	MOVQ  relu+64(FP), R11
	TESTQ R11, R11
	JZ    store8e
	VXORPS Y15, Y15, Y15
	VMAXPS Y15, Y0, Y0

store8e:
	VMOVUPS Y0, 0(DI)
	VZEROUPPER
	RET

// func spmmRows64AVX2(c *float32, ldc int, ptr *int32, pstride int, rows int, val *float32, col *int32, b *float32, ldb int, bias *float32, res *float32, relu int, pf uintptr, pfEnd uintptr, pfPerRow int)
//
// spmmTile64EpAVX2 over rows CSR rows (the loop over rows in assembly): row
// i's sums go to c[i*ldc : i*ldc+64] and its entries are val[p0:p1] and
// col[p0:p1] with p0 = ptr[i*pstride], p1 = ptr[i*pstride+1] (pstride 1: a
// CSR row pointer; more: one block of a row's entries); bias (when not nil)
// advances by one per row and res (when not nil) by ldc. Before each row it
// prefetches pfPerRow rows of 256 bytes, ldb apart, from pf on (stopping at
// pfEnd; none when pf is 0): the next panel of b, so that its cache misses
// overlap this panel's arithmetic.
TEXT ·spmmRows64AVX2(SB), NOSPLIT, $32-120
	MOVQ rows+32(FP), AX
	CMPQ AX, $0
	JLE  rdone
	MOVQ AX, left-8(SP)
	MOVQ val+40(FP), AX
	MOVQ AX, valb-16(SP)
	MOVQ col+48(FP), AX
	MOVQ AX, colb-24(SP)
	MOVQ pstride+24(FP), AX
	SHLQ $2, AX
	MOVQ AX, pstep-32(SP)
	MOVQ c+0(FP), DI
	MOVQ ldc+8(FP), R13
	SHLQ $2, R13
	MOVQ ptr+16(FP), R9
	MOVQ b+56(FP), BX
	MOVQ ldb+64(FP), R8
	SHLQ $2, R8
	MOVQ bias+72(FP), R10
	MOVQ res+80(FP), R11
	MOVQ pf+96(FP), R12

rrow:
	TESTQ R12, R12
	JZ    rinit
	MOVQ  pfPerRow+112(FP), CX

rpf:
	CMPQ       R12, pfEnd+104(FP)
	JAE        rinit
	PREFETCHT0 0(R12)
	PREFETCHT0 64(R12)
	PREFETCHT0 128(R12)
	PREFETCHT0 192(R12)
	ADDQ       R8, R12
	DECQ       CX
	JNZ        rpf

rinit:
	TESTQ        R10, R10
	JZ           rload
	VBROADCASTSS (R10), Y0
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VMOVAPS      Y0, Y3
	VMOVAPS      Y0, Y4
	VMOVAPS      Y0, Y5
	VMOVAPS      Y0, Y6
	VMOVAPS      Y0, Y7
	ADDQ         $4, R10
	JMP          rcount

rload:
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS 128(DI), Y4
	VMOVUPS 160(DI), Y5
	VMOVUPS 192(DI), Y6
	VMOVUPS 224(DI), Y7

rcount:
	MOVLQSX 0(R9), AX
	MOVL    4(R9), CX
	SUBL    AX, CX
	ADDQ    pstep-32(SP), R9
	TESTQ   CX, CX
	JZ      rep
	MOVQ    valb-16(SP), SI
	LEAQ    (SI)(AX*4), SI
	MOVQ    colb-24(SP), DX
	LEAQ    (DX)(AX*4), DX

rloop:
	MOVLQSX      (DX), AX
	IMULQ        R8, AX
	ADDQ         BX, AX
	VBROADCASTSS (SI), Y8
	VFMADD231PS  0(AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	VFMADD231PS  128(AX), Y8, Y4
	VFMADD231PS  160(AX), Y8, Y5
	VFMADD231PS  192(AX), Y8, Y6
	VFMADD231PS  224(AX), Y8, Y7
	ADDQ         $4, SI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          rloop

rep:
	TESTQ  R11, R11
	JZ     rrelu
	VADDPS 0(R11), Y0, Y0
	VADDPS 32(R11), Y1, Y1
	VADDPS 64(R11), Y2, Y2
	VADDPS 96(R11), Y3, Y3
	VADDPS 128(R11), Y4, Y4
	VADDPS 160(R11), Y5, Y5
	VADDPS 192(R11), Y6, Y6
	VADDPS 224(R11), Y7, Y7
	ADDQ   R13, R11

rrelu:
	CMPQ   relu+88(FP), $0
	JE     rstore
	VXORPS Y15, Y15, Y15
	VMAXPS Y15, Y0, Y0
	VMAXPS Y15, Y1, Y1
	VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3
	VMAXPS Y15, Y4, Y4
	VMAXPS Y15, Y5, Y5
	VMAXPS Y15, Y6, Y6
	VMAXPS Y15, Y7, Y7

rstore:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ    R13, DI
	DECQ    left-8(SP)
	JNZ     rrow
	VZEROUPPER

rdone:
	RET

// func dot4AVX2(a *float32, n int, b0, b1, b2, b3 *float32, out *[4]float32)
//
// out[i] = sum over j < n of a[j] * bi[j] for the four vectors b0..b3 (n a
// multiple of 16): the sampled products of one dY row with four input rows
// (the masked weight gradient), reading a once for all four. Each sum keeps
// two 8-lane accumulators (columns j%16 < 8 and >= 8), added at the end.
TEXT ·dot4AVX2(SB), NOSPLIT, $0-56
	MOVQ   a+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   b0+16(FP), R8
	MOVQ   b1+24(FP), R9
	MOVQ   b2+32(FP), R10
	MOVQ   b3+40(FP), R11
	MOVQ   out+48(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	SHRQ   $4, CX
	JZ     dot4done

dot4loop:
	VMOVUPS     0(SI), Y8
	VMOVUPS     32(SI), Y9
	VFMADD231PS 0(R8), Y8, Y0
	VFMADD231PS 32(R8), Y9, Y1
	VFMADD231PS 0(R9), Y8, Y2
	VFMADD231PS 32(R9), Y9, Y3
	VFMADD231PS 0(R10), Y8, Y4
	VFMADD231PS 32(R10), Y9, Y5
	VFMADD231PS 0(R11), Y8, Y6
	VFMADD231PS 32(R11), Y9, Y7
	ADDQ        $64, SI
	ADDQ        $64, R8
	ADDQ        $64, R9
	ADDQ        $64, R10
	ADDQ        $64, R11
	DECQ        CX
	JNZ         dot4loop

dot4done:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, 0(DI)
	VADDPS       Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPS       X3, X2, X2
	VHADDPS      X2, X2, X2
	VHADDPS      X2, X2, X2
	MOVSS        X2, 4(DI)
	VADDPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS       X5, X4, X4
	VHADDPS      X4, X4, X4
	VHADDPS      X4, X4, X4
	MOVSS        X4, 8(DI)
	VADDPS       Y7, Y6, Y6
	VEXTRACTF128 $1, Y6, X7
	VADDPS       X7, X6, X6
	VHADDPS      X6, X6, X6
	VHADDPS      X6, X6, X6
	MOVSS        X6, 12(DI)
	VZEROUPPER
	RET

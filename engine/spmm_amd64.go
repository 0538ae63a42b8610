//go:build !noasm

package engine

import "golang.org/x/sys/cpu"

// haveAVX2 selects the AVX2+FMA assembly tiles of the sparse product.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func spmmTile64AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int)

//go:noescape
func spmmTile32AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int)

//go:noescape
func spmmTile8AVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int)

//go:noescape
func dotAVX2(a *float32, b *float32, n int) float32

//go:noescape
func dot4AVX2(a *float32, n int, b0, b1, b2, b3 *float32, out *[4]float32)

//go:noescape
func spmmTile64EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)

//go:noescape
func spmmTile32EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)

//go:noescape
func spmmTile8EpAVX2(c *float32, val *float32, col *int32, nnz int, b *float32, ldb int, bias *float32, res *float32, relu int)

//go:noescape
func spmmRows64AVX2(c *float32, ldc int, ptr *int32, pstride int, rows int, val *float32, col *int32, b *float32, ldb int, bias *float32, res *float32, relu int, pf uintptr, pfEnd uintptr, pfPerRow int)

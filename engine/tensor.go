package engine

import (
	"fmt"
	"math"
)

// Float is the set of element types the engine computes in.
type Float interface {
	~float32 | ~float64
}

// Tensor is a dense, contiguous, row-major n-dimensional array.
type Tensor[T Float] struct {
	shape []int
	data  []T
}

// NewTensor returns a zero-filled tensor of the given shape.
func NewTensor[T Float](shape ...int) *Tensor[T] {
	n := checkShape(shape)
	return &Tensor[T]{shape: append([]int(nil), shape...), data: make([]T, n)}
}

// FromSlice wraps data (not copied) as a tensor of the given shape.
// It panics if len(data) does not match the shape: that is a programming error.
func FromSlice[T Float](data []T, shape ...int) *Tensor[T] {
	n := checkShape(shape)
	if len(data) != n {
		panic(fmt.Sprintf("engine: FromSlice: %d elements for shape %v (want %d)", len(data), shape, n))
	}
	return &Tensor[T]{shape: append([]int(nil), shape...), data: data}
}

func checkShape(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("engine: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor[T]) Shape() []int { return t.shape }

// Data returns the tensor's elements in row-major order (shared, not copied).
func (t *Tensor[T]) Data() []T { return t.data }

// Len returns the number of elements.
func (t *Tensor[T]) Len() int { return len(t.data) }

// Rank returns the number of dimensions.
func (t *Tensor[T]) Rank() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor[T]) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Strides returns the row-major strides, in elements.
func (t *Tensor[T]) Strides() []int { return Strides(t.shape) }

// Strides returns the row-major strides of a shape, in elements.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// Reshape returns a view with a new shape sharing the same data. One dimension may be -1.
func (t *Tensor[T]) Reshape(shape ...int) *Tensor[T] {
	return &Tensor[T]{shape: ResolveShape(len(t.data), shape), data: t.data}
}

// ResolveShape fills a single -1 dimension so the shape holds n elements, and panics
// if the shape cannot hold exactly n elements.
func ResolveShape(n int, shape []int) []int {
	out := append([]int(nil), shape...)
	neg, prod := -1, 1
	for i, d := range out {
		if d == -1 {
			if neg >= 0 {
				panic(fmt.Sprintf("engine: reshape %v: more than one -1", shape))
			}
			neg = i
			continue
		}
		prod *= d
	}
	if neg >= 0 {
		if prod == 0 || n%prod != 0 {
			panic(fmt.Sprintf("engine: cannot reshape %d elements to %v", n, shape))
		}
		out[neg] = n / prod
		prod *= out[neg]
	}
	if prod != n {
		panic(fmt.Sprintf("engine: cannot reshape %d elements to %v", n, shape))
	}
	return out
}

// Clone returns a deep copy.
func (t *Tensor[T]) Clone() *Tensor[T] {
	return &Tensor[T]{shape: append([]int(nil), t.shape...), data: append([]T(nil), t.data...)}
}

// Fill sets every element to v.
func (t *Tensor[T]) Fill(v T) {
	for i := range t.data {
		t.data[i] = v
	}
}

// Zero sets every element to 0.
func (t *Tensor[T]) Zero() { clear(t.data) }

// CopyFrom copies src's elements into t; the element counts must match.
func (t *Tensor[T]) CopyFrom(src *Tensor[T]) {
	if len(src.data) != len(t.data) {
		panic(fmt.Sprintf("engine: CopyFrom: %d elements into %d", len(src.data), len(t.data)))
	}
	copy(t.data, src.data)
}

// At returns the element at the given multi-index.
func (t *Tensor[T]) At(idx ...int) T { return t.data[t.offset(idx)] }

// Set stores v at the given multi-index.
func (t *Tensor[T]) Set(v T, idx ...int) { t.data[t.offset(idx)] = v }

func (t *Tensor[T]) offset(idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("engine: index %v for shape %v", idx, t.shape))
	}
	off := 0
	for i, v := range idx {
		if v < 0 || v >= t.shape[i] {
			panic(fmt.Sprintf("engine: index %v out of range for shape %v", idx, t.shape))
		}
		off = off*t.shape[i] + v
	}
	return off
}

// HasNaN reports whether any element is NaN or infinite.
func (t *Tensor[T]) HasNaN() bool {
	for _, v := range t.data {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return true
		}
	}
	return false
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Convert returns a copy of t with elements converted to type U.
func Convert[U, T Float](t *Tensor[T]) *Tensor[U] {
	out := NewTensor[U](t.shape...)
	for i, v := range t.data {
		out.data[i] = U(v)
	}
	return out
}

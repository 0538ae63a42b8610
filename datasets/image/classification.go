// Package imagedata provides image-classification data sets (MNIST,
// Fashion-MNIST, CIFAR-10/100, ImageNet folders) behind one
// Classification interface, their standard transforms, and top-k
// accuracy.
package imagedata

import "math/rand/v2"

// Classification is a labelled image data set split.
type Classification interface {
	Len() int
	Shape() (c, h, w int) // shape of one example as delivered by Batch
	NumClasses() int
	// Batch fills x (len(idx)*c*h*w float32, NCHW) and y (len(idx)) for the examples idx.
	// rng drives augmentation (nil = evaluation transform / no augmentation); same rng state -> same output.
	Batch(idx []int, x []float32, y []int32, rng *rand.Rand) error
}

// Norm is a per-channel normalisation: a pixel p in [0,1] of channel k
// becomes (p - Mean[k]) / Std[k].
type Norm struct {
	Mean, Std []float32
}

// Standard normalisations (per-channel mean and standard deviation of the
// training split, pixels scaled to [0,1]).
var (
	// MNISTNorm is the customary MNIST normalisation (0.1307, 0.3081).
	MNISTNorm = Norm{Mean: []float32{0.1307}, Std: []float32{0.3081}}
	// FashionMNISTNorm is Fashion-MNIST's training mean and std.
	FashionMNISTNorm = Norm{Mean: []float32{0.2860}, Std: []float32{0.3530}}
	// CIFAR10Norm is CIFAR-10's training per-channel mean and std.
	CIFAR10Norm = Norm{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
	// CIFAR100Norm is CIFAR-100's training per-channel mean and std.
	CIFAR100Norm = Norm{Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}}
	// ImageNetNorm is the torchvision ImageNet normalisation.
	ImageNetNorm = Norm{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
)

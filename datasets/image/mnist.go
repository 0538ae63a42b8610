package imagedata

import (
	"fmt"

	"github.com/gap-harness/gap/datasets/idx"
)

// LoadMNIST loads the MNIST train (train=true) or test split from dir
// (empty: found with idx.FindMNIST), as 1x28x28 images normalised with
// MNISTNorm and no augmentation.
func LoadMNIST(dir string, train bool) (*Memory, error) {
	d, err := idx.FindMNIST(dir)
	if err != nil {
		return nil, err
	}
	return loadIDX(d, train, MNISTNorm)
}

// LoadFashionMNIST loads the Fashion-MNIST train or test split from dir
// (empty: idx.FashionMNISTDir), normalised with FashionMNISTNorm.
func LoadFashionMNIST(dir string, train bool) (*Memory, error) {
	d, err := idx.FindFashionMNIST(dir)
	if err != nil {
		return nil, err
	}
	return loadIDX(d, train, FashionMNISTNorm)
}

func loadIDX(dir string, train bool, norm Norm) (*Memory, error) {
	s, err := idx.LoadSplit(dir, train, 10)
	if err != nil {
		return nil, err
	}
	labels := make([]int32, s.N)
	for i, l := range s.Labels {
		labels[i] = int32(l)
	}
	m, err := NewMemory(s.Pix, labels, 1, s.Rows, s.Cols, 10, norm, Augment{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

package idx

import (
	"fmt"
	"path/filepath"
)

// Split is one split (train or test) of an MNIST-like data set: N
// grayscale images of Rows x Cols bytes and their labels.
type Split struct {
	N, Rows, Cols int
	// Pix holds N*Rows*Cols bytes, image after image, row-major.
	Pix []uint8
	// Labels holds N class indices.
	Labels []uint8
}

// LoadSplit reads the train (train=true) or t10k split from dir, which
// must hold the canonical MNIST file names (see FindMNIST,
// FindFashionMNIST). Labels must be below numClasses.
func LoadSplit(dir string, train bool, numClasses int) (*Split, error) {
	imgName, lblName := TestImagesFile, TestLabelsFile
	if train {
		imgName, lblName = TrainImagesFile, TrainLabelsFile
	}
	return LoadFiles(filepath.Join(dir, imgName), filepath.Join(dir, lblName), numClasses)
}

// LoadFiles reads an images file (3 dimensions) and a labels file (1
// dimension) and checks that they agree and that every label is below
// numClasses.
func LoadFiles(imagesPath, labelsPath string, numClasses int) (*Split, error) {
	im, err := ReadFile(imagesPath)
	if err != nil {
		return nil, err
	}
	lb, err := ReadFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return NewSplit(im, lb, imagesPath, labelsPath, numClasses)
}

// NewSplit checks decoded images and labels files and pairs them; the
// names are used in error messages.
func NewSplit(im, lb *File, imagesName, labelsName string, numClasses int) (*Split, error) {
	if len(im.Dims) != 3 {
		return nil, fmt.Errorf("%s: byte offset 3: images file has %d dimensions, want 3", imagesName, len(im.Dims))
	}
	if len(lb.Dims) != 1 {
		return nil, fmt.Errorf("%s: byte offset 3: labels file has %d dimensions, want 1", labelsName, len(lb.Dims))
	}
	if im.Dims[0] == 0 {
		return nil, fmt.Errorf("%s: byte offset 4: images file holds 0 images", imagesName)
	}
	if im.Dims[1] == 0 || im.Dims[2] == 0 {
		return nil, fmt.Errorf("%s: byte offset 8: images of %dx%d pixels, want at least 1x1", imagesName, im.Dims[1], im.Dims[2])
	}
	if im.Dims[0] != lb.Dims[0] {
		return nil, fmt.Errorf("%s: byte offset 4: %d labels for %d images in %s", labelsName, lb.Dims[0], im.Dims[0], imagesName)
	}
	for i, l := range lb.Data {
		if int(l) >= numClasses {
			return nil, fmt.Errorf("%s: byte offset %d: label %d of example %d out of range [0,%d)", labelsName, 8+i, l, i, numClasses)
		}
	}
	return &Split{N: im.Dims[0], Rows: im.Dims[1], Cols: im.Dims[2], Pix: im.Data, Labels: lb.Data}, nil
}

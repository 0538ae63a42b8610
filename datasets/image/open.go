package imagedata

import (
	"fmt"
	"path/filepath"
)

// Names lists the data set names Open accepts.
var Names = []string{"mnist", "fashion-mnist", "cifar10", "cifar100", "imagenet"}

// Open loads a classification split by name (see Names). dir is the data
// directory: for mnist and fashion-mnist empty means the shipped files;
// for cifar10/cifar100 the directory of the .bin files; for imagenet the
// ILSVRC root (train/, val/). Training splits of CIFAR get CIFARAugment;
// ImageNet uses default ImageNetOptions.
func Open(name, dir string, train bool) (Classification, error) {
	switch name {
	case "mnist":
		return LoadMNIST(dir, train)
	case "fashion-mnist":
		return LoadFashionMNIST(dir, train)
	case "cifar10":
		return LoadCIFAR(dir, CIFAR10, train)
	case "cifar100":
		return LoadCIFAR(dir, CIFAR100, train)
	case "imagenet":
		split := "val"
		if train {
			split = "train"
		}
		return OpenImageNet(filepath.Clean(dir), split, ImageNetOptions{})
	}
	return nil, fmt.Errorf("imagedata: unknown data set %q (want one of %v)", name, Names)
}

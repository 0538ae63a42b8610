package experiments

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/gap-harness/gap/datasets/idx"
	imagedata "github.com/gap-harness/gap/datasets/image"
)

// dataPair is a training and a test split.
type dataPair struct {
	train, test imagedata.Classification
}

// DataCache loads each data set once and shares it between runs (the splits
// are read-only once loaded). Its zero value is ready to use.
type DataCache struct {
	mu    sync.Mutex
	sets  map[string]*dataPair
	other map[string]any
}

// Get returns the value cached under key, calling load on first use (a
// suite's data set, say; keys should start with the suite's name). Values
// must be safe to share read-only between the runs of a process. A failed
// load is not cached.
func (c *DataCache) Get(key string, load func() (any, error)) (any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.other[key]; ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	if c.other == nil {
		c.other = map[string]any{}
	}
	c.other[key] = v
	return v, nil
}

// DataNames lists the data set names a profile may use.
var dataNames = []string{"mnist", "fashion-mnist", "imagenet", "sword-en-es", "wmt14-en-de", "parts", "shapenet-part", "mnist-detect", "coco2017"}

// Available reports whether the named data set can be loaded here, with the
// reason when it cannot.
func Available(name, dataPath string) error {
	switch name {
	case "mnist":
		_, err := idx.FindMNIST("")
		return err
	case "fashion-mnist":
		_, err := idx.FindFashionMNIST("")
		return err
	case "imagenet":
		if dataPath == "" {
			return fmt.Errorf("data set imagenet needs DATA=/path/to/imagenet (train/ and val/ in the ILSVRC layout)")
		}
		return nil
	case "sword-en-es", "wmt14-en-de": // the translation suite loads and checks these itself
		if name == "wmt14-en-de" && dataPath == "" {
			return fmt.Errorf("data set wmt14-en-de needs DATA=/path/to/dir with train.src train.tgt valid.src valid.tgt test.src test.tgt")
		}
		return nil
	case "parts": // the point-cloud suite's synthetic shapes, generated
		return nil
	case "shapenet-part":
		if dataPath == "" {
			return fmt.Errorf("data set shapenet-part needs DATA=/path/to/shapenetcore_partanno_segmentation_benchmark_v0_normal")
		}
		return nil
	case "mnist-detect": // canvases built from MNIST's digits (DATA: its idx folder, if given)
		_, err := idx.FindMNIST(dataPath)
		return err
	case "coco2017":
		return cocoAvailable(dataPath)
	}
	return fmt.Errorf("unknown data set %q (valid: %v)", name, dataNames)
}

// Load returns the splits a profile asks for, loading them on first use.
func (c *DataCache) Load(d DataSpec, m ModelSpec, dataPath string) (*dataPair, error) {
	key := fmt.Sprintf("%+v|%d|%s", d, m.InputSize, dataPath)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.sets[key]; ok {
		return p, nil
	}
	p, err := loadData(d, m, dataPath)
	if err != nil {
		return nil, err
	}
	if c.sets == nil {
		c.sets = map[string]*dataPair{}
	}
	c.sets[key] = p
	return p, nil
}

func loadData(d DataSpec, m ModelSpec, dataPath string) (*dataPair, error) {
	switch d.Name {
	case "mnist", "fashion-mnist":
		var dir string
		var err error
		load := imagedata.LoadMNIST
		if d.Name == "mnist" {
			dir, err = idx.FindMNIST(dataPath)
		} else {
			dir, err = idx.FindFashionMNIST(dataPath)
			load = imagedata.LoadFashionMNIST
		}
		if err != nil {
			return nil, err
		}
		train, err := load(dir, true)
		if err != nil {
			return nil, err
		}
		test, err := load(dir, false)
		if err != nil {
			return nil, err
		}
		if d.TrainN > 0 && d.TrainN < train.Len() {
			train = train.SubsetRandom(d.TrainN, 1)
		}
		if d.TestN > 0 && d.TestN < test.Len() {
			test = test.SubsetRandom(d.TestN, 2)
		}
		if d.Size > 0 {
			if train, err = train.Resize(d.Size, d.Size, imagedata.Bilinear); err != nil {
				return nil, err
			}
			if test, err = test.Resize(d.Size, d.Size, imagedata.Bilinear); err != nil {
				return nil, err
			}
		}
		if d.Pad > 0 || d.HFlip {
			train = train.WithAugment(imagedata.Augment{Pad: d.Pad, HFlip: d.HFlip})
		}
		return &dataPair{train: train, test: test}, nil
	case "imagenet":
		if dataPath == "" {
			return nil, fmt.Errorf("data set imagenet needs DATA=/path/to/imagenet")
		}
		opts := imagedata.ImageNetOptions{Size: m.InputSize}
		train, err := imagedata.OpenImageNet(filepath.Clean(dataPath), "train", opts)
		if err != nil {
			return nil, err
		}
		test, err := imagedata.OpenImageNet(filepath.Clean(dataPath), "val", opts)
		if err != nil {
			return nil, err
		}
		return &dataPair{train: train, test: test}, nil
	}
	return nil, fmt.Errorf("unknown data set %q (valid: %v)", d.Name, dataNames)
}

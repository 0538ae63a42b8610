package imagedata

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// ImageNetOptions configure an ImageNet folder data set. Zero values
// select the defaults given per field.
type ImageNetOptions struct {
	// Size is the side of the square output image (default 224).
	Size int
	// EvalResize is the shorter side before the evaluation centre crop
	// (default round(Size*256/224), i.e. 256 for 224).
	EvalResize int
	// Scale and Ratio bound RandomResizedCrop's area fraction and aspect
	// ratio (defaults (0.08, 1) and (3/4, 4/3), as torchvision).
	Scale, Ratio [2]float64
	// Norm is the normalisation (default ImageNetNorm).
	Norm Norm
	// Workers is the number of decoding goroutines (default GOMAXPROCS).
	Workers int
	// LabelsFile labels a flat split directory (see OpenImageNet);
	// default root/LOC_val_solution.csv, else root/<split>_labels.txt.
	LabelsFile string
}

func (o *ImageNetOptions) defaults() {
	if o.Size <= 0 {
		o.Size = 224
	}
	if o.EvalResize <= 0 {
		o.EvalResize = int(float64(o.Size)*256/224 + 0.5)
	}
	if o.Scale == [2]float64{} {
		o.Scale = [2]float64{0.08, 1}
	}
	if o.Ratio == [2]float64{} {
		o.Ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	if o.Norm.Mean == nil {
		o.Norm = ImageNetNorm
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
}

// ImageNet is a streaming Classification over an ILSVRC-style folder;
// JPEGs are decoded on demand by Batch.
type ImageNet struct {
	files   []string
	labels  []int32
	classes []string
	opts    ImageNetOptions
}

// OpenImageNet indexes root/<split> (split is e.g. "train" or "val").
//
// Classes are the sorted names of the subdirectories of root/train (of
// root/<split> when root/train does not exist), as torchvision's
// ImageFolder; class i is the i-th wnid.
//
// The split directory is either class folders (<split>/<wnid>/*.JPEG),
// or flat (<split>/*.JPEG) with a labels file, which is one of
//   - the Kaggle LOC_val_solution.csv layout: a header line starting with
//     "ImageId," then lines "ILSVRC2012_val_00000001,n01751748 x y x y ...";
//     the image is <ImageId>.JPEG and its class the first word of the
//     second field;
//   - a text file of lines "filename label" (blank lines and lines
//     starting with # ignored), label a wnid or a 0-based class index.
//
// Files ending in .jpeg or .jpg (any case) are used; others are ignored.
func OpenImageNet(root, split string, opts ImageNetOptions) (*ImageNet, error) {
	opts.defaults()
	if len(opts.Norm.Mean) != 3 || len(opts.Norm.Std) != 3 {
		return nil, fmt.Errorf("imagedata: ImageNet normalisation must have 3 channels")
	}
	classDir := filepath.Join(root, "train")
	if st, err := os.Stat(classDir); err != nil || !st.IsDir() {
		classDir = filepath.Join(root, split)
	}
	classes, err := subdirs(classDir)
	if err != nil {
		return nil, err
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("imagedata: %s: no class directories", classDir)
	}
	index := make(map[string]int32, len(classes))
	for i, c := range classes {
		index[c] = int32(i)
	}
	d := &ImageNet{classes: classes, opts: opts}
	dir := filepath.Join(root, split)
	sub, err := subdirs(dir)
	if err != nil {
		return nil, err
	}
	if len(sub) > 0 {
		for _, c := range sub {
			l, ok := index[c]
			if !ok {
				return nil, fmt.Errorf("imagedata: %s: class directory %q is not a class of %s", dir, c, classDir)
			}
			names, err := jpegs(filepath.Join(dir, c))
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				d.files = append(d.files, filepath.Join(dir, c, n))
				d.labels = append(d.labels, l)
			}
		}
	} else {
		lf := opts.LabelsFile
		if lf == "" {
			lf = filepath.Join(root, "LOC_val_solution.csv")
			if _, err := os.Stat(lf); err != nil {
				lf = filepath.Join(root, split+"_labels.txt")
			}
		}
		if err := d.readLabels(lf, dir, index); err != nil {
			return nil, err
		}
	}
	if len(d.files) == 0 {
		return nil, fmt.Errorf("imagedata: %s: no JPEG images", dir)
	}
	return d, nil
}

func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imagedata: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func isJPEG(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".jpeg" || ext == ".jpg"
}

func jpegs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imagedata: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && isJPEG(e.Name()) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func (d *ImageNet) readLabels(path, dir string, index map[string]int32) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("imagedata: flat split %s needs a labels file: %w", dir, err)
	}
	defer f.Close()
	present, err := jpegs(dir)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(present))
	for _, n := range present {
		have[n] = true
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	csv := false
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 && strings.HasPrefix(text, "ImageId,") {
			csv = true
			continue
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var name, lab string
		if csv {
			id, rest, ok := strings.Cut(text, ",")
			fs := strings.Fields(rest)
			if !ok || len(fs) == 0 {
				return fmt.Errorf("%s:%d: want \"ImageId,wnid ...\"", path, line)
			}
			name, lab = id+".JPEG", fs[0]
		} else {
			fs := strings.Fields(text)
			if len(fs) != 2 {
				return fmt.Errorf("%s:%d: want \"filename label\", got %d fields", path, line, len(fs))
			}
			name, lab = fs[0], fs[1]
		}
		l, ok := index[lab]
		if !ok {
			n, err := strconv.Atoi(lab)
			if err != nil || n < 0 || n >= len(index) {
				return fmt.Errorf("%s:%d: label %q is neither a class wnid nor an index in [0,%d)", path, line, lab, len(index))
			}
			l = int32(n)
		}
		if !have[name] {
			return fmt.Errorf("%s:%d: image %s not found in %s", path, line, name, dir)
		}
		d.files = append(d.files, filepath.Join(dir, name))
		d.labels = append(d.labels, l)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Len returns the number of images.
func (d *ImageNet) Len() int { return len(d.files) }

// Shape returns (3, Size, Size).
func (d *ImageNet) Shape() (c, h, w int) { return 3, d.opts.Size, d.opts.Size }

// NumClasses returns the number of classes.
func (d *ImageNet) NumClasses() int { return len(d.classes) }

// Classes returns the class wnids, in label order.
func (d *ImageNet) Classes() []string { return d.classes }

// Files returns the image paths, in example order.
func (d *ImageNet) Files() []string { return d.files }

// Labels returns the labels, in example order.
func (d *ImageNet) Labels() []int32 { return d.labels }

// Subset returns a view of d holding the examples idx, in that order
// (indices must be in range); combine with FirstPerClass or
// RandomSubset for a deterministic reduced split.
func (d *ImageNet) Subset(idx []int) *ImageNet {
	c := *d
	c.files = make([]string, len(idx))
	c.labels = make([]int32, len(idx))
	for j, i := range idx {
		c.files[j], c.labels[j] = d.files[i], d.labels[i]
	}
	return &c
}

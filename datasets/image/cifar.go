package imagedata

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CIFARPixels is the number of pixel bytes in one CIFAR record
// (3 channels of 32x32, CHW).
const CIFARPixels = 3 * 32 * 32

// CIFARVariant selects the CIFAR binary record layout.
type CIFARVariant int

const (
	// CIFAR10 records have one label byte (0..9).
	CIFAR10 CIFARVariant = iota
	// CIFAR100 records have a coarse (0..19) and a fine (0..99) label
	// byte; the fine label is used.
	CIFAR100
	// CIFAR100Coarse is CIFAR100 labelled with the coarse label.
	CIFAR100Coarse
)

func (v CIFARVariant) layout() (labelBytes, labelIdx, classes int) {
	switch v {
	case CIFAR100:
		return 2, 1, 100
	case CIFAR100Coarse:
		return 2, 0, 20
	}
	return 1, 0, 10
}

// ReadCIFAR decodes CIFAR binary records from r, appending pixels (CHW)
// and labels. name is used in error messages, which give the record and
// byte offset of a truncated record or an out-of-range label (every
// label byte is checked: coarse < 20, fine < 100, CIFAR-10 < 10).
func ReadCIFAR(r io.Reader, name string, v CIFARVariant, pix []uint8, labels []int32) ([]uint8, []int32, error) {
	lb, li, _ := v.layout()
	rec := make([]byte, lb+CIFARPixels)
	for i := 0; ; i++ {
		off := int64(i) * int64(len(rec))
		n, err := io.ReadFull(r, rec)
		if errors.Is(err, io.EOF) {
			return pix, labels, nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return pix, labels, fmt.Errorf("%s: record %d at byte offset %d: truncated (%d of %d bytes)", name, i, off, n, len(rec))
		}
		if err != nil {
			return pix, labels, fmt.Errorf("%s: record %d at byte offset %d: %w", name, i, off, err)
		}
		for k := 0; k < lb; k++ {
			lim := 10
			if lb == 2 {
				lim = [2]int{20, 100}[k]
			}
			if int(rec[k]) >= lim {
				return pix, labels, fmt.Errorf("%s: record %d at byte offset %d: label %d out of range [0,%d)", name, i, off+int64(k), rec[k], lim)
			}
		}
		labels = append(labels, int32(rec[li]))
		pix = append(pix, rec[lb:]...)
	}
}

// CIFARFiles returns the standard file names of a split: CIFAR-10's
// data_batch_1.bin..data_batch_5.bin or test_batch.bin (directory
// cifar-10-batches-bin), CIFAR-100's train.bin or test.bin (directory
// cifar-100-binary).
func CIFARFiles(v CIFARVariant, train bool) []string {
	if v == CIFAR10 {
		if train {
			return []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
		}
		return []string{"test_batch.bin"}
	}
	if train {
		return []string{"train.bin"}
	}
	return []string{"test.bin"}
}

// LoadCIFAR loads a CIFAR split from dir (the directory holding the .bin
// files of CIFARFiles), normalised with CIFAR10Norm or CIFAR100Norm. The
// training split gets CIFARAugment, the test split none.
func LoadCIFAR(dir string, v CIFARVariant, train bool) (*Memory, error) {
	var pix []uint8
	var labels []int32
	for _, f := range CIFARFiles(v, train) {
		p := filepath.Join(dir, f)
		fh, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("imagedata: CIFAR: %w", err)
		}
		before := len(labels)
		pix, labels, err = ReadCIFAR(fh, p, v, pix, labels)
		fh.Close()
		if err != nil {
			return nil, err
		}
		if len(labels) == before {
			return nil, fmt.Errorf("%s: byte offset 0: 0 records, want CIFAR binary records", p)
		}
	}
	_, _, classes := v.layout()
	norm, aug := CIFAR10Norm, Augment{}
	if v != CIFAR10 {
		norm = CIFAR100Norm
	}
	if train {
		aug = CIFARAugment
	}
	return NewMemory(pix, labels, 3, 32, 32, classes, norm, aug)
}

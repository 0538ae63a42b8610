package imagedata

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// record builds one CIFAR record whose pixel j is (seed+j)%256.
func record(labels []byte, seed int) []byte {
	r := append([]byte(nil), labels...)
	for j := 0; j < CIFARPixels; j++ {
		r = append(r, byte(seed+j))
	}
	return r
}

func TestReadCIFAR10And100(t *testing.T) {
	in := append(record([]byte{3}, 0), record([]byte{9}, 7)...)
	pix, labels, err := ReadCIFAR(bytes.NewReader(in), "b.bin", CIFAR10, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 2 || labels[0] != 3 || labels[1] != 9 || len(pix) != 2*CIFARPixels || pix[CIFARPixels] != 7 || pix[CIFARPixels+1023] != byte((7+1023)%256) {
		t.Errorf("labels %v, pix %d", labels, len(pix))
	}
	in = append(record([]byte{19, 99}, 0), record([]byte{4, 42}, 1)...)
	_, fine, err := ReadCIFAR(bytes.NewReader(in), "train.bin", CIFAR100, nil, nil)
	if err != nil || fine[0] != 99 || fine[1] != 42 {
		t.Errorf("fine %v %v", fine, err)
	}
	_, coarse, _ := ReadCIFAR(bytes.NewReader(in), "train.bin", CIFAR100Coarse, nil, nil)
	if coarse[0] != 19 || coarse[1] != 4 {
		t.Errorf("coarse %v", coarse)
	}
}

func TestReadCIFARErrors(t *testing.T) {
	rec := record([]byte{1}, 0)
	_, _, err := ReadCIFAR(bytes.NewReader(append(rec, rec[:100]...)), "b.bin", CIFAR10, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "b.bin: record 1 at byte offset 3073: truncated (100 of 3073 bytes)") {
		t.Errorf("truncation: %v", err)
	}
	_, _, err = ReadCIFAR(bytes.NewReader(append(rec, record([]byte{10}, 0)...)), "b.bin", CIFAR10, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "record 1 at byte offset 3073: label 10 out of range [0,10)") {
		t.Errorf("label: %v", err)
	}
	_, _, err = ReadCIFAR(bytes.NewReader(record([]byte{20, 5}, 0)), "t.bin", CIFAR100, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "byte offset 0: label 20 out of range [0,20)") {
		t.Errorf("coarse label: %v", err)
	}
}

func TestLoadCIFARFolder(t *testing.T) {
	dir := t.TempDir()
	for b, f := range CIFARFiles(CIFAR10, true) {
		var buf []byte
		for i := 0; i < 3; i++ {
			buf = append(buf, record([]byte{byte((b + i) % 10)}, i)...)
		}
		os.WriteFile(filepath.Join(dir, f), buf, 0o644)
	}
	m, err := LoadCIFAR(dir, CIFAR10, true)
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := m.Shape(); m.Len() != 15 || c != 3 || h != 32 || w != 32 || m.NumClasses() != 10 {
		t.Errorf("got %d examples of %dx%dx%d", m.Len(), c, h, w)
	}
	if m.aug != CIFARAugment {
		t.Error("training split lacks the CIFAR augmentation")
	}
	if _, err := LoadCIFAR(dir, CIFAR10, false); err == nil || !strings.Contains(err.Error(), "test_batch.bin") {
		t.Errorf("missing test file: %v", err)
	}
}

func FuzzReadCIFAR(f *testing.F) {
	f.Add(record([]byte{1}, 0), false)
	f.Add(record([]byte{1, 2}, 0), true)
	f.Add([]byte{200, 1, 2}, false)
	f.Fuzz(func(t *testing.T, in []byte, hundred bool) {
		v := CIFAR10
		if hundred {
			v = CIFAR100
		}
		pix, labels, err := ReadCIFAR(bytes.NewReader(in), "fuzz", v, nil, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: record ") {
				t.Fatalf("error lacks file and record: %v", err)
			}
			return
		}
		if len(pix) != len(labels)*CIFARPixels {
			t.Fatalf("%d pixels for %d labels", len(pix), len(labels))
		}
	})
}

// TestLoadCIFAREmptyFile: a batch file of 0 records is refused by name.
func TestLoadCIFAREmptyFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "test.bin"), nil, 0o644)
	if _, err := LoadCIFAR(dir, CIFAR100, false); err == nil || !strings.Contains(err.Error(), "test.bin: byte offset 0: 0 records") {
		t.Errorf("empty file: %v", err)
	}
}

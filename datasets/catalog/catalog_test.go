package catalog

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCheckMNIST checks the real MNIST files: split sizes, the canonical
// per-class counts, and a checksum that does not change between two checks.
func TestCheckMNIST(t *testing.T) {
	e, _ := Lookup("mnist")
	if err := Available(e, ""); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	a, err := Check(context.Background(), "mnist", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Splits) != 2 || a.Splits[0].Items != 60000 || a.Splits[1].Items != 10000 {
		t.Fatalf("splits: %+v", a.Splits)
	}
	// LeCun's MNIST: 5923 zeros and 6742 ones in training, 980 zeros in test.
	if a.Splits[0].Classes["0"] != 5923 || a.Splits[0].Classes["1"] != 6742 || a.Splits[1].Classes["0"] != 980 {
		t.Fatalf("class counts: %v / %v", a.Splits[0].Classes, a.Splits[1].Classes)
	}
	b, err := Check(context.Background(), "mnist", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a.Checksum != b.Checksum || len(a.Checksum) != 64 {
		t.Fatalf("checksum %q then %q", a.Checksum, b.Checksum)
	}
	var buf bytes.Buffer
	a.Format(&buf)
	if !strings.Contains(buf.String(), "train  60000 items, 10 classes") {
		t.Fatalf("format:\n%s", buf.String())
	}
}

// TestCheckParts checks that the generated point-cloud set is deterministic.
func TestCheckParts(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 1500 shapes")
	}
	a, err := Check(context.Background(), "parts", "", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Check(context.Background(), "parts", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Checksum != b.Checksum || a.Splits[0].Items != 1200 || len(a.Splits[0].Classes) < 4 {
		t.Fatalf("parts: %+v vs %+v", a, b)
	}
}

// TestErrors checks the errors for an unknown name and a missing folder.
func TestErrors(t *testing.T) {
	if _, err := Check(context.Background(), "nope", "", ""); err == nil || !strings.Contains(err.Error(), "fashion-mnist") {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := Check(context.Background(), "cifar10", "", ""); err == nil || !strings.Contains(err.Error(), "-path") {
		t.Fatalf("missing path: %v", err)
	}
	if _, err := Check(context.Background(), "cifar10", "/no/such/dir", ""); err == nil || !strings.Contains(err.Error(), "/no/such/dir") {
		t.Fatalf("bad path: %v", err)
	}
}

package translation

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportRoundTrip exports a task's model and requires the loaded
// Translator to give the task's own translations; a tokenizer of another
// vocabulary size is refused with both sizes named.
func TestExportRoundTrip(t *testing.T) {
	dir := writeToyCorpus(t, 80, 6)
	task, err := New(context.Background(), toySpec(dir))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := task.Export(out); err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTranslator(filepath.Join(out, ExportWeights), filepath.Join(out, ExportConfig), filepath.Join(out, ExportBPE))
	if err != nil {
		t.Fatal(err)
	}
	want, err := task.Translate(context.Background(), task.data.evalSrc, 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Translate(context.Background(), append(append([]string(nil), task.data.evalTexts...), ""), 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sentence %d: loaded %q, task %q", i, got[i], want[i])
		}
	}
	if got[len(got)-1] != "" {
		t.Fatalf("empty line translated to %q", got[len(got)-1])
	}
	// Vocabulary mismatch.
	raw, _ := os.ReadFile(filepath.Join(out, ExportConfig))
	bad := strings.Replace(string(raw), `"Vocab": `, `"Vocab": 1`, 1)
	if err := os.WriteFile(filepath.Join(out, "bad.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadTranslator(filepath.Join(out, ExportWeights), filepath.Join(out, "bad.json"), filepath.Join(out, ExportBPE))
	if err == nil || !strings.Contains(err.Error(), "symbols but the model") {
		t.Fatalf("vocabulary mismatch: %v", err)
	}
}

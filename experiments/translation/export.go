package translation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	tdata "github.com/gap-harness/gap/datasets/translation"
	"github.com/gap-harness/gap/engine/nn"
	"github.com/gap-harness/gap/models/transformer"
)

// ModelFile is the JSON file that describes an exported translation model:
// the Transformer's configuration and the decoder's settings.
type ModelFile struct {
	Model  transformer.Config     `json:"model"`
	Search transformer.SearchOpts `json:"search"`
}

// Export names of the three files Export writes.
const (
	ExportWeights = "model.safetensors"
	ExportConfig  = "model.json"
	ExportBPE     = "bpe.txt"
)

// Export writes what `gap translate` needs into dir: the weights (with
// masks) as safetensors, the configuration as JSON and the tokenizer. Each
// file is written to a temporary name and renamed.
func (t *Task) Export(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("translation export: %w", err)
	}
	if err := t.model.Params().SaveSafetensors(filepath.Join(dir, ExportWeights), nn.SafetensorsOptions{Masks: true}); err != nil {
		return fmt.Errorf("translation export: %w", err)
	}
	b, err := json.MarshalIndent(ModelFile{Model: t.model.Config(), Search: t.spec.Search}, "", "  ")
	if err != nil {
		return fmt.Errorf("translation export: %w", err)
	}
	if err := tdata.WriteFileAtomic(filepath.Join(dir, ExportConfig), append(b, '\n')); err != nil {
		return fmt.Errorf("translation export: %w", err)
	}
	if err := t.data.bpe.Save(filepath.Join(dir, ExportBPE)); err != nil {
		return fmt.Errorf("translation export: %w", err)
	}
	return nil
}

// Translator is a loaded model ready to translate text.
type Translator struct {
	// Model is the Transformer; BPE its tokenizer; Search the decoder.
	Model  *transformer.Model
	BPE    *tdata.BPE
	Search transformer.SearchOpts
}

// LoadTranslator reads an exported model: the configuration JSON, the BPE
// and the safetensors weights. A vocabulary mismatch between the tokenizer
// and the configuration, or weights of other shapes, is an error naming
// both sizes.
func LoadTranslator(weightsPath, configPath, bpePath string) (*Translator, error) {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	var mf ModelFile
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mf); err != nil {
		return nil, fmt.Errorf("translate: %s: %w (want {\"model\": {...}, \"search\": {...}})", configPath, err)
	}
	bpe, err := tdata.LoadBPE(bpePath)
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	if bpe.VocabSize() != mf.Model.Vocab {
		return nil, fmt.Errorf("translate: the tokenizer %s has %d symbols but the model %s has a vocabulary of %d",
			bpePath, bpe.VocabSize(), configPath, mf.Model.Vocab)
	}
	m, err := transformer.New(mf.Model)
	if err != nil {
		return nil, fmt.Errorf("translate: %s: %w", configPath, err)
	}
	if err := m.Params().LoadSafetensors(weightsPath, false); err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	if mf.Search.Beam < 1 {
		mf.Search = transformer.DefaultSearch()
	}
	return &Translator{Model: m, BPE: bpe, Search: mf.Search}, nil
}

// Translate returns the translation of each line (an empty line gives an
// empty translation).
func (tr *Translator) Translate(ctx context.Context, lines []string, threads int) ([]string, error) {
	srcs := make([][]int32, len(lines))
	var keep [][]int32
	var at []int
	for i, l := range lines {
		srcs[i] = tr.BPE.Encode(l)
		if len(srcs[i]) > 0 {
			keep = append(keep, srcs[i])
			at = append(at, i)
		}
	}
	hyps, err := Translate(ctx, tr.Model, tr.BPE, keep, tr.Search, threads)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(lines))
	for j, i := range at {
		out[i] = hyps[j]
	}
	return out, nil
}

// Names of the evaluation files WriteArtifacts writes beside the export:
// the evaluation split's sources, references and the final model's
// translations (detokenised, one sentence a line, in the split's order).
const (
	ArtifactEvalSrc = "eval.src"
	ArtifactEvalRef = "eval.ref"
	ArtifactEvalHyp = "eval.hyp"
)

// WriteArtifacts exports the run's final (masked) model into dir, as Export
// does, so that `gap translate -run ID` can load it from the run's
// artifacts folder, and writes the evaluation split with the final model's
// translations (ArtifactEvalSrc, ArtifactEvalRef, ArtifactEvalHyp): those
// of the last Evaluate when the weights are still the ones it decoded with,
// else decoded now. It implements the runner's ArtifactWriter.
func (t *Task) WriteArtifacts(ctx context.Context, dir string, threads int) error {
	if err := t.Export(dir); err != nil {
		return err
	}
	hyps := t.lastEval
	if hyps == nil || t.lastEvalHash != t.paramsHash() {
		var err error
		if hyps, err = t.Translate(ctx, t.data.evalSrc, threads); err != nil {
			return fmt.Errorf("translation artifacts: %w", err)
		}
	}
	for name, lines := range map[string][]string{ArtifactEvalSrc: t.data.evalTexts, ArtifactEvalRef: t.data.evalRefs, ArtifactEvalHyp: hyps} {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if err := tdata.WriteFileAtomic(filepath.Join(dir, name), []byte(b.String())); err != nil {
			return fmt.Errorf("translation artifacts: %w", err)
		}
	}
	return nil
}

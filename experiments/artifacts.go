package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ArtifactWriter is a Task that writes files of its own about a finished
// run's final model, e.g. the predictions a suite's figure draws (the
// point-cloud suite's part-coloured test shapes). The runner calls it once,
// after the final evaluation and before the run's result is written, with
// the run's artifact folder (<results>/<table>/artifacts/<run id>, created
// empty); files must be written atomically.
type ArtifactWriter interface {
	WriteArtifacts(ctx context.Context, dir string) error
}

// ArtifactDir is the folder of a run's artifacts in a table's results folder.
func ArtifactDir(tableDir, runID string) string {
	return filepath.Join(tableDir, "artifacts", runID)
}

// writeArtifacts lets the trainer's Task write its artifacts, when it has
// any.
func (t *trainer) writeArtifacts(ctx context.Context, env Env) error {
	aw, ok := t.task.(ArtifactWriter)
	if !ok {
		return nil
	}
	dir := ArtifactDir(env.Dir, t.spec.ID())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	if err := aw.WriteArtifacts(ctx, dir); err != nil {
		return fmt.Errorf("artifacts of run %s: %w", t.spec.ID(), err)
	}
	return nil
}

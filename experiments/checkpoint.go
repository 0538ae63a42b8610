package experiments

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gap-harness/gap/internal/atomicfile"
	"github.com/gap-harness/gap/results"
)

// checkpointVersion is bumped whenever the checkpoint layout changes.
const checkpointVersion = 2

// Checkpoint is the whole state of a run (or of a P-GaP stage) at an epoch
// boundary: loading it and training on gives the same result, bit for bit, as
// never having stopped.
type Checkpoint struct {
	Version int
	RunID   string
	Stage   string // "main", or the P-GaP stage ("pgap/merged/2", "pgap/branch/1/3")
	// Epoch is the number of epochs finished (the next epoch to run).
	Epoch int
	Step  int64
	// State holds every parameter and buffer by name; Masks the prunable masks.
	State map[string][]float32
	Masks map[string][]float32
	// Opt holds the optimiser state by "<param>/<key>" and its step counter.
	Opt      map[string][]float32
	OptSteps int64
	// RNG is the method generator's state; InitRNG its state before Method.Init,
	// used to replay Init on resume so that methods recover their internal state.
	RNG, InitRNG []byte
	// Targets are the per-tensor target sparsities (global ratios stay fixed).
	Targets map[string]float64
	// Progress so far.
	Curves      []results.Point
	MaskChanges []results.MaskChange
	// LastMasks are the partitions' masks at their last prune-back (mask-change tracking).
	LastMasks   map[int][]float32
	TrainFLOPs  float64
	WallSeconds float64
	// Threads is the kernels' thread count: results are bit-identical only
	// for the same count, so a run resumes only with it.
	Threads int
	// Build is the engine build that wrote it (engine.Build; "" in
	// checkpoints from before it was recorded): only the same build reads
	// it (LoadCheckpoint), for the same reason.
	Build string
	// PhaseStart is the step at which the current optimiser (and warm-up)
	// started.
	PhaseStart int64
	// KernelChoices are the kernel choices of sparse-kernel training so far
	// (nil without Profile.SparseKernels).
	KernelChoices []KernelRecord
	// BranchKernelChoices are the choices P-GaP's branches made (Stage set
	// to the branch), gathered at each merge for the run's record; they
	// fix no later choice.
	BranchKernelChoices []KernelRecord
}

// SaveCheckpoint writes c to path atomically (package atomicfile).
func SaveCheckpoint(path string, c *Checkpoint) error {
	c.Version = checkpointVersion
	return atomicfile.Write(path, func(w io.Writer) error { return gob.NewEncoder(w).Encode(c) })
}

// LoadCheckpoint reads a checkpoint; it returns (nil, nil) when path does not
// exist, and an error for one written by another engine build (see Build).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer f.Close()
	var c Checkpoint
	if err := gob.NewDecoder(f).Decode(&c); err != nil {
		return nil, fmt.Errorf("checkpoint %s: corrupt (delete it to restart the run): %w", path, err)
	}
	if c.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint %s: version %d, this build reads version %d (delete it to restart the run)", path, c.Version, checkpointVersion)
	}
	// Every checkpoint is read here, whether a stage resumes from it or the
	// next stage starts from it: one written by another engine build would
	// mix two builds' arithmetic in one run.
	if err := sameBuild(path, "checkpoint of run "+c.RunID+" (stage "+c.Stage+")", c.Build); err != nil {
		return nil, err
	}
	return &c, nil
}

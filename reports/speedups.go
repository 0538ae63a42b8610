package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// SpeedupsFile is the file of measured inference speed-ups in a table's
// results folder (<results>/<table>/infer_speedups.json), written by `gap
// bench infer -table` / `-run` and read by the report. Timings are noisy and
// not reproducible bit for bit, so they live here and not in the runs'
// Arrow records.
const SpeedupsFile = "infer_speedups.json"

// InferSpeedup is one run's measured inference at one batch size: its final
// model with its own masks through the dense kernels (masked weights) and
// through the sparse kernels where the per-layer policy chose them.
type InferSpeedup struct {
	Batch int `json:"batch"`
	// DenseSec and SparseSec are median wall seconds per forward; DenseCPU
	// and SparseCPU median process CPU seconds.
	DenseSec   float64 `json:"dense_s"`
	SparseSec  float64 `json:"sparse_s"`
	DenseCPU   float64 `json:"dense_cpu_s"`
	SparseCPU  float64 `json:"sparse_cpu_s"`
	Speedup    float64 `json:"speedup"`
	CPUSpeedup float64 `json:"cpu_speedup"`
	// Folded is true when both sides ran with batch norm folded and the
	// epilogues fused.
	Folded bool `json:"folded"`
	// SparseLayers of Layers chose the sparse kernels.
	SparseLayers int `json:"sparse_layers"`
	Layers       int `json:"layers"`
	// Machine, Threads, BLAS, Load1 (the 1-minute load average when
	// measured) and Measured say where and when.
	Machine  string    `json:"machine"`
	Threads  int       `json:"threads"`
	BLAS     string    `json:"blas"`
	Load1    float64   `json:"load1"`
	Measured time.Time `json:"measured"`
}

// InferSpeedups holds the measurements of a table's runs by run id, one
// entry per batch size.
type InferSpeedups struct {
	Runs map[string][]InferSpeedup `json:"runs"`
}

// ReadSpeedups reads dir/SpeedupsFile; it returns (nil, nil) when the file
// does not exist.
func ReadSpeedups(dir string) (*InferSpeedups, error) {
	path := filepath.Join(dir, SpeedupsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	var s InferSpeedups
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reports: %s: %w (delete it and measure again with gap bench infer -table)", path, err)
	}
	return &s, nil
}

// Set records m for run id, replacing an earlier entry at the same batch.
func (s *InferSpeedups) Set(id string, m InferSpeedup) {
	if s.Runs == nil {
		s.Runs = map[string][]InferSpeedup{}
	}
	l := slices.DeleteFunc(s.Runs[id], func(e InferSpeedup) bool { return e.Batch == m.Batch })
	l = append(l, m)
	slices.SortFunc(l, func(a, b InferSpeedup) int { return a.Batch - b.Batch })
	s.Runs[id] = l
}

// Get returns run id's measurement at batch, if any.
func (s *InferSpeedups) Get(id string, batch int) (InferSpeedup, bool) {
	if s == nil {
		return InferSpeedup{}, false
	}
	for _, e := range s.Runs[id] {
		if e.Batch == batch {
			return e, true
		}
	}
	return InferSpeedup{}, false
}

// WriteSpeedups writes s to dir/SpeedupsFile atomically.
func WriteSpeedups(dir string, s *InferSpeedups) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, SpeedupsFile), append(b, '\n')); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}

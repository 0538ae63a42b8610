package experiments

import (
	"fmt"

	"github.com/gap-harness/gap/models"
)

// buildModel builds a profile's model with a seeded initialisation.
func buildModel(m ModelSpec, seed uint64) (models.Model, error) {
	model, err := models.New(m.Name, models.Config{
		Classes: m.Classes, InChannels: m.InputC, Height: m.InputSize, Width: m.InputSize,
		WidthMult: m.Width, Seed: seed, SmallStem: m.SmallStem,
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	return model, nil
}

// Package optim holds the engine's optimisers (SGD with momentum and Nesterov,
// Adam, AdamW, all with PyTorch's update formulas), learning-rate schedules as
// plain values, and gradient clipping by global norm.
//
// An optimiser updates a fixed list of parameters (engine.Var created with
// engine.NewParam), identified by their names. Its per-parameter state
// ("momentum", "exp_avg", "exp_avg_sq") is readable and writable by name, so a
// checkpoint can save it and a resumed run continue bit-identically, and it can
// be zeroed per element, which sparse training needs when weights are pruned or
// regrown.
//
// The learning rate is set from outside: the training loop asks a Schedule for
// the rate of the coming step and calls SetLR before Step.
package optim

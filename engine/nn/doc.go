// Package nn holds what models are built from on top of the engine: seeded
// initialisers with PyTorch's formulas, a named parameter set (weights, their
// pruning masks and GaP partitions, and buffers such as batch-norm running
// statistics) with state-dict export and import, and layers (Linear, Conv2d,
// BatchNorm, LayerNorm, Embedding) that register their parameters under
// PyTorch-like hierarchical names ("layer1.0.conv1.weight").
//
// Everything is float32, the training precision.
package nn

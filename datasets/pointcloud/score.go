package pointcloud

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ScoreMIoU implements `gap score miou -gt FILE -pred FILE [-set shapenet|parts]`.
//
// Both files hold one shape per line, aligned by line:
//
//	category label label label ...
//
// where category is a category name of the set (case-insensitive, e.g.
// "Airplane" for -set shapenet, "mug" for -set parts) or its index, and the
// labels are the global part labels of the shape's points in point order
// (ShapeNet: 0..49). Blank lines and lines starting with '#' are skipped. A
// line of -pred must name the same category and have as many labels as
// the matching line of -gt. It prints the number of shapes, instance and
// class mIoU (PointNet++'s definitions, see ShapeIoU and MIoU) and the
// per-category mIoU with shape counts, as percentages.
func ScoreMIoU(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("score miou", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gap score miou -gt FILE -pred FILE [-set shapenet|parts]\n\nPart-segmentation mIoU; each line: category label label ...\n\nflags:")
		fs.PrintDefaults()
	}
	gtPath := fs.String("gt", "", "ground-truth file")
	predPath := fs.String("pred", "", "prediction file")
	set := fs.String("set", "shapenet", "category set: shapenet or parts")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return fmt.Errorf("score miou: %w (usage: gap score miou -gt FILE -pred FILE [-set shapenet|parts]; -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("score miou: unexpected arguments %q", fs.Args())
	}
	if *gtPath == "" || *predPath == "" {
		return fmt.Errorf("score miou: need -gt FILE and -pred FILE")
	}
	var names []string
	var catParts [][]int
	switch *set {
	case "shapenet":
		for _, c := range ShapeNetCategories() {
			names = append(names, c.Name)
			catParts = append(catParts, c.Parts())
		}
	case "parts":
		names, catParts = PartsCategoryNames(), PartsCategoryParts()
	default:
		return fmt.Errorf("score miou: unknown -set %q (want shapenet or parts)", *set)
	}
	gt, err := readLabelFile(*gtPath, names)
	if err != nil {
		return fmt.Errorf("score miou: %w", err)
	}
	pred, err := readLabelFile(*predPath, names)
	if err != nil {
		return fmt.Errorf("score miou: %w", err)
	}
	if len(gt) != len(pred) {
		return fmt.Errorf("score miou: %s has %d shapes but %s has %d", *gtPath, len(gt), *predPath, len(pred))
	}
	m := NewMIoU(catParts)
	for i := range gt {
		g, p := gt[i], pred[i]
		if g.cat != p.cat || len(g.labels) != len(p.labels) {
			return fmt.Errorf("score miou: shape %d: %s:%d is %s with %d labels but %s:%d is %s with %d labels",
				i+1, *gtPath, g.line, names[g.cat], len(g.labels), *predPath, p.line, names[p.cat], len(p.labels))
		}
		if _, err := m.Add(g.cat, p.labels, g.labels); err != nil {
			return fmt.Errorf("score miou: %s:%d: %w", *gtPath, g.line, err)
		}
	}
	if m.Shapes() == 0 {
		return fmt.Errorf("score miou: %s has no shapes", *gtPath)
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintf(w, "shapes = %d instance mIoU = %.2f class mIoU = %.2f\n", m.Shapes(), 100*m.Instance(), 100*m.Class())
	for c, v := range m.PerCategory() {
		if m.count[c] > 0 {
			fmt.Fprintf(w, "%-12s %6.2f (%d shapes)\n", names[c], 100*v, m.count[c])
		}
	}
	return w.Flush()
}

type labelLine struct {
	line   int
	cat    int
	labels []int32
}

func readLabelFile(path string, names []string) ([]labelLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, want a text file of one shape per line", path)
	}
	return parseLabelLines(f, path, names)
}

func parseLabelLines(r io.Reader, name string, names []string) ([]labelLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	var out []labelLine
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		cat := -1
		for i, nm := range names {
			if strings.EqualFold(nm, f[0]) {
				cat = i
			}
		}
		if c, err := strconv.Atoi(f[0]); err == nil && c >= 0 && c < len(names) {
			cat = c
		}
		if cat < 0 {
			return nil, fmt.Errorf("%s:%d: category %q, want one of %s or an index 0..%d", name, n, f[0], strings.Join(names, ", "), len(names)-1)
		}
		l := labelLine{line: n, cat: cat, labels: make([]int32, len(f)-1)}
		for i, s := range f[1:] {
			v, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: label %d is %q, want an integer", name, n, i+1, s)
			}
			l.labels[i] = int32(v)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes", name, n+1, 64<<20)
		}
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return out, nil
}

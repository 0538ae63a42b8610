package results

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Section names of the long-format rows.
const (
	SectionMeta       = "meta"
	SectionSetting    = "setting"
	SectionCurve      = "curve"
	SectionFinal      = "final"
	SectionLayer      = "layer"
	SectionPhase      = "phase"
	SectionMaskChange = "mask_change"
)

// Column indexes of the schema returned by Schema.
const (
	colRunID = iota
	colSection
	colName
	colEpoch
	colEndEpoch
	colStep
	colRound
	colPartition
	colValue
	colText
	colCount
	colTotal
	numCols
)

// Schema is the Arrow schema of a run file for the run with the given ID.
func Schema(id string) *arrow.Schema {
	md := arrow.NewMetadata(
		[]string{"gap.format", "gap.format_version", "gap.run_id"},
		[]string{"gap-run", strconv.Itoa(FormatVersion), id},
	)
	return arrow.NewSchema([]arrow.Field{
		{Name: "run_id", Type: arrow.BinaryTypes.String},
		{Name: "section", Type: arrow.BinaryTypes.String},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "epoch", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "end_epoch", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "step", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "round", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "partition", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "total", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, &md)
}

// row is one long-format row before encoding; nil pointers are nulls.
type row struct {
	section, name          string
	epoch, endEpoch, round *int32
	partition              *int32
	step, count, total     *int64
	value                  *float64
	text                   *string
}

func i32(v int) *int32       { x := int32(v); return &x }
func i64(v int64) *int64     { return &v }
func f64(v float64) *float64 { return &v }
func str(v string) *string   { return &v }

// rows flattens r into long-format rows, in a fixed order.
func rows(r *Run) []row {
	var out []row
	text := func(name, v string) { out = append(out, row{section: SectionMeta, name: name, text: str(v)}) }
	num := func(name string, v float64) { out = append(out, row{section: SectionMeta, name: name, value: f64(v)}) }
	integer := func(name string, v int64) { out = append(out, row{section: SectionMeta, name: name, count: i64(v)}) }
	tm := func(name string, t time.Time) {
		rw := row{section: SectionMeta, name: name, text: str(t.Format(time.RFC3339Nano))}
		if !t.IsZero() {
			rw.count = i64(t.UnixNano())
		}
		out = append(out, rw)
	}
	text("id", r.ID)
	text("table", r.Table)
	text("row", r.Row)
	text("suite", r.Suite)
	text("profile", r.Profile)
	text("method", r.Method)
	text("model", r.Model)
	text("dataset", r.Dataset)
	text("distribution", r.Distribution)
	num("sparsity", r.Sparsity)
	integer("seed", r.Seed)
	integer("epochs", int64(r.Epochs))
	text("metric", r.Metric)
	num("train_flops", r.TrainFLOPs)
	num("dense_train_flops", r.DenseTrainFLOPs)
	num("infer_flops", r.InferFLOPs)
	num("dense_infer_flops", r.DenseInferFLOPs)
	num("wall_seconds", r.WallSeconds)
	text("commit", r.Commit)
	text("machine", r.Machine)
	text("go_version", r.GoVersion)
	text("build", r.Build)
	tm("started", r.Started)
	tm("finished", r.Finished)

	for _, k := range sortedKeys(r.Settings) {
		out = append(out, row{section: SectionSetting, name: k, text: str(r.Settings[k])})
	}
	for _, k := range sortedKeys(r.Final) {
		out = append(out, row{section: SectionFinal, name: k, value: f64(r.Final[k])})
	}
	for _, p := range r.Curves {
		out = append(out, row{section: SectionCurve, name: p.Metric, epoch: i32(p.Epoch), step: i64(p.Step), value: f64(p.Value)})
	}
	for _, l := range r.Layers {
		out = append(out, row{section: SectionLayer, name: l.Name, partition: i32(l.Partition), count: i64(l.Nonzero), total: i64(l.Params)})
	}
	for _, p := range r.Phases {
		out = append(out, row{section: SectionPhase, name: p.Name, partition: i32(p.Partition), epoch: i32(p.StartEpoch), endEpoch: i32(p.EndEpoch)})
	}
	for _, m := range r.MaskChanges {
		out = append(out, row{section: SectionMaskChange, round: i32(m.Round), partition: i32(m.Partition), value: f64(m.Changed)})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encode writes r as an Arrow IPC file to w.
func encode(w io.Writer, r *Run) error {
	mem := memory.NewGoAllocator()
	schema := Schema(r.ID)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rs := rows(r)
	b.Reserve(len(rs))
	strs := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	putStr := func(i int, v *string) {
		if v == nil {
			strs(i).AppendNull()
		} else {
			strs(i).Append(*v)
		}
	}
	put32 := func(i int, v *int32) {
		fb := b.Field(i).(*array.Int32Builder)
		if v == nil {
			fb.AppendNull()
		} else {
			fb.Append(*v)
		}
	}
	put64 := func(i int, v *int64) {
		fb := b.Field(i).(*array.Int64Builder)
		if v == nil {
			fb.AppendNull()
		} else {
			fb.Append(*v)
		}
	}
	for _, x := range rs {
		strs(colRunID).Append(r.ID)
		strs(colSection).Append(x.section)
		strs(colName).Append(x.name)
		put32(colEpoch, x.epoch)
		put32(colEndEpoch, x.endEpoch)
		put64(colStep, x.step)
		put32(colRound, x.round)
		put32(colPartition, x.partition)
		vb := b.Field(colValue).(*array.Float64Builder)
		if x.value == nil {
			vb.AppendNull()
		} else {
			vb.Append(*x.value)
		}
		putStr(colText, x.text)
		put64(colCount, x.count)
		put64(colTotal, x.total)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("arrow writer: %w", err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return fmt.Errorf("arrow write: %w", err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("arrow close: %w", err)
	}
	return nil
}

// decode reads a run from an Arrow IPC file.
func decode(rd ipc.ReadAtSeeker) (*Run, error) {
	mem := memory.NewGoAllocator()
	fr, err := ipc.NewFileReader(rd, ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC file: %w", err)
	}
	defer fr.Close()
	if err := checkSchema(fr.Schema()); err != nil {
		return nil, err
	}
	r := &Run{}
	for i := 0; i < fr.NumRecords(); i++ {
		rec, err := fr.RecordBatchAt(i)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		err = decodeBatch(rec, r)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
	}
	return r, nil
}

func checkSchema(s *arrow.Schema) error {
	md := s.Metadata()
	if v, _ := md.GetValue("gap.format"); v != "gap-run" {
		return fmt.Errorf("schema metadata gap.format is %q, want \"gap-run\"", v)
	}
	v, _ := md.GetValue("gap.format_version")
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > FormatVersion {
		return fmt.Errorf("unsupported gap.format_version %q (this reader knows 1..%d)", v, FormatVersion)
	}
	want := Schema("")
	if s.NumFields() != numCols {
		return fmt.Errorf("schema has %d columns, want %d", s.NumFields(), numCols)
	}
	for i, f := range want.Fields() {
		g := s.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			return fmt.Errorf("column %d is %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
	return nil
}

// cols gives typed access to the columns of one record batch.
type cols struct {
	runID, section, name, text        *array.String
	epoch, endEpoch, round, partition *array.Int32
	step, count, total                *array.Int64
	value                             *array.Float64
}

func decodeBatch(rec arrow.RecordBatch, r *Run) error {
	c := cols{
		runID: rec.Column(colRunID).(*array.String), section: rec.Column(colSection).(*array.String),
		name: rec.Column(colName).(*array.String), text: rec.Column(colText).(*array.String),
		epoch: rec.Column(colEpoch).(*array.Int32), endEpoch: rec.Column(colEndEpoch).(*array.Int32),
		round: rec.Column(colRound).(*array.Int32), partition: rec.Column(colPartition).(*array.Int32),
		step: rec.Column(colStep).(*array.Int64), count: rec.Column(colCount).(*array.Int64),
		total: rec.Column(colTotal).(*array.Int64), value: rec.Column(colValue).(*array.Float64),
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		if err := decodeRow(&c, i, r); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}

func decodeRow(c *cols, i int, r *Run) error {
	name := c.name.Value(i)
	i32at := func(a *array.Int32) int { return int(a.Value(i)) }
	switch sec := c.section.Value(i); sec {
	case SectionMeta:
		return decodeMeta(c, i, name, r)
	case SectionSetting:
		if r.Settings == nil {
			r.Settings = map[string]string{}
		}
		r.Settings[name] = c.text.Value(i)
	case SectionFinal:
		if r.Final == nil {
			r.Final = map[string]float64{}
		}
		r.Final[name] = c.value.Value(i)
	case SectionCurve:
		r.Curves = append(r.Curves, Point{Epoch: i32at(c.epoch), Step: c.step.Value(i), Metric: name, Value: c.value.Value(i)})
	case SectionLayer:
		r.Layers = append(r.Layers, Layer{Name: name, Partition: i32at(c.partition), Params: c.total.Value(i), Nonzero: c.count.Value(i)})
	case SectionPhase:
		r.Phases = append(r.Phases, Phase{Name: name, Partition: i32at(c.partition), StartEpoch: i32at(c.epoch), EndEpoch: i32at(c.endEpoch)})
	case SectionMaskChange:
		r.MaskChanges = append(r.MaskChanges, MaskChange{Round: i32at(c.round), Partition: i32at(c.partition), Changed: c.value.Value(i)})
	default:
		return fmt.Errorf("unknown section %q", sec)
	}
	return nil
}

func decodeMeta(c *cols, i int, name string, r *Run) error {
	txt := c.text.Value(i)
	val := c.value.Value(i)
	cnt := c.count.Value(i)
	switch name {
	case "id":
		r.ID = txt
	case "table":
		r.Table = txt
	case "row":
		r.Row = txt
	case "suite":
		r.Suite = txt
	case "profile":
		r.Profile = txt
	case "method":
		r.Method = txt
	case "model":
		r.Model = txt
	case "dataset":
		r.Dataset = txt
	case "distribution":
		r.Distribution = txt
	case "metric":
		r.Metric = txt
	case "commit":
		r.Commit = txt
	case "machine":
		r.Machine = txt
	case "go_version":
		r.GoVersion = txt
	case "build":
		r.Build = txt
	case "sparsity":
		r.Sparsity = val
	case "train_flops":
		r.TrainFLOPs = val
	case "dense_train_flops":
		r.DenseTrainFLOPs = val
	case "infer_flops":
		r.InferFLOPs = val
	case "dense_infer_flops":
		r.DenseInferFLOPs = val
	case "wall_seconds":
		r.WallSeconds = val
	case "seed":
		r.Seed = cnt
	case "epochs":
		r.Epochs = int(cnt)
	case "started", "finished":
		t, err := time.Parse(time.RFC3339Nano, txt)
		if err != nil {
			return fmt.Errorf("meta %s: %w", name, err)
		}
		if t.IsZero() {
			t = time.Time{}
		}
		if name == "started" {
			r.Started = t
		} else {
			r.Finished = t
		}
	default:
		// Unknown meta rows come from a newer minor writer; ignore them.
	}
	return nil
}

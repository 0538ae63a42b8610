package methods

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// params parses one method's string parameters into typed values. Each
// accessor declares a parameter (name, type, default); Err reports the first
// bad value, or any parameter that no accessor declared, naming the method,
// the parameter and the expected type or the valid names.
type params struct {
	method   string
	given    map[string]string
	declared []string
	infos    []ParamInfo
	err      error
}

// ParamInfo describes one parameter of a method: its name, type, default,
// the value a method instance resolved (given or default) and the valid
// values or range.
type ParamInfo struct {
	Name, Type, Default, Value, Valid string
}

// Described is implemented by every method built with the package's
// parameter parser (NewParams): Params lists each declared parameter with
// its resolved value, in declaration order.
type Described interface {
	Params() []ParamInfo
}

// Params parses one method's string parameters into typed values, for
// methods written outside this package: declare each parameter with an
// accessor, check ranges with Check, and return Err. Embed Base(name, p) in
// the method to get Name, the no-op hooks and Params (Described).
type Params = params

// NewParams starts parsing the given parameters of a method.
func NewParams(method string, given map[string]string) *Params { return newParams(method, given) }

func newParams(method string, given map[string]string) *params {
	return &params{method: method, given: given}
}

func (p *params) lookup(name string) (string, bool) {
	p.declared = append(p.declared, name)
	v, ok := p.given[name]
	return strings.TrimSpace(v), ok
}

// record notes a declared parameter's type, default and resolved value.
func (p *params) record(name, typ, def, val, valid string) {
	for i := range p.infos {
		if p.infos[i].Name == name {
			p.infos[i].Value = val
			return
		}
	}
	p.infos = append(p.infos, ParamInfo{Name: name, Type: typ, Default: def, Value: val, Valid: valid})
}

func (p *params) fail(name, typ, v string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("method %s: parameter %s=%q: want %s: %w", p.method, name, v, typ, err)
	}
}

// Float declares a float64 parameter.
func (p *params) Float(name string, def float64) float64 {
	v, ok := p.lookup(name)
	fs := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	if !ok {
		p.record(name, "float", fs(def), fs(def), "")
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		err = fmt.Errorf("not finite")
	}
	if err != nil {
		p.fail(name, "a float", v, err)
		return def
	}
	p.record(name, "float", fs(def), fs(f), "")
	return f
}

// Int declares an int parameter.
func (p *params) Int(name string, def int) int {
	v, ok := p.lookup(name)
	if !ok {
		p.record(name, "int", strconv.Itoa(def), strconv.Itoa(def), "")
		return def
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, "an integer", v, err)
		return def
	}
	p.record(name, "int", strconv.Itoa(def), strconv.Itoa(i), "")
	return i
}

// Enum declares a string parameter restricted to the given values (the
// first is the default).
func (p *params) Enum(name string, values ...string) string {
	v, ok := p.lookup(name)
	valid := strings.Join(values, "|")
	if !ok {
		p.record(name, "string", values[0], values[0], valid)
		return values[0]
	}
	for _, x := range values {
		if v == x {
			p.record(name, "string", values[0], v, valid)
			return v
		}
	}
	p.fail(name, "one of "+strings.Join(values, "|"), v, fmt.Errorf("unknown value"))
	return values[0]
}

// Check adds a range error for a parameter when ok is false; want (the
// valid range) also documents the parameter.
func (p *params) Check(ok bool, name, want string) {
	for i := range p.infos {
		if p.infos[i].Name == name && p.infos[i].Valid == "" {
			p.infos[i].Valid = want
		}
	}
	if !ok && p.err == nil {
		p.err = fmt.Errorf("method %s: parameter %s=%q: want %s", p.method, name, p.given[name], want)
	}
}

// Doc documents a parameter's valid values where every value of its type
// is accepted (no check to make).
func (p *params) Doc(name, valid string) { p.Check(true, name, valid) }

// Err returns the first parse error, or an error for unknown parameters.
func (p *params) Err() error {
	if p.err != nil {
		return p.err
	}
	known := map[string]bool{}
	for _, d := range p.declared {
		known[d] = true
	}
	var unknown []string
	for k := range p.given {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	valid := append([]string(nil), p.declared...)
	sort.Strings(valid)
	list := strings.Join(valid, ", ")
	if list == "" {
		list = "none"
	}
	return fmt.Errorf("method %s: unknown parameter(s) %s (valid: %s)", p.method, strings.Join(unknown, ", "), list)
}

// maxCount bounds counts of epochs, rounds and partitions: far above any
// real schedule, low enough that products of them cannot overflow.
const maxCount = 1 << 20

// inRange reports whether a count is in lo..maxCount.
func inRange(v, lo int) bool { return v >= lo && v <= maxCount }

// Base is what a method embeds: its Name, the no-op Update and EpochEnd,
// Params (Described) from its parser, and the runner-facing schedule
// (Epochs, Phase, RestartsOptimizerAt, TargetsAtInit) derived from its
// Plan. Embed it by value in a struct used through a pointer.
type Base = base

// NewBase returns the embeddable Base of a method named name whose plan is
// one "sparse" phase of the whole budget with targets from the initial
// weights (the hooks of a method that declares nothing else).
func NewBase(name string, p *Params) Base { return newBase(name, p, nil) }

// NewPlannedBase returns the embeddable Base of a method named name that
// declares its plan: plan(budget) returns the phases for a base budget
// (see Plan; it may fix the method's schedule fields as a side effect).
func NewPlannedBase(name string, p *Params, plan func(budget int) Plan) Base {
	return newBase(name, p, plan)
}

package methods

import (
	"fmt"
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
	err      error
}

func newParams(method string, given map[string]string) *params {
	return &params{method: method, given: given}
}

func (p *params) lookup(name string) (string, bool) {
	p.declared = append(p.declared, name)
	v, ok := p.given[name]
	return strings.TrimSpace(v), ok
}

func (p *params) fail(name, typ, v string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("method %s: parameter %s=%q: want %s: %w", p.method, name, v, typ, err)
	}
}

// Float declares a float64 parameter.
func (p *params) Float(name string, def float64) float64 {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		p.fail(name, "a float", v, err)
		return def
	}
	return f
}

// Int declares an int parameter.
func (p *params) Int(name string, def int) int {
	v, ok := p.lookup(name)
	if !ok {
		return def
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		p.fail(name, "an integer", v, err)
		return def
	}
	return i
}

// Enum declares a string parameter restricted to the given values (the
// first is the default).
func (p *params) Enum(name string, values ...string) string {
	v, ok := p.lookup(name)
	if !ok {
		return values[0]
	}
	for _, x := range values {
		if v == x {
			return v
		}
	}
	p.fail(name, "one of "+strings.Join(values, "|"), v, fmt.Errorf("unknown value"))
	return values[0]
}

// Check adds a range error for a parameter when ok is false.
func (p *params) Check(ok bool, name, want string) {
	if !ok && p.err == nil {
		p.err = fmt.Errorf("method %s: parameter %s=%q: want %s", p.method, name, p.given[name], want)
	}
}

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

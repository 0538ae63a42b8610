package methods

//go:generate go test -run TestReadmeTablesAreGenerated -update .

import (
	"fmt"
	"sort"
	"strings"
)

// Factory builds a method from its string parameters (nil or empty means
// all defaults). It must reject unknown parameters.
type Factory func(params map[string]string) (Method, error)

// Info is a registered method's name and one-line description.
type Info struct {
	Name        string
	Description string
}

type entry struct {
	desc    string
	factory Factory
}

// Registry maps method names to factories. It holds no global state: build
// one with NewRegistry (empty) or Default (the whole roster).
type Registry struct {
	entries map[string]entry
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{entries: map[string]entry{}} }

// Register adds a method. Names must be unique and non-empty.
func (r *Registry) Register(name, desc string, f Factory) error {
	if name == "" || f == nil {
		return fmt.Errorf("register %q: empty name or nil factory", name)
	}
	if _, dup := r.entries[name]; dup {
		return fmt.Errorf("register %q: name already registered", name)
	}
	r.entries[name] = entry{desc: desc, factory: f}
	return nil
}

// New builds the named method from its parameters.
func (r *Registry) New(name string, params map[string]string) (Method, error) {
	e, ok := r.entries[name]
	if !ok {
		names := make([]string, 0, len(r.entries))
		for n := range r.entries {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown method %q (known: %v)", name, names)
	}
	m, err := e.factory(params)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", name, err)
	}
	return m, nil
}

// List returns the registered methods sorted by name.
func (r *Registry) List() []Info {
	out := make([]Info, 0, len(r.entries))
	for n, e := range r.entries {
		out = append(out, Info{Name: n, Description: e.desc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Default returns a fresh registry holding the whole roster (see roster.go).
func Default() *Registry {
	r := NewRegistry()
	for _, e := range roster() {
		if err := r.Register(e.name, e.desc, e.factory); err != nil {
			panic(err) // a duplicate in roster() is a programming error
		}
	}
	return r
}

// Resolve returns every parameter of a method with its resolved value
// (given values and the method's defaults), for the run identity: a changed
// default or a new parameter changes it. A method that does not describe
// its parameters (not Described) resolves to the given values.
func (r *Registry) Resolve(name string, given map[string]string) (map[string]string, error) {
	m, err := r.New(name, given)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	d, ok := m.(Described)
	if !ok {
		for k, v := range given {
			out[k] = v
		}
		return out, nil
	}
	for _, p := range d.Params() {
		out[p.Name] = p.Value
	}
	return out, nil
}

// Revisioned is implemented by a method whose schedule or mask rule
// changed for the same parameters (a changed derived default, say): its
// Revision enters the run identity (as "method.revision", only when > 0,
// so that the runs of every other method keep their ids), and results of
// the earlier revision are never reused for the new one. Bump it with
// every such change; TestRunIDsGolden fails when a schedule changes under
// an unchanged run id.
type Revisioned interface {
	Revision() int
}

// Revision is the named method's Revision with the given parameters (0
// when it declares none).
func (r *Registry) Revision(name string, given map[string]string) (int, error) {
	m, err := r.New(name, given)
	if err != nil {
		return 0, err
	}
	if v, ok := m.(Revisioned); ok {
		return v.Revision(), nil
	}
	return 0, nil
}

// Help describes a method's parameters with their defaults (nil when the
// method does not describe them).
func (r *Registry) Help(name string) ([]ParamInfo, error) {
	m, err := r.New(name, nil)
	if err != nil {
		return nil, err
	}
	if d, ok := m.(Described); ok {
		return d.Params(), nil
	}
	return nil, nil
}

// Markdown documents the registered methods from their declarations, as
// the generated section of methods/README.md (`gap list -markdown`): one
// table of every parameter (type, default, valid values) and one of every
// method's plan at the given base budget.
func (r *Registry) Markdown(budget int) (string, error) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var params, plans strings.Builder
	params.WriteString("| method | parameter | type | default | valid |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&plans, "| method | description | plan at a base budget of %d epochs | targets fixed |\n|---|---|---|---|\n", budget)
	for _, info := range r.List() {
		help, err := r.Help(info.Name)
		if err != nil {
			return "", err
		}
		if len(help) == 0 {
			fmt.Fprintf(&params, "| %s | — | | | |\n", info.Name)
		}
		for _, p := range help {
			fmt.Fprintf(&params, "| %s | %s | %s | %s | %s |\n", info.Name, p.Name, p.Type, esc(p.Default), esc(p.Valid))
		}
		m, err := r.New(info.Name, nil)
		if err != nil {
			return "", err
		}
		p := PlanOf(m, budget)
		fmt.Fprintf(&plans, "| %s | %s | %s | %s |\n", info.Name, esc(info.Description), esc(p.Summary()), p.Targets)
	}
	return params.String() + "\n" + plans.String(), nil
}

package gradcheck

import (
	"fmt"

	"github.com/gap-harness/gap/engine"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RefFunc builds the same computation as a Func in gorgonia, from the input nodes.
type RefFunc func(g *G.ExprGraph, in []*G.Node) (*G.Node, error)

// Reference evaluates a computation in gorgonia (float64) and returns its output
// and the gradients of sum(out * w) with respect to each input not in noGrad.
func Reference(ref RefFunc, inputs []*engine.Tensor[float64], w []float64, noGrad map[int]bool) (out []float64, grads [][]float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gorgonia panicked: %v", r)
		}
	}()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(inputs))
	for i, t := range inputs {
		backing := append([]float64(nil), t.Data()...)
		shape := append([]int(nil), t.Shape()...)
		val := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))
		nodes[i] = G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithValue(val), G.WithName(fmt.Sprintf("in%d", i)))
	}
	y, err := ref(g, nodes)
	if err != nil {
		return nil, nil, fmt.Errorf("build reference: %w", err)
	}
	wshape := append([]int(nil), y.Shape()...)
	if len(wshape) == 0 {
		wshape = []int{}
	}
	var wn *G.Node
	if y.Shape().IsScalar() {
		wn = G.NewScalar(g, tensor.Float64, G.WithValue(w[0]), G.WithName("w"))
	} else {
		wv := tensor.New(tensor.WithShape(wshape...), tensor.WithBacking(append([]float64(nil), w...)))
		wn = G.NewTensor(g, tensor.Float64, len(wshape), G.WithShape(wshape...), G.WithValue(wv), G.WithName("w"))
	}
	prod, err := G.HadamardProd(y, wn)
	if err != nil {
		return nil, nil, fmt.Errorf("weight output: %w", err)
	}
	l, err := G.Sum(prod)
	if err != nil {
		return nil, nil, fmt.Errorf("sum: %w", err)
	}
	var wrt []*G.Node
	for i, n := range nodes {
		if !noGrad[i] {
			wrt = append(wrt, n)
		}
	}
	if len(wrt) > 0 {
		if _, err := G.Grad(l, wrt...); err != nil {
			return nil, nil, fmt.Errorf("gorgonia Grad: %w", err)
		}
	}
	var yv G.Value
	G.Read(y, &yv)
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		return nil, nil, fmt.Errorf("gorgonia run: %w", err)
	}
	out = valueData(yv)
	grads = make([][]float64, len(inputs))
	for i, n := range nodes {
		if noGrad[i] {
			continue
		}
		gv, err := n.Grad()
		if err != nil {
			return nil, nil, fmt.Errorf("gradient of input %d: %w", i, err)
		}
		grads[i] = valueData(gv)
	}
	return out, grads, nil
}

func valueData(v G.Value) []float64 {
	switch x := v.(type) {
	case *G.F64:
		return []float64{float64(*x)}
	case tensor.Tensor:
		d := x.Data()
		switch dd := d.(type) {
		case []float64:
			return append([]float64(nil), dd...)
		case float64:
			return []float64{dd}
		}
	}
	panic(fmt.Sprintf("gradcheck: unexpected gorgonia value %T", v))
}

// RefTol is the tolerance for agreement with gorgonia in float64: both compute the
// same formulas in double precision, so only summation order differs.
const RefTol = 1e-10

// CheckReference compares f's output and input gradients with gorgonia's ref on
// the same inputs and weights, failing t on the first mismatch.
func CheckReference(t T, name string, f Func, ref RefFunc, inputs []*engine.Tensor[float64], noGrad map[int]bool, seed uint64) {
	t.Helper()
	tp := engine.NewTape[float64](1)
	vars := make([]*engine.Var[float64], len(inputs))
	for i, in := range inputs {
		vars[i] = tp.Const(in)
	}
	n := f(tp, vars).Value.Len()
	w := Weights(newRNG(seed), n)
	out, grads, err := Analytic(f, inputs, w, noGrad)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rout, rgrads, err := Reference(ref, inputs, w, noGrad)
	if err != nil {
		t.Fatalf("%s: gorgonia: %v", name, err)
	}
	if msg := Close(out.Data(), rout, RefTol, RefTol); msg != "" {
		t.Fatalf("%s: forward differs from gorgonia: %s", name, msg)
	}
	for i := range inputs {
		if noGrad[i] {
			continue
		}
		if msg := Close(grads[i].Data(), rgrads[i], RefTol, RefTol); msg != "" {
			t.Fatalf("%s: gradient of input %d differs from gorgonia: %s", name, i, msg)
		}
	}
}

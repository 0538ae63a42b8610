package methods

import (
	"fmt"
	"math"
)

// Distribution names accepted in Context.Distribution.
const (
	// Uniform gives every non-Dense tensor the target sparsity. As in RigL
	// (sparse_utils.get_sparsities_uniform with the first layer in the
	// custom map at 0), Dense tensors are NOT compensated for: the overall
	// sparsity over all tensors is then a little below the target, and
	// exactly the target over the non-Dense tensors.
	Uniform = "uniform"
	// ERK is RigL's erdos_renyi_kernel distribution (see ERKSparsities).
	ERK = "erk"
	// Global is the GaP reference code's non-uniform distribution
	// (update_prune_ratio): one magnitude threshold over all non-Dense
	// tensors' current weights at the target overall sparsity gives each
	// layer its ratio; the ratios are then fixed.
	Global = "global"
)

// LayerSparsities returns the target sparsity of every tensor (0 for Dense
// tensors) for the given overall sparsity and distribution. For Global it
// reads the tensors' current weights.
func LayerSparsities(ts []*Tensor, sparsity float64, dist string) ([]float64, error) {
	if sparsity < 0 || sparsity >= 1 {
		return nil, fmt.Errorf("layer sparsities: sparsity %v outside [0, 1)", sparsity)
	}
	switch dist {
	case Uniform, "":
		out := make([]float64, len(ts))
		for i, t := range ts {
			if !t.Dense {
				out[i] = sparsity
			}
		}
		return out, nil
	case ERK:
		shapes := make([][]int, len(ts))
		dense := make([]bool, len(ts))
		for i, t := range ts {
			shapes[i], dense[i] = t.Shape, t.Dense
		}
		return ERKSparsities(shapes, dense, sparsity)
	case Global:
		return GlobalMagnitudeRatios(ts, sparsity)
	}
	return nil, fmt.Errorf("layer sparsities: unknown distribution %q (want uniform, erk or global)", dist)
}

// ERKSparsities is RigL's get_sparsities_erdos_renyi with include_kernel
// (erdos_renyi_kernel) and power scale 1. Layers marked dense[i] play the
// role of RigL's custom_sparsity_map at 0: they are left out of the
// computation entirely (not compensated for). For the other layers the raw
// density of a layer is sum(shape)/prod(shape); one scale eps is chosen so
// that the kept count equals the uniform one,
//
//	eps * sum_l raw_l*N_l = sum_l (N_l - floor(s*N_l)),
//
// and whenever eps*raw_l exceeds 1 for the largest raw_l, those layers
// become dense, their floor(s*N_l) zeros are taken off the right-hand side,
// and eps is solved again over the rest (iterated until valid).
func ERKSparsities(shapes [][]int, dense []bool, sparsity float64) ([]float64, error) {
	n := len(shapes)
	if len(dense) != n {
		return nil, fmt.Errorf("erk: %d shapes but %d dense flags", n, len(dense))
	}
	raw := make([]float64, n)
	size := make([]float64, n)
	for i, sh := range shapes {
		if len(sh) == 0 {
			return nil, fmt.Errorf("erk: tensor %d has an empty shape", i)
		}
		sum, prod := 0.0, 1.0
		for _, d := range sh {
			if d <= 0 {
				return nil, fmt.Errorf("erk: tensor %d has shape %v", i, sh)
			}
			sum += float64(d)
			prod *= float64(d)
		}
		raw[i], size[i] = sum/prod, prod
	}
	saturated := make([]bool, n)
	var eps float64
	for {
		rhs, divisor := 0.0, 0.0
		maxRaw := 0.0
		for i := range shapes {
			zeros := math.Floor(sparsity * size[i])
			switch {
			case dense[i]:
			case saturated[i]:
				rhs -= zeros
			default:
				rhs += size[i] - zeros
				divisor += raw[i] * size[i]
				maxRaw = max(maxRaw, raw[i])
			}
		}
		if divisor == 0 {
			break // every layer is dense or saturated
		}
		eps = rhs / divisor
		if maxRaw*eps <= 1 {
			break
		}
		for i := range shapes {
			if !dense[i] && !saturated[i] && raw[i] == maxRaw {
				saturated[i] = true
			}
		}
	}
	out := make([]float64, n)
	for i := range shapes {
		if dense[i] || saturated[i] {
			continue
		}
		out[i] = 1 - eps*raw[i]
	}
	return out, nil
}

// GlobalMagnitudeRatios derives per-tensor sparsities from one global
// magnitude threshold over the current weights of all non-Dense tensors,
// keeping exactly KeepCount(N, sparsity) weights in all (N = their total
// size; ties by tensor order then index), as the GaP reference's
// update_prune_ratio does. Dense tensors get 0. Pruning each tensor by
// magnitude to its ratio reproduces the global selection exactly. No layer
// is capped: the weights should have trained (the runner warms a model up
// before a from-scratch method computes them), since at random
// initialisation the threshold prunes wide layers whole (their init scale
// shrinks with fan-in).
func GlobalMagnitudeRatios(ts []*Tensor, sparsity float64) ([]float64, error) {
	total := 0
	var scores, masks [][]float32
	var idx []int
	for i, t := range ts {
		if t.Dense {
			continue
		}
		total += len(t.W)
		scores = append(scores, absCopy(t.W))
		masks = append(masks, make([]float32, len(t.W)))
		idx = append(idx, i)
	}
	out := make([]float64, len(ts))
	if len(idx) == 0 {
		return out, nil
	}
	if err := GlobalTopK(scores, KeepCount(total, sparsity), masks); err != nil {
		return nil, fmt.Errorf("global ratios: %w", err)
	}
	for j, i := range idx {
		if n := len(masks[j]); n > 0 {
			out[i] = 1 - float64(CountOnes(masks[j]))/float64(n)
		}
	}
	return out, nil
}

// ResolveTargets returns the target sparsity of every tensor in ctx order.
// If ctx.Targets is set it is used (every non-Dense tensor must be listed);
// otherwise the targets are computed by LayerSparsities from ctx.Sparsity
// and ctx.Distribution and stored in ctx.Targets, so that they stay fixed
// for the rest of the run.
func ResolveTargets(ctx *Context) ([]float64, error) {
	out := make([]float64, len(ctx.Tensors))
	if ctx.Targets != nil {
		for i, t := range ctx.Tensors {
			if t.Dense {
				continue
			}
			s, ok := ctx.Targets[t.Name]
			if !ok {
				return nil, fmt.Errorf("targets: no target sparsity for tensor %q", t.Name)
			}
			out[i] = s
		}
		return out, nil
	}
	out, err := LayerSparsities(ctx.Tensors, ctx.Sparsity, ctx.Distribution)
	if err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	ctx.Targets = make(map[string]float64, len(out))
	for i, t := range ctx.Tensors {
		ctx.Targets[t.Name] = out[i]
	}
	return out, nil
}

// TargetKeeps is each tensor's keep count at its target (ResolveTargets).
func TargetKeeps(ctx *Context) ([]int, error) { return targetKeeps(ctx) }

// targetKeeps resolves the targets as exact keep counts per tensor.
func targetKeeps(ctx *Context) ([]int, error) {
	s, err := ResolveTargets(ctx)
	if err != nil {
		return nil, err
	}
	k := make([]int, len(s))
	for i, t := range ctx.Tensors {
		k[i] = KeepCount(t.Size(), s[i])
	}
	return k, nil
}

// derive returns param when it is > 0, else fallback.
func derive(param, fallback int) int {
	if param > 0 {
		return param
	}
	return fallback
}

// randomMasks sets every non-Dense tensor's mask at random to its target
// (Dense: all ones) and applies the masks: the prune-to-keeps loop with the
// random rule.
func randomMasks(ctx *Context) error {
	if ctx.RNG == nil {
		return fmt.Errorf("random masks: ctx.RNG is nil")
	}
	keeps, err := targetKeeps(ctx)
	if err != nil {
		return err
	}
	PruneToKeepsBy(ctx, keeps, RandomKeep, nil)
	return nil
}

// denseMasks sets every mask to 1.
func denseMasks(ctx *Context) {
	for _, t := range ctx.Tensors {
		setOnes(t.M)
	}
}

package reports

import (
	"math"
	"strings"
	"testing"

	"github.com/gap-harness/gap/results"
)

// claimRuns makes rows "a" and "b" with the given metric values and
// epochs.
func claimRuns(a, b []float64, ea, eb int) map[string][]*results.Run {
	g := map[string][]*results.Run{}
	for key, vs := range map[string][]float64{"a": a, "b": b} {
		e := ea
		if key == "b" {
			e = eb
		}
		for i, v := range vs {
			g[key] = append(g[key], &results.Run{Row: key, Seed: int64(i), Epochs: e, Final: map[string]float64{"m": v}, TrainFLOPs: float64(e), DenseTrainFLOPs: 1})
		}
	}
	return g
}

func TestCheckClaim(t *testing.T) {
	c := Claim{Text: "a > b", A: "a", B: "b"}
	lo, hi := []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}
	// Exact Mann-Whitney U, 4 vs 4, complete separation: p = 2/C(8,4) = 1/35.
	r := CheckClaim(c, claimRuns(hi, lo, 3, 3), "m")
	if r.Verdict != Confirmed || math.Abs(r.P-2.0/70) > 1e-9 || !r.Matched || r.NA != 4 || r.MeanA != 6.5 {
		t.Errorf("separated, right way: %+v", r)
	}
	r = CheckClaim(c, claimRuns(lo, hi, 3, 6), "m")
	if r.Verdict != Refuted || r.Matched || !strings.HasPrefix(r.Budget, "not budget-matched: 3 vs 6 epochs; 3.00× vs 6.00×") {
		t.Errorf("separated, wrong way: %+v", r)
	}
	// 3 vs 3 can never reach α = 0.05: the smallest p is 0.1.
	r = CheckClaim(c, claimRuns([]float64{7, 8, 9}, []float64{1, 2, 3}, 3, 3), "m")
	if r.Verdict != NotSignificant || math.Abs(r.P-0.1) > 1e-9 || math.Abs(r.MinP-0.1) > 1e-12 {
		t.Errorf("3 vs 3: %+v", r)
	}
	r = CheckClaim(c, claimRuns([]float64{1, 2, 3}, nil, 3, 3), "m")
	if r.Verdict != Pending || !math.IsNaN(r.P) {
		t.Errorf("no runs: %+v", r)
	}
	if got := minMannWhitneyP(4, 4); math.Abs(got-2.0/70) > 1e-12 {
		t.Errorf("minMannWhitneyP(4,4) = %v", got)
	}
}

func TestImageNetClaims(t *testing.T) {
	spec := ImageNetSpec()
	// 2 dense claims + 2 sparsities × (C-GaP uniform 6 + C-GaP global 6 +
	// P-GaP uniform 6): RigL, RigL (GaP budget), SET, SET (GaP budget), GMP,
	// prune-from-pretrained.
	if len(spec.Claims) != 2+2*18 {
		t.Errorf("%d claims", len(spec.Claims))
	}
	for _, c := range spec.Claims {
		ma, sa, da := splitKey(c.A)
		mb, sb, db := splitKey(c.B)
		if mb != "dense" && (sa != sb || distClass(da) != distClass(db)) {
			t.Errorf("claim %q compares %s with %s", c.Text, c.A, c.B)
		}
		if ma != "cgap" && ma != "pgap" {
			t.Errorf("claim %q: A is %s", c.Text, ma)
		}
	}
}

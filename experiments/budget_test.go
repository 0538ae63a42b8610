package experiments

import (
	"strings"
	"testing"

	"github.com/gap-harness/gap/methods"
)

// TestBudgets checks that a row's budget multiple sets the epochs its method
// trains (RigL, SET, static, GMP, SNIP: the budget; prune-from-pretrained:
// dense + fine-tune sum to it), that "gap" matches the C-GaP row, that a bad
// budget is refused, and that budget rows have their own keys and ids.
func TestBudgets(t *testing.T) {
	tab := ImageNet()
	p, err := tab.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	base := p.Epochs
	reg := methods.Default()
	cg, err := reg.New("cgap", (RunSpec{Row: Row{Method: "cgap"}, Profile: p}).MethodParams())
	if err != nil {
		t.Fatal(err)
	}
	gapEpochs := cg.Epochs(base)
	if gapEpochs == base {
		t.Fatalf("C-GaP trains %d epochs, the base budget: the gap budget proves nothing", gapEpochs)
	}
	tab.Rows = []Row{{Method: "cgap", Sparsity: 0.9, Distribution: "uniform"}}
	for _, m := range []string{"rigl", "set", "static", "gmp", "snip", "pfp"} {
		for _, b := range []string{"", "x2", "x5", "gap"} {
			tab.Rows = append(tab.Rows, Row{Method: m, Sparsity: 0.9, Distribution: "uniform", Budget: b})
		}
	}
	plan := Plan{Table: tab, Profile: p, Seeds: 1}
	specs, _ := plan.Specs()
	ids := map[string]bool{}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		if ids[s.ID()] {
			t.Fatalf("%s: id shared with another budget", s.Row.Key())
		}
		ids[s.ID()] = true
		if s.Row.Method == "cgap" {
			continue
		}
		want := map[string]int{"": base, "x2": 2 * base, "x5": 5 * base, "gap": gapEpochs}[s.Row.Budget]
		m, err := reg.New(s.Row.Method, s.MethodParams())
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Epochs(s.baseEpochs()); got != want {
			t.Errorf("%s: %d epochs, want %d", s.Row.Key(), got, want)
		}
		if s.Row.Budget != "" && !strings.HasSuffix(s.Row.Key(), "@"+s.Row.Budget) {
			t.Errorf("row key %s does not name its budget", s.Row.Key())
		}
		// The schedules stretch with the budget.
		switch mm := m.(type) {
		case *methods.GMP:
			if s0, e0 := mm.Window(); e0 != int(0.6*float64(want)+0.5) || s0 != int(0.3*float64(want)+0.5) {
				t.Errorf("%s: GMP window [%d, %d) for %d epochs", s.Row.Key(), s0, e0, want)
			}
		case *methods.PFP:
			if d, f := mm.PhaseEpochs(); d+f != want || d < 1 || f < 1 {
				t.Errorf("%s: prune from pretrained %d dense + %d fine-tune epochs, budget %d", s.Row.Key(), d, f, want)
			}
		}
	}
	tab.Rows = append(tab.Rows, Row{Method: "rigl", Sparsity: 0.9, Distribution: "uniform", Budget: "x0"})
	specs, _ = (Plan{Table: tab, Profile: p, Seeds: 1}).Specs()
	if err := specs[len(specs)-1].Validate(); err == nil || !strings.Contains(err.Error(), "x0") {
		t.Fatalf("budget x0: want an error naming it, got %v", err)
	}
	tab.Rows = []Row{{Method: "rigl", Sparsity: 0.9, Distribution: "uniform", Budget: "gap"}}
	specs, _ = (Plan{Table: tab, Profile: p, Seeds: 1}).Specs()
	if err := specs[0].Validate(); err == nil || !strings.Contains(err.Error(), "C-GaP") {
		t.Fatalf("gap budget without a C-GaP row: %v", err)
	}
}

// defaultsMethod is a method registered from outside package methods with
// the package's exported parameter parser, whose default can be changed.
type defaultsMethod struct {
	methods.Base
	k int
}

func (defaultsMethod) Epochs(base int) int             { return base }
func (defaultsMethod) Init(ctx *methods.Context) error { return nil }

func registerDefaults(t *testing.T, def int) *methods.Registry {
	reg := methods.Default()
	err := reg.Register("defaults", "test method", func(p map[string]string) (methods.Method, error) {
		ps := methods.NewParams("defaults", p)
		m := &defaultsMethod{k: ps.Int("k", def)}
		ps.Check(m.k >= 0, "k", "an integer >= 0")
		if err := ps.Err(); err != nil {
			return nil, err
		}
		m.Base = methods.NewBase("defaults", ps)
		return m, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRunIDHashesResolvedDefaults checks that the run identity hashes the
// method's resolved parameters: a changed default gives a new id (no stale
// result is reused), and giving a parameter at its default value does not.
func TestRunIDHashesResolvedDefaults(t *testing.T) {
	tab := ImageNet()
	p, _ := tab.Profile("smoke")
	tab.Rows = []Row{{Method: "defaults", Sparsity: 0.5, Distribution: "uniform"}}
	id := func(reg *methods.Registry, given map[string]string) string {
		tab.Rows[0].Params = given
		specs, _ := (Plan{Table: tab, Profile: p, Seeds: 1, Registry: reg}).Specs()
		if err := specs[0].Validate(); err != nil {
			t.Fatal(err)
		}
		return specs[0].ID()
	}
	one, two := registerDefaults(t, 1), registerDefaults(t, 2)
	if id(one, nil) == id(two, nil) {
		t.Fatal("changing a method's default kept the run id: a stale result would be reused")
	}
	if id(one, nil) != id(one, map[string]string{"k": "1"}) {
		t.Fatal("giving a parameter at its default value changed the run id")
	}
	if id(one, map[string]string{"k": "3"}) == id(one, nil) {
		t.Fatal("a different value kept the run id")
	}
	tab.Rows[0].Params = map[string]string{"k": "-1"}
	specs, _ := (Plan{Table: tab, Profile: p, Seeds: 1, Registry: one}).Specs()
	if err := specs[0].Validate(); err == nil || !strings.Contains(err.Error(), "k") {
		t.Fatalf("a bad parameter: want an error naming it, got %v", err)
	}
	help, err := one.Help("defaults")
	if err != nil || len(help) != 1 || help[0].Default != "1" || help[0].Valid != "an integer >= 0" {
		t.Fatalf("help: %+v, %v", help, err)
	}
}

package experiments

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gap-harness/gap/methods"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/runids.golden")

// TestRunIDsGolden pins the identity (run hash) of every row of every table
// at every profile, for three seeds at one and two kernel threads, and the
// schedule the runner derives from each row's method: its epochs, the dense
// warm-up, the stage bounds where the optimiser restarts, whether targets
// are fixed at Init, and the phase of every epoch. Finished runs are found
// by their id, and stages by their bounds, so a change here would make the
// runner retrain (or worse, train differently) rows whose results exist.
// Regenerate with `go test ./experiments/ -run TestRunIDsGolden -update`
// only for an intended change of run identities.
func TestRunIDsGolden(t *testing.T) {
	got := runIDReport(t)
	golden := filepath.Join("testdata", "runids.golden")
	if old, err := os.ReadFile(golden); err == nil {
		for _, e := range staleIdentities(string(old), got) {
			t.Error(e)
		}
		if t.Failed() {
			t.Fatal("a schedule changed under an unchanged run id: finished runs of the old schedule would be reused (give the method a methods.Revisioned revision, or bump it)")
		}
	}
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestRunIDsGolden -update creates it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	n := 0
	for i := 0; i < max(len(gl), len(wl)) && n < 20; i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("line %d:\n got  %s\n want %s", i+1, g, w)
			n++
		}
	}
	t.Fatalf("run identities or schedules differ from %s", golden)
}

// runIDReport lists, table by table and profile by profile, each run's id
// and its method's derived schedule, one line per run.
func runIDReport(t *testing.T) string {
	t.Helper()
	reg := methods.Default()
	var b strings.Builder
	for _, name := range TableNames() {
		tab, err := LookupTable(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, pn := range tab.ProfileNames() {
			prof := tab.Profiles[pn]
			plan := Plan{Table: tab, Profile: prof, Seeds: 3, Registry: reg}
			for _, threads := range []int{1, 2} {
				runs, err := plan.Runs(t.TempDir(), threads)
				if err != nil {
					t.Fatalf("table %s profile %s: %v", name, pn, err)
				}
				for _, r := range runs {
					fmt.Fprintf(&b, "%s %s %s seed=%d threads=%d id=%s", name, pn, r.Spec.Row.Key(), r.Spec.Seed, threads, r.ID)
					if r.Spec.Seed == 0 && threads == 1 {
						b.WriteString(" " + scheduleOf(t, reg, r))
					}
					b.WriteByte('\n')
				}
			}
			_, pending := plan.Specs()
			for _, r := range pending {
				fmt.Fprintf(&b, "%s %s %s pending\n", name, pn, r.Key())
			}
		}
	}
	return b.String()
}

// scheduleOf formats what the runner derives from a run's method: epochs,
// warm-up, stage bounds (serial) or P-GaP's stages, targets-at-init, and
// the phase of every epoch run-length encoded.
func scheduleOf(t *testing.T, reg *methods.Registry, r PlannedRun) string {
	t.Helper()
	m, err := reg.New(r.Spec.Row.Method, r.Spec.MethodParams())
	if err != nil {
		t.Fatal(err)
	}
	n := m.Epochs(r.Spec.baseEpochs())
	w := warmupEpochs(r.Spec, m)
	tai := false
	if ti, ok := m.(methods.TargetsAtInit); ok {
		tai = ti.TargetsAtInit()
	}
	s := fmt.Sprintf("epochs=%d warmup=%d targets_at_init=%v", n, w, tai)
	if r.Parallel {
		s += fmt.Sprintf(" stages=%d rounds=%d kappa=%d", len(r.Stages()), r.Rounds, r.Kappa)
	} else {
		s += fmt.Sprintf(" bounds=%v", phaseBounds(r.Spec, m, n))
	}
	var ph []string
	prev, count := "", 0
	for e := 0; e < n; e++ {
		p := m.Phase(e).String()
		if p == prev {
			count++
			continue
		}
		if count > 0 {
			ph = append(ph, fmt.Sprintf("%sx%d", prev, count))
		}
		prev, count = p, 1
	}
	if count > 0 {
		ph = append(ph, fmt.Sprintf("%sx%d", prev, count))
	}
	return s + " phases=" + strings.Join(ph, ",")
}

// staleIdentities lists the runs whose id is the same in old and new
// golden reports while their schedule differs: the runner would take a
// finished run of the old schedule for one of the new.
func staleIdentities(old, new string) []string {
	parse := func(report string) map[string][2]string {
		out := map[string][2]string{}
		for _, l := range strings.Split(report, "\n") {
			f := strings.Fields(l)
			if len(f) < 6 || !strings.HasPrefix(f[5], "id=") {
				continue
			}
			out[strings.Join(f[:5], " ")] = [2]string{f[5], strings.Join(f[6:], " ")}
		}
		return out
	}
	o, n := parse(old), parse(new)
	var errs []string
	for k, nv := range n {
		if ov, ok := o[k]; ok && ov[0] == nv[0] && ov[1] != nv[1] {
			errs = append(errs, fmt.Sprintf("%s: same %s, schedule %q became %q", k, nv[0], ov[1], nv[1]))
		}
	}
	sort.Strings(errs)
	return errs
}

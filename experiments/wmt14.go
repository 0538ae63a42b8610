package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gap-harness/gap/experiments/translation"
)

// wmt14Rows are the rows of the paper's translation table: dense;
// prune-from-pretrained (one-shot and iterative magnitude, the reference's
// baseline); GMP; RigL; C-GaP and P-GaP at kappa 3 and 6; at 80% and 90%,
// uniform (the paper's table is uniform throughout). The row's kappa reaches
// the Task through TaskConfig.MethodParams, which builds the Transformer's
// partitions for it.
func wmt14Rows() []Row {
	rows := []Row{{Method: "dense", Distribution: "dense"}}
	for _, s := range []float64{0.8, 0.9} {
		for _, m := range []string{"pfp", "ipfp", "gmp", "rigl"} {
			rows = append(rows, Row{Method: m, Sparsity: s, Distribution: "uniform"})
		}
		for _, m := range []string{"cgap", "pgap"} {
			rows = append(rows,
				Row{Method: m, Sparsity: s, Distribution: "uniform", Params: map[string]string{"kappa": "3"}, Variant: "k3"},
				Row{Method: m, Sparsity: s, Distribution: "uniform", Params: map[string]string{"kappa": "6"}, Variant: "k6"})
		}
	}
	return rows
}

// WMT14 is the paper's WMT14 En-De Transformer table (BLEU, case-insensitive
// sacreBLEU, beam 4, length penalty 1). The proxies train the same
// Transformer, smaller, on the SWORD English-Spanish Bible corpus; full
// trains Transformer-big on WMT14 files the user gives (DATA: a folder with
// train/valid/test .src/.tgt). The model, data and decoder of each profile
// are experiments/translation.Profiles (named by Options
// "translation_profile"); the optimiser is the reference's recipe, that
// profile's Optim: Adam (0.9, 0.98), eps 1e-9, no weight decay, fairseq's
// inverse-sqrt schedule with a linear warm-up from 0 over the profile's
// warm-up steps (4000 at full, fewer on the proxies), restarted with the
// optimiser at every GaP step (each GaP step is a fresh fairseq process in
// the reference).
func WMT14() *Table {
	adam := func(o translation.OptimSpec) OptimSpec {
		return OptimSpec{Name: "adam", LR: o.PeakLR, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps,
			Schedule: "inverse-sqrt", WarmupSteps: int(o.WarmupSteps), KeepStateAcrossPhases: !o.RestartScheduleEachPhase}
	}
	gap := func(rounds, t, ft int) map[string]string {
		return map[string]string{"kappa": "3", "rounds": strconv.Itoa(rounds), "step_epochs": strconv.Itoa(t), "finetune_epochs": strconv.Itoa(ft)}
	}
	prof := func(name string, epochs int, mp map[string]map[string]string) Profile {
		tp, _ := translation.ProfileByName(name)
		p := Profile{Name: name, Model: ModelSpec{Name: "transformer"}, Data: DataSpec{Name: "sword-en-es"},
			Epochs: epochs, Batch: 1, EvalBatch: 32, Optim: adam(tp.Optim), MethodParams: mp,
			Options: map[string]string{"translation_profile": name, "kappa": "3"}}
		if tp.Proxy {
			p.Proxy = tp.Label
		} else {
			p.Data.Name = "wmt14-en-de"
		}
		return p
	}
	return &Table{
		Name:        "wmt14",
		Title:       "Transformer on WMT14 En-De: BLEU at 80% and 90% sparsity",
		Suite:       "translation",
		Metric:      "bleu",
		MetricLabel: "BLEU (case-insensitive)",
		Rows:        wmt14Rows(),
		DenseLayers: "none", // the reference prunes every encoder/decoder matrix
		Profiles: map[string]Profile{
			"smoke": prof("smoke", 1, map[string]map[string]string{
				"cgap": gap(1, 1, 1), "pgap": gap(1, 1, 1), "gmp": {"freq": "2"}, "rigl": {"delta_t": "2"},
			}),
			"default": prof("default", 6, map[string]map[string]string{
				"cgap": gap(1, 1, 3), "pgap": gap(1, 1, 3), "gmp": {"freq": "20"}, "rigl": {"delta_t": "20"},
			}),
			"long": prof("long", 10, map[string]map[string]string{
				"cgap": gap(2, 2, 10), "pgap": gap(2, 2, 10),
			}),
			"full": prof("full", 40, map[string]map[string]string{
				"cgap": gap(10, 10, 40), "pgap": gap(10, 10, 40),
			}),
		},
	}
}

// newTranslationTask builds the translation suite's Task from a wmt14
// profile: the model, data and decoder of the named
// experiments/translation profile, the row's kappa (its method's resolved
// "kappa"; rows of methods without partitions take the profile's Options
// kappa), the run's seed and DATA; the tokenised corpus is shared through the
// process's DataCache.
func newTranslationTask(c TaskConfig) (Task, error) {
	name := c.Profile.Options["translation_profile"]
	if name == "" {
		name = c.Profile.Name
	}
	p, err := translation.ProfileByName(name)
	if err != nil {
		return nil, err
	}
	ks, field := c.Profile.Options["kappa"], "options.kappa"
	if k, ok := c.MethodParams["kappa"]; ok {
		ks, field = k, "method parameter kappa"
	}
	kappa, err := strconv.Atoi(ks)
	if err != nil || kappa < 1 {
		return nil, fmt.Errorf("translation: profile %s: %s %q: want a positive integer (1, 2, 3 or 6)", c.Profile.Name, field, ks)
	}
	cache := ""
	if d, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(d, "gap")
	}
	spec, err := translation.SpecFor(p, kappa, uint64(c.Seed), c.DataPath, cache)
	if err != nil {
		return nil, err
	}
	load := func() (any, error) { return translation.LoadData(context.Background(), spec.Data) }
	var d any
	if c.Data != nil {
		d, err = c.Data.Get("translation:"+name+":"+c.DataPath, load)
	} else {
		d, err = load()
	}
	if err != nil {
		return nil, err
	}
	return translation.NewWithData(spec, d.(*translation.Data))
}

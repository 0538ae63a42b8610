package reports

import "github.com/gap-harness/gap/results"

// TranslationSpec is the paper's WMT14 En-De Transformer-big table
// (uniform sparsity, case-insensitive sacreBLEU) with the GaP numbers of
// research/gap-paper-and-reference.md §2.2, exact from the GaP README.
// Row keys are the wmt14 table's (experiments.WMT14): dense; pfp and ipfp
// (one-shot and iterative prune-from-pretrained, the reference's
// baseline), gmp and rigl; C-GaP and P-GaP at κ 3 and 6 as the variants
// "#k3" and "#k6" of the cgap and pgap rows; every sparse row uniform at
// 80% and 90%. The baselines' paper numbers are not recovered ("—").
func TranslationSpec() TableSpec {
	type gap struct {
		method, variant, label string
		at80, at90             float64
	}
	gaps := []gap{
		{"cgap", "k3", "C-GaP (κ=3)", 27.59, 27.72},
		{"cgap", "k6", "C-GaP (κ=6)", 27.65, 27.06},
		{"pgap", "k3", "P-GaP (κ=3)", 27.93, 27.31},
		{"pgap", "k6", "P-GaP (κ=6)", 27.67, 26.88},
	}
	bases := []claimSide{
		{"pfp", "uniform", "prune-from-pretrained (one-shot)"},
		{"ipfp", "uniform", "prune-from-pretrained (iterative)"},
		{"gmp", "uniform", "GMP"},
		{"rigl", "uniform", "RigL"},
	}
	spec := TableSpec{
		Table:       "translation",
		Title:       "WMT14 En-De, Transformer-big: BLEU at 80% and 90% sparsity",
		Metric:      "bleu",
		MetricLabel: "BLEU",
		Proxies: map[string]string{
			"smoke":   "smoke profile: a tiny model for seconds on CPU; the numbers only test the pipeline",
			"default": "default profile: a small Transformer (d64, 3+3 layers) on the SWORD English-Spanish Bible corpus, a proxy for Transformer-big/WMT14 En-De",
		},
		Sources: map[string]string{
			"G": "GaP repository README (boone891214/GaP), exact",
			"N": "NVIDIA Transformer-big recipe, recalled in research/gap-paper-and-reference.md §2.2, unverified",
		},
		Notes: []string{
			"The paper's own dense BLEU and its baseline rows (magnitude pruning from dense, ADMM) are not recovered; the baselines here are the harness's, at the budgets the Epochs column gives.",
		},
	}
	dense := results.RowKey("dense", 0, "dense")
	var gapSides []claimSide
	for _, g := range gaps {
		gapSides = append(gapSides, claimSide{g.method + "#" + g.variant, "uniform", g.label})
		spec.Claims = append(spec.Claims, Claim{Text: g.label + " ≥ dense at 80%, uniform", A: sideKey(gapSides[len(gapSides)-1], 0.8), B: dense})
	}
	spec.Claims = append(spec.Claims, gapClaims([]float64{0.8, 0.9}, gapSides, bases)...)
	spec.Rows = append(spec.Rows, RowSpec{
		Key: dense, Method: "Dense", Distribution: "—",
		Paper: &PaperNumber{Value: 28.4, Epochs: 40, Source: "N"},
	})
	for _, s := range []float64{0.8, 0.9} {
		for _, b := range bases {
			spec.Rows = append(spec.Rows, RowSpec{Key: sideKey(b, s), Method: b.label, Distribution: "uniform", Sparsity: s})
		}
		for _, g := range gaps {
			v := g.at80
			if s == 0.9 {
				v = g.at90
			}
			spec.Rows = append(spec.Rows, RowSpec{
				Key: sideKey(claimSide{g.method + "#" + g.variant, "uniform", g.label}, s), Method: g.label, Distribution: "uniform", Sparsity: s,
				Paper: &PaperNumber{Value: v, Source: "G"},
			})
		}
	}
	return spec
}

// Specs returns the table specs this package knows, by table name (a new
// map on every call).
func Specs() map[string]TableSpec {
	return map[string]TableSpec{
		"imagenet":    ImageNetSpec(),
		"translation": TranslationSpec(),
		"wmt14":       wmt14Spec(), // the table's name in experiments
		"shapenet":    ShapeNetSpec(),
		"coco":        COCOSpec(),
	}
}

// wmt14Spec is TranslationSpec under the name of the harness's table.
func wmt14Spec() TableSpec {
	s := TranslationSpec()
	s.Table = "wmt14"
	return s
}

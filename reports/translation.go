package reports

import "github.com/gap-harness/gap/results"

// TranslationSpec is the paper's WMT14 En-De Transformer-big table
// (uniform sparsity, case-insensitive sacreBLEU) with the GaP numbers of
// research/gap-paper-and-reference.md §2.2, exact from the GaP README.
// Row keys: "cgap" and "pgap" are κ=3, "cgap-k6" and "pgap-k6" κ=6 (the
// method names the runner is expected to use for these rows).
func TranslationSpec() TableSpec {
	type gap struct {
		method, label string
		at80, at90    float64
	}
	rows := []gap{
		{"cgap", "C-GaP (κ=3)", 27.59, 27.72},
		{"cgap-k6", "C-GaP (κ=6)", 27.65, 27.06},
		{"pgap", "P-GaP (κ=3)", 27.93, 27.31},
		{"pgap-k6", "P-GaP (κ=6)", 27.67, 26.88},
	}
	spec := TableSpec{
		Table:       "translation",
		Title:       "WMT14 En-De, Transformer-big: BLEU at 80% and 90% sparsity",
		Metric:      "bleu",
		MetricLabel: "BLEU",
		Proxies: map[string]string{
			"smoke":   "smoke profile: a tiny model for seconds on CPU; the numbers only test the pipeline",
			"default": "default profile: a small Transformer on a small translation set, a proxy for Transformer-big/WMT14 En-De",
		},
		Sources: map[string]string{
			"G": "GaP repository README (boone891214/GaP), exact",
			"N": "NVIDIA Transformer-big recipe, recalled in research/gap-paper-and-reference.md §2.2, unverified",
		},
		Notes: []string{
			"The paper's own dense BLEU and its baseline rows (magnitude pruning from dense, ADMM) are not recovered.",
		},
	}
	spec.Rows = append(spec.Rows, RowSpec{
		Key: results.RowKey("dense", 0, "dense"), Method: "Dense", Distribution: "—",
		Paper: &PaperNumber{Value: 28.4, Epochs: 40, Source: "N"},
	})
	for _, s := range []float64{0.8, 0.9} {
		for _, g := range rows {
			v := g.at80
			if s == 0.9 {
				v = g.at90
			}
			spec.Rows = append(spec.Rows, RowSpec{
				Key: results.RowKey(g.method, s, "uniform"), Method: g.label, Distribution: "uniform", Sparsity: s,
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

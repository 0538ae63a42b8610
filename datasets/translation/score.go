package translation

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// multiFlag is a repeatable string flag.
type multiFlag []string

// String joins the values.
func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set appends a value.
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// ScoreBLEU implements `gap score bleu -ref FILE [-ref FILE2 ...] -hyp FILE
// [-lowercase] [-tokenize 13a|none] [-smooth exp|none|floor|add-k]`.
// Files hold one segment per line, aligned by line; every reference file
// must have as many lines as the hypothesis file. It prints one line in
// sacreBLEU's text format, e.g.
//
//	BLEU = 34.52 66.7/42.1/28.6/20.0 (BP = 1.000 ratio = 1.000 hyp_len = 10 ref_len = 10)
func ScoreBLEU(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("score bleu", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gap score bleu -ref FILE [-ref FILE2 ...] -hyp FILE [flags]\n\nCorpus BLEU as sacreBLEU computes it; files hold one segment per line.\n\nflags:")
		fs.PrintDefaults()
	}
	var refs multiFlag
	fs.Var(&refs, "ref", "reference file (repeat for several references)")
	hyp := fs.String("hyp", "", "hypothesis file")
	lower := fs.Bool("lowercase", false, "case-insensitive BLEU")
	tok := fs.String("tokenize", "13a", "tokenizer: 13a or none")
	smooth := fs.String("smooth", SmoothExp, "smoothing: exp, none, floor, add-k")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return fmt.Errorf("score bleu: %w (usage: gap score bleu -ref FILE [-ref FILE2] -hyp FILE [-lowercase]; -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("score bleu: unexpected arguments %q", fs.Args())
	}
	if len(refs) == 0 || *hyp == "" {
		return fmt.Errorf("score bleu: need -hyp FILE and at least one -ref FILE")
	}
	hyps, err := ReadLines(*hyp)
	if err != nil {
		return fmt.Errorf("score bleu: %w", err)
	}
	if len(hyps) == 0 {
		return fmt.Errorf("score bleu: %s: 0 lines, want one hypothesis segment per line", *hyp)
	}
	refLines := make([][]string, len(refs))
	for k, p := range refs {
		if refLines[k], err = ReadLines(p); err != nil {
			return fmt.Errorf("score bleu: %w", err)
		}
		if len(refLines[k]) != len(hyps) {
			return fmt.Errorf("score bleu: reference %s has %d lines but hypothesis %s has %d", p, len(refLines[k]), *hyp, len(hyps))
		}
	}
	cfg := DefaultBLEUConfig()
	cfg.Lowercase, cfg.Tokenize, cfg.Smooth = *lower, *tok, *smooth
	s, err := CorpusBLEU(hyps, refLines, cfg)
	if err != nil {
		return fmt.Errorf("score bleu: %w", err)
	}
	_, err = fmt.Fprintln(stdout, s.String())
	return err
}

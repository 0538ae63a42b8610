package main

import (
	"strings"
	"testing"
)

// TestScoreHelp: `gap score -h` prints the metrics and each metric's -h
// prints its flags, exiting 0.
func TestScoreHelp(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"score", "-h"}, []string{"usage: gap score bleu|map|miou", "miou"}},
		{[]string{"score", "bleu", "-h"}, []string{"-ref", "-hyp", "-smooth"}},
		{[]string{"score", "miou", "-h"}, []string{"-gt", "-pred", "-set"}},
		{[]string{"score", "map", "-h"}, []string{"-gt", "-pred", "-iou"}},
	}
	for _, c := range cases {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != 0 {
			t.Errorf("%v: exit %d (stderr %q)", c.args, code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%v: output %q lacks %q", c.args, stdout+stderr, w)
			}
		}
	}
}

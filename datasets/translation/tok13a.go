package translation

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenize13a tokenizes one segment exactly as sacreBLEU's "13a" tokenizer
// (tokenizers/tokenizer_13a.py and tokenizer_re.py, equivalent to the
// tokenization of mteval-v13a.pl) does:
//
//  1. remove "<skipped>", join lines split by "-\n", turn "\n" into " ";
//  2. if the line contains '&', replace &quot; &amp; &lt; &gt; in that order;
//  3. pad the line with one space on each side;
//  4. surround every ASCII punctuation character except ' , - . with spaces
//     (the class [\{-\~\[-\` -\&\(-\+\:-\@\/]);
//  5. split '.' and ',' from a preceding non-digit: ([^0-9])([\.,]) -> "\1 \2 ";
//  6. split '.' and ',' from a following non-digit: ([\.,])([^0-9]) -> " \1 \2";
//  7. split '-' from a preceding digit: ([0-9])(-) -> "\1 \2 ";
//  8. collapse whitespace (Python's str.split) and join with single spaces.
//
// Each regular-expression step is applied as Python's re.sub applies it: one
// left-to-right pass over non-overlapping matches. Invalid UTF-8 bytes are
// read as U+FFFD (Python would refuse to decode such input).
func Tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		line = strings.ReplaceAll(line, "&quot;", "\"")
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	return tokenizeRegexp(" " + line + " ")
}

// tokenizeRegexp is sacreBLEU's TokenizerRegexp (steps 4 to 8 above).
func tokenizeRegexp(line string) string {
	rs := make([]rune, 0, utf8.RuneCountInString(line)+8)
	for _, r := range line {
		if isPunct13a(r) {
			rs = append(rs, ' ', r, ' ')
		} else {
			rs = append(rs, r)
		}
	}
	rs = subPair(rs, func(a, b rune) bool { return !isDigit(a) && isPeriodComma(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	rs = subPair(rs, func(a, b rune) bool { return isPeriodComma(a) && !isDigit(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, ' ', a, ' ', b) })
	rs = subPair(rs, func(a, b rune) bool { return isDigit(a) && b == '-' },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	return joinPyFields(string(rs))
}

// subPair applies a two-character regular expression substitution the way
// re.sub does: scanning left to right, replacing non-overlapping matches.
func subPair(rs []rune, match func(a, b rune) bool, repl func(dst []rune, a, b rune) []rune) []rune {
	out := make([]rune, 0, len(rs)+len(rs)/4+4)
	for i := 0; i < len(rs); {
		if i+1 < len(rs) && match(rs[i], rs[i+1]) {
			out = repl(out, rs[i], rs[i+1])
			i += 2
			continue
		}
		out = append(out, rs[i])
		i++
	}
	return out
}

func isDigit(r rune) bool       { return r >= '0' && r <= '9' }
func isPeriodComma(r rune) bool { return r == '.' || r == ',' }
func isPunct13a(r rune) bool {
	switch {
	case r >= '{' && r <= '~', r >= '[' && r <= '`', r >= ' ' && r <= '&',
		r >= '(' && r <= '+', r >= ':' && r <= '@', r == '/':
		return true
	}
	return false
}

// isPySpace reports whether Python's str.isspace is true for r: Go's
// unicode.IsSpace plus the ASCII separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// joinPyFields is Python's " ".join(s.split()).
func joinPyFields(s string) string {
	return strings.Join(strings.FieldsFunc(s, isPySpace), " ")
}

// pyRStrip is Python's str.rstrip() with no argument.
func pyRStrip(s string) string { return strings.TrimRightFunc(s, isPySpace) }

// pyLower is Python's str.lower(): the Unicode lowercase mapping plus the
// two rules Python applies beyond Go's strings.ToLower: U+0130 becomes
// "i\u0307", and a capital sigma in the Final_Sigma context (after a cased
// letter, not before one, case-ignorable characters skipped) becomes ς.
func pyLower(s string) string {
	if !strings.ContainsAny(s, "\u0130\u03a3") {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports \p{cased}\p{case-ignorable}* before rs[i] and no
// \p{case-ignorable}*\p{cased} after it.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable is Unicode's Case_Ignorable: Mn, Me, Cf, Lm, Sk and the
// Word_Break classes MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

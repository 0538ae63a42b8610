package translation

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gap-harness/gap/internal/atomicfile"
)

// Default SWORD modules of the English-Spanish corpus and the Debian
// packages that ship them.
const (
	DefaultSrcModule = "engKJV2006eb" // Debian package sword-text-kjv
	DefaultTgtModule = "spaRV1909eb"  // Debian package sword-text-sparv
	debianPackages   = "sword-text-kjv sword-text-sparv libsword-utils"
	swordCacheFormat = "v1"
)

// Verse is one verse of an exported SWORD module, markup removed.
type Verse struct {
	Key  string // "Book C:V", e.g. "Genesis 1:1"
	Text string // plain text, single-spaced
}

// Corpus is a parallel corpus split into fixed train/valid/test parts.
type Corpus struct {
	Train, Valid, Test []Pair
}

// ExportModule runs `mod2imp module` (Debian package libsword-utils) and
// returns its verses in module order (see ParseIMP). A missing mod2imp or
// module is an error that names the Debian packages to install.
func ExportModule(ctx context.Context, module string) ([]Verse, error) {
	bin, err := exec.LookPath("mod2imp")
	if err != nil {
		return nil, fmt.Errorf("sword: mod2imp not found (%w); install the Debian packages %s", err, debianPackages)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, module)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(firstLine(stderr.String()))
		return nil, fmt.Errorf("sword: mod2imp %s: %w (%s); is the module installed? install the Debian packages %s",
			module, err, msg, debianPackages)
	}
	vs, err := ParseIMP(&stdout, "mod2imp "+module)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("sword: mod2imp %s exported no verses; install the Debian packages %s", module, debianPackages)
	}
	return vs, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// ParseIMP parses SWORD's import format as mod2imp writes it: each entry
// starts with a line "$$$key" and its text follows on the next lines. Only
// verse entries "Book C:V" with C, V >= 1 are kept (module, testament, book
// and chapter headings are dropped); their text goes through StripOSIS.
// Verses whose text is empty after stripping are kept with empty Text.
func ParseIMP(r io.Reader, name string) ([]Verse, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	var out []Verse
	var key string
	var body strings.Builder
	keep := false
	flush := func() {
		if keep {
			out = append(out, Verse{Key: key, Text: StripOSIS(body.String())})
		}
		body.Reset()
	}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "$$$"); ok {
			flush()
			key, keep = k, isVerseKey(k)
			continue
		}
		if body.Len() > 0 {
			body.WriteByte(' ')
		}
		body.WriteString(line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sword: %s: line %d: %w", name, len(out)+1, err)
	}
	flush()
	return out, nil
}

// isVerseKey reports whether k looks like "Book C:V" with C, V >= 1.
func isVerseKey(k string) bool {
	i := strings.LastIndexByte(k, ' ')
	if i <= 0 {
		return false
	}
	c, v, ok := strings.Cut(k[i+1:], ":")
	if !ok {
		return false
	}
	ci, err1 := strconv.Atoi(c)
	vi, err2 := strconv.Atoi(v)
	return err1 == nil && err2 == nil && ci >= 1 && vi >= 1
}

// inlineTags are OSIS elements whose tags are removed without a space
// (their content continues the running text); any other tag becomes a space.
var inlineTags = map[string]bool{
	"w": true, "transChange": true, "divineName": true, "q": true,
	"foreign": true, "seg": true, "hi": true, "rdg": true, "name": true,
}

// StripOSIS turns one verse of OSIS/ThML markup into plain text: footnotes
// (<note>...</note>) and non-canonical titles (section headings) are
// dropped with their content, canonical titles (psalm superscriptions) are
// kept, every other tag is removed (Strong's numbers and morphology live in
// attributes, so they go with the tags), entities are unescaped, pilcrows
// removed, and whitespace collapsed to single spaces.
func StripOSIS(s string) string {
	var b strings.Builder
	skipName, skipDepth := "", 0
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			i = len(s)
		}
		if skipDepth == 0 {
			b.WriteString(s[:i])
		}
		s = s[i:]
		if s == "" {
			break
		}
		j := strings.IndexByte(s, '>')
		if j < 0 { // unterminated tag: keep as text
			if skipDepth == 0 {
				b.WriteString(s)
			}
			break
		}
		tag := s[1:j]
		s = s[j+1:]
		closing := strings.HasPrefix(tag, "/")
		selfClosing := strings.HasSuffix(tag, "/")
		name := strings.TrimPrefix(tag, "/")
		if k := strings.IndexAny(name, " \t/"); k >= 0 {
			name = name[:k]
		}
		if skipDepth > 0 {
			if name == skipName && !selfClosing {
				if closing {
					skipDepth--
				} else {
					skipDepth++
				}
			}
			continue
		}
		if !closing && !selfClosing && (name == "note" || (name == "title" && !strings.Contains(tag, `canonical="true"`))) {
			skipName, skipDepth = name, 1
			b.WriteByte(' ')
			continue
		}
		if !inlineTags[name] {
			b.WriteByte(' ')
		}
	}
	t := html.UnescapeString(b.String())
	t = strings.ReplaceAll(t, "¶", " ")
	return strings.Join(strings.Fields(t), " ")
}

// AlignVerses joins two verse lists on their keys, in the order of src, and
// drops pairs where either side is empty or missing.
func AlignVerses(src, tgt []Verse) (pairs []Pair, keys []string) {
	byKey := make(map[string]string, len(tgt))
	for _, v := range tgt {
		byKey[v.Key] = v.Text
	}
	for _, v := range src {
		t, ok := byKey[v.Key]
		if !ok || v.Text == "" || t == "" {
			continue
		}
		pairs = append(pairs, Pair{Src: v.Text, Tgt: t})
		keys = append(keys, v.Key)
	}
	return pairs, keys
}

// SplitOf assigns a verse key to "train", "valid" or "test" by a fixed hash
// (FNV-1a 64 of "gap-sword-split:"+key, modulo 1000: 0..31 valid, 32..63
// test, the rest train), so the split does not depend on order or on
// which other verses exist.
func SplitOf(key string) string {
	h := fnv.New64a()
	h.Write([]byte("gap-sword-split:" + key))
	switch r := h.Sum64() % 1000; {
	case r < 32:
		return "valid"
	case r < 64:
		return "test"
	}
	return "train"
}

// LoadSWORD returns the default English-Spanish corpus built from the SWORD
// modules src and tgt (DefaultSrcModule, DefaultTgtModule when empty):
// both modules exported with mod2imp, stripped, joined on the verse key,
// empty pairs dropped, split by SplitOf. The result is cached as
// train.tsv, valid.tsv and test.tsv under cacheDir/sword-<src>-<tgt>-v1/
// (written to temporary files and renamed); a later call reads the cache.
// An empty cacheDir disables caching.
func LoadSWORD(ctx context.Context, cacheDir, src, tgt string) (*Corpus, error) {
	if src == "" {
		src = DefaultSrcModule
	}
	if tgt == "" {
		tgt = DefaultTgtModule
	}
	var dir string
	if cacheDir != "" {
		dir = filepath.Join(cacheDir, fmt.Sprintf("sword-%s-%s-%s", src, tgt, swordCacheFormat))
		c, err := readCorpusCache(dir)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			slog.Warn("sword corpus cache unreadable; rebuilding", "dir", dir, "err", err)
		}
	}
	sv, err := ExportModule(ctx, src)
	if err != nil {
		return nil, err
	}
	tv, err := ExportModule(ctx, tgt)
	if err != nil {
		return nil, err
	}
	pairs, keys := AlignVerses(sv, tv)
	c := &Corpus{}
	for i, p := range pairs {
		switch SplitOf(keys[i]) {
		case "valid":
			c.Valid = append(c.Valid, p)
		case "test":
			c.Test = append(c.Test, p)
		default:
			c.Train = append(c.Train, p)
		}
	}
	if dir != "" {
		if err := writeCorpusCache(dir, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

var splitNames = []string{"train", "valid", "test"}

func (c *Corpus) split(name string) *[]Pair {
	switch name {
	case "train":
		return &c.Train
	case "valid":
		return &c.Valid
	}
	return &c.Test
}

func readCorpusCache(dir string) (*Corpus, error) {
	c := &Corpus{}
	for _, s := range splitNames {
		p, err := ReadTSV(filepath.Join(dir, s+".tsv"))
		if err != nil {
			return nil, err
		}
		*c.split(s) = p
	}
	return c, nil
}

func writeCorpusCache(dir string, c *Corpus) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sword cache: %w", err)
	}
	// test.tsv is written last, so a cache that has it is complete.
	for _, s := range splitNames {
		var buf bytes.Buffer
		if err := WriteTSV(&buf, *c.split(s)); err != nil {
			return fmt.Errorf("sword cache %s: %w", s, err)
		}
		if err := WriteFileAtomic(filepath.Join(dir, s+".tsv"), buf.Bytes()); err != nil {
			return fmt.Errorf("sword cache: %w", err)
		}
	}
	return nil
}

// WriteFileAtomic writes data to path atomically: a synced temporary file
// in path's folder renamed over path (package atomicfile), so readers never
// see a partial file.
func WriteFileAtomic(path string, data []byte) error {
	return atomicfile.WriteBytes(path, data)
}

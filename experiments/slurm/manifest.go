package slurm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Task is one unit of work: one array element.
type Task struct {
	// ID names the task: unique in a plan, stable across resubmissions (the run
	// id, say). Letters, digits and . _ - + = @ : / only; a slash becomes "__"
	// in the task's file names.
	ID string `json:"id"`
	// Argv is the exact command line, program first (an absolute path that
	// every node can run, such as the submitting gap binary).
	Argv []string `json:"argv"`
	// Outputs are files that exist once the task has finished (relative paths
	// are taken from the results folder). With none, a task is done when its
	// last attempt exited 0.
	Outputs []string `json:"outputs,omitempty"`
	// DoneIfAny are files any one of which means the task need not run, even
	// when its own Outputs are gone: a P-GaP stage is done once its run's
	// final result exists, though the run then deletes its checkpoints.
	DoneIfAny []string `json:"done_if_any,omitempty"`
}

// checkID reports whether id can name a task.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty task id")
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("._-+=@:/", r):
		default:
			return fmt.Errorf("task id %q: character %q not allowed (letters, digits and . _ - + = @ : / only)", id, r)
		}
	}
	if strings.HasPrefix(id, ".") || strings.HasPrefix(id, "/") || strings.Contains(id, "..") {
		return fmt.Errorf("task id %q: must not start with '.' or '/' or contain '..'", id)
	}
	return nil
}

// fileName is the name of a task's files: its id with "/" spelled "__".
// task.sh computes the same name with ${id//\//__}.
func fileName(id string) string { return strings.ReplaceAll(id, "/", "__") }

// safeWord is true for a word the shell reads back unchanged without quotes.
func safeWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_./=:,+@%-", r):
		default:
			return false
		}
	}
	return true
}

// quote writes argv as POSIX shell words: bare when safe, else in single
// quotes, a quote inside written as quote, backslash-quote, quote.
func quote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		if safeWord(a) {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// unquote splits what quote wrote back into words. It reads bare words,
// single-quoted strings and backslash escapes outside quotes, which is all
// quote writes.
func unquote(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote at byte %d", i)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
			cur.WriteByte(s[i+1])
			i++
			inWord = true
		case strings.IndexByte("\"$`;&|<>(){}*?[]#~!\t", c) >= 0:
			return nil, fmt.Errorf("unquoted %q at byte %d", c, i)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// manifestLine is one task's manifest line, without the newline.
func manifestLine(t Task) (string, error) {
	if err := checkID(t.ID); err != nil {
		return "", err
	}
	if len(t.Argv) == 0 {
		return "", fmt.Errorf("task %s: empty argv", t.ID)
	}
	for _, a := range t.Argv {
		if strings.ContainsAny(a, "\n\r\x00") {
			return "", fmt.Errorf("task %s: argument %q holds a newline or NUL", t.ID, a)
		}
	}
	return t.ID + "\t" + quote(t.Argv), nil
}

// WriteManifest writes tasks to path, one line per task in array-index order
// ("ID<TAB>argv as shell words"), atomically: a temp file in the same folder,
// synced, then renamed.
func WriteManifest(path string, tasks []Task) error {
	var b bytes.Buffer
	for _, t := range tasks {
		line, err := manifestLine(t)
		if err != nil {
			return fmt.Errorf("manifest %s: %w", path, err)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return writeAtomic(path, b.Bytes(), 0o644)
}

// ReadManifest reads a manifest WriteManifest wrote; the task of array index
// i is element i. Outputs are not in a manifest (see plan.json).
func ReadManifest(path string) ([]Task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	var tasks []Task
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		id, cmd, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("manifest %s line %d: expected ID<TAB>argv, found no tab", path, n)
		}
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("manifest %s line %d: %w", path, n, err)
		}
		argv, err := unquote(cmd)
		if err != nil {
			return nil, fmt.Errorf("manifest %s line %d: argv: %w", path, n, err)
		}
		if len(argv) == 0 {
			return nil, fmt.Errorf("manifest %s line %d: task %s has an empty argv", path, n, id)
		}
		tasks = append(tasks, Task{ID: id, Argv: argv})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return tasks, nil
}

// writeAtomic writes data to path through a synced temp file and a rename, so
// readers see the old file or the new one, never a part.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

package results

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Machine describes the machine the process runs on, e.g.
// "AMD EPYC 7B13, 2 cores, linux/amd64". The CPU model comes from
// /proc/cpuinfo where it exists.
func Machine() string {
	cpu := cpuModel("/proc/cpuinfo")
	if cpu == "" {
		cpu = "unknown CPU"
	}
	return fmt.Sprintf("%s, %d cores, %s/%s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

// cpuModel returns the first "model name" (x86) or "Model"/"Hardware"
// (ARM) value of a cpuinfo file, or "".
func cpuModel(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var fallback string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.Join(strings.Fields(v), " ")
		switch k {
		case "model name":
			return v
		case "Model", "Hardware", "cpu model":
			if fallback == "" {
				fallback = v
			}
		}
	}
	return fallback
}

// GitCommit returns the commit checked out in the git work tree that
// contains dir, read from .git/HEAD and the refs, with "-dirty" appended
// when `git status` (if git is installed) reports changes to tracked files.
// It returns "unknown" outside a repository or before the first commit.
func GitCommit(dir string) string {
	gitDir, top := findGitDir(dir)
	if gitDir == "" {
		return "unknown"
	}
	commit := headCommit(gitDir)
	if commit == "" {
		return "unknown"
	}
	if dirty(top) {
		commit += "-dirty"
	}
	return commit
}

// findGitDir walks up from dir to the folder holding .git and returns the
// git directory (following a "gitdir:" file) and the work tree root.
func findGitDir(dir string) (gitDir, top string) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	for {
		p := filepath.Join(d, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return p, d
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", ""
			}
			if g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:"); ok {
				g = strings.TrimSpace(g)
				if !filepath.IsAbs(g) {
					g = filepath.Join(d, g)
				}
				return g, d
			}
			return "", ""
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ""
		}
		d = parent
	}
}

// headCommit resolves HEAD to a commit hash, or "".
func headCommit(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return ""
	}
	head := strings.TrimSpace(string(b))
	ref, ok := strings.CutPrefix(head, "ref:")
	if !ok {
		return head // detached HEAD
	}
	ref = strings.TrimSpace(ref)
	// Worktrees keep refs in the common dir.
	dirs := []string{gitDir}
	if c, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		cd := strings.TrimSpace(string(c))
		if !filepath.IsAbs(cd) {
			cd = filepath.Join(gitDir, cd)
		}
		dirs = append(dirs, cd)
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(b))
		}
		if h := packedRef(filepath.Join(d, "packed-refs"), ref); h != "" {
			return h
		}
	}
	return ""
}

func packedRef(path, ref string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		h, r, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && r == ref {
			return h
		}
	}
	return ""
}

// dirty reports whether tracked files differ from HEAD; false when git is
// not installed or takes longer than two seconds.
func dirty(top string) bool {
	git, err := exec.LookPath("git")
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, git, "-C", top, "status", "--porcelain", "--untracked-files=no").Output()
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// Stamp fills the provenance fields of r: Commit, Machine and GoVersion.
// The commit is the one the running binary was built from when Go embedded
// it (with "-dirty" when the tree had uncommitted changes), so a tree edited
// while a long table runs does not change what its runs record; a binary
// without that information (go test, go run, -buildvcs=false) records the
// commit of the work tree that holds repoDir.
func (r *Run) Stamp(repoDir string) { r.StampCommit("", repoDir) }

// StampCommit is Stamp with the commit the caller knows its binary was built
// from (the gap CLI gets it from the Makefile's -ldflags); "" falls back as
// Stamp does.
func (r *Run) StampCommit(commit, repoDir string) {
	r.Commit = commit
	if r.Commit == "" {
		r.Commit = BuildCommit()
	}
	if r.Commit == "" {
		r.Commit = GitCommit(repoDir)
	}
	r.Machine = Machine()
	r.GoVersion = runtime.Version()
}

// BuildCommit is the VCS revision embedded in the running binary by go build
// ("-dirty" appended when the tree was modified), or "" when there is none.
func BuildCommit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}

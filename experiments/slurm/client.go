package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Client runs the Slurm commands. Its zero value finds sbatch, squeue,
// scontrol and scancel on PATH; the fields name other programs (tests use
// stand-ins). Env, when set, is added to the commands' environment.
type Client struct {
	Sbatch, Squeue, Scontrol, Scancel string
	Env                               []string
}

func pick(name, override string) string {
	if override != "" {
		return override
	}
	return name
}

// CommandError is a Slurm command that failed: the command line, what it
// printed on stderr and a hint at the usual cause.
type CommandError struct {
	Argv   []string
	Stderr string
	Err    error
	Hint   string
}

// Error is the command line, the failure, Slurm's message and the hint.
func (e *CommandError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Argv, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap returns the underlying failure (ErrNoSlurm, ErrController, an exit status).
func (e *CommandError) Unwrap() error { return e.Err }

// ErrNoSlurm is wrapped by the error of a command that is not on PATH.
var ErrNoSlurm = errors.New("Slurm client command not found")

// ErrController is wrapped by the error of a command that could not reach
// slurmctld.
var ErrController = errors.New("Slurm controller unreachable")

// hint names the usual cause of a Slurm error message.
func hint(stderr string) (string, error) {
	s := strings.ToLower(stderr)
	switch {
	case strings.Contains(s, "unable to contact slurm controller"), strings.Contains(s, "connection refused"),
		strings.Contains(s, "socket timed out"), strings.Contains(s, "zero bytes were transmitted"):
		return "slurmctld is down or unreachable: check `scontrol ping` and SLURM_CONF", ErrController
	case strings.Contains(s, "invalid partition"):
		return "no such partition: `sinfo -s` lists them", nil
	case strings.Contains(s, "invalid job array specification"):
		return "an array index is over the cluster's limit, MaxArraySize-1 (`scontrol show config | grep MaxArraySize`): submit fewer tasks at a time or raise it", nil
	case strings.Contains(s, "memory specification can not be satisfied"), strings.Contains(s, "requested node configuration is not available"):
		return "no node has the CPUs or memory asked for: lower -cpus-per-task or -mem", nil
	case strings.Contains(s, "job dependency problem"):
		return "a job this one depends on is gone from the controller", nil
	case strings.Contains(s, "time limit"):
		return "the -time asked for is over the partition's MaxTime", nil
	}
	return "", nil
}

// run runs a Slurm command and returns its stdout; a failure is a
// *CommandError naming the command and its stderr.
func (c *Client) run(ctx context.Context, argv []string) ([]byte, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, &CommandError{Argv: argv, Err: fmt.Errorf("%w: %v", ErrNoSlurm, err),
			Hint: "run this on a Slurm login node, or install the Slurm client (Debian: slurm-client) and set SLURM_CONF"}
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	if err := cmd.Run(); err != nil {
		h, kind := hint(stderr.String())
		if kind != nil {
			err = fmt.Errorf("%w: %v", kind, err)
		}
		return stdout.Bytes(), &CommandError{Argv: argv, Stderr: stderr.String(), Err: err, Hint: h}
	}
	return stdout.Bytes(), nil
}

// parseJobID reads sbatch --parsable output: "ID" or "ID;CLUSTER".
func parseJobID(out []byte) (string, error) {
	s := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 { // warnings may come first
		s = s[i+1:]
	}
	id, _, _ := strings.Cut(s, ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("sbatch --parsable printed %q, expected a job id", strings.TrimSpace(string(out)))
	}
	return id, nil
}

// squeueFormat is the squeue -o format QueueEntry parsing expects: array job
// id, array index, state, reason, job id.
const squeueFormat = "%F|%K|%T|%r|%A"

// QueueEntry is one line of squeue -r: a job or one array element.
type QueueEntry struct {
	ArrayJob string // %F: the array's job id (the job's own id when not an array)
	Index    int    // %K: the array index, -1 when not an array element
	State    string // %T: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
	Reason   string // %r: why pending, or None
	JobID    string // %A: the element's own job id
}

// Key is "ARRAYJOB_INDEX", Slurm's name for an array element.
func (e QueueEntry) Key() string { return e.ArrayJob + "_" + strconv.Itoa(e.Index) }

// Active is true while the element is queued, running or being requeued.
func (e QueueEntry) Active() bool {
	switch e.State {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
		"REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT":
		return true
	}
	return false
}

// ParseQueue parses squeue -h -r -o '%F|%K|%T|%r|%A' output. A pending
// array line that squeue did not expand ("4-9%2") yields one entry per index.
func ParseQueue(out []byte) ([]QueueEntry, error) {
	var entries []QueueEntry
	for n, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 5 {
			return nil, fmt.Errorf("squeue output line %d %q: expected 5 fields ARRAYJOB|INDEX|STATE|REASON|JOBID", n+1, line)
		}
		e := QueueEntry{ArrayJob: f[0], State: f[2], Reason: f[3], JobID: f[4]}
		if f[1] == "N/A" {
			e.Index = -1
			entries = append(entries, e)
			continue
		}
		idx, err := expandIndices(f[1])
		if err != nil {
			return nil, fmt.Errorf("squeue output line %d %q: array index: %w", n+1, line, err)
		}
		for _, i := range idx {
			e.Index = i
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// expandIndices reads an array index list: "7", "0-3", "[0-3,8]%2".
func expandIndices(s string) ([]int, error) {
	s = strings.TrimPrefix(s, "[")
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, "]")
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("%q is not an index", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not an index range", part)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// Queue asks squeue for the given jobs (array job ids), one entry per array
// element, finished ones included while the controller remembers them
// (MinJobAge). Jobs the controller has forgotten are simply absent.
func (c *Client) Queue(ctx context.Context, jobIDs []string) ([]QueueEntry, error) {
	if len(jobIDs) == 0 {
		return nil, nil
	}
	argv := []string{pick("squeue", c.Squeue), "-h", "-r", "-t", "all", "-o", squeueFormat, "-j", strings.Join(jobIDs, ",")}
	out, err := c.run(ctx, argv)
	if err != nil {
		var ce *CommandError
		// squeue fails when none of the ids is known any more: nothing queued.
		if errors.As(err, &ce) && strings.Contains(ce.Stderr, "Invalid job id specified") {
			return nil, nil
		}
		return nil, err
	}
	return ParseQueue(out)
}

// Cancel cancels jobs or array elements ("123", "123_4").
func (c *Client) Cancel(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := c.run(ctx, append([]string{pick("scancel", c.Scancel)}, ids...))
	return err
}

// Config returns one value of `scontrol show config` (MaxArraySize, say).
func (c *Client) Config(ctx context.Context, key string) (string, error) {
	out, err := c.run(ctx, []string{pick("scontrol", c.Scontrol), "show", "config"})
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("scontrol show config: no %s", key)
}

// Ping asks `scontrol ping` whether slurmctld answers. It returns quickly
// either way, where squeue and sbatch retry a dead controller for 10-20 s.
func (c *Client) Ping(ctx context.Context) error {
	argv := []string{pick("scontrol", c.Scontrol), "ping"}
	out, err := c.run(ctx, argv)
	if err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && strings.Contains(string(out), "DOWN") {
			first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n") // not the banner below it
			ce.Stderr = strings.TrimSpace(first + "\n" + ce.Stderr)
			ce.Err = fmt.Errorf("%w: %v", ErrController, ce.Err)
			ce.Hint = "slurmctld is down or unreachable: check that it runs and that SLURM_CONF names its config"
		}
		return err
	}
	if !strings.Contains(string(out), "UP") {
		return &CommandError{Argv: argv, Stderr: string(out), Err: fmt.Errorf("%w: no controller reported UP", ErrController)}
	}
	return nil
}

package results

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// arrowJSVersion is the npm apache-arrow version the interop test reads
// run files with (a second, independent Arrow implementation).
const arrowJSVersion = "21.2.0"

const readScript = `
const fs = require('fs');
const { tableFromIPC } = require('apache-arrow');
const t = tableFromIPC(fs.readFileSync(process.argv[2]));
const out = { rows: t.numRows, fields: t.schema.fields.map(f => f.name + ':' + f.type.toString()),
  metadata: Object.fromEntries(t.schema.metadata), final: {}, layers: [], meta: {} };
for (const r of t) {
  const sec = r.section;
  if (sec === 'final') out.final[r.name] = r.value;
  if (sec === 'layer') out.layers.push([r.name, r.partition, String(r.count), String(r.total)]);
  if (sec === 'meta' && r.text !== null) out.meta[r.name] = r.text;
  if (sec === 'meta' && r.name === 'seed') out.seed = String(r.count);
}
console.log(JSON.stringify(out));
`

// installArrowJS installs apache-arrow under the user cache folder once and
// returns its node_modules folder, or skips the test.
func installArrowJS(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("interop test needs %s on PATH: %v", tool, err)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no user cache folder: %v", err)
	}
	prefix := filepath.Join(cache, "gap-harness", "apache-arrow-"+arrowJSVersion)
	mods := filepath.Join(prefix, "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "apache-arrow", "package.json")); err == nil {
		return mods
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, "apache-arrow@"+arrowJSVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm install apache-arrow@%s failed (offline?): %v\n%s", arrowJSVersion, err, out)
	}
	return mods
}

func TestArrowJSInterop(t *testing.T) {
	mods := installArrowJS(t)
	dir := t.TempDir()
	r := sampleRun("interop")
	path, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "read.js")
	if err := os.WriteFile(script, []byte(readScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, path)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node reading %s: %v\n%s", path, err, exitStderr(err))
	}
	var got struct {
		Rows     int
		Fields   []string
		Metadata map[string]string
		Final    map[string]float64
		Layers   [][]any
		Meta     map[string]string
		Seed     string
	}
	// Infinity is not JSON; the script prints null for it.
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %s: %v", out, err)
	}
	if want := len(rows(r)); got.Rows != want {
		t.Errorf("arrow-js rows = %d, want %d", got.Rows, want)
	}
	if len(got.Fields) != numCols || got.Fields[0] != "run_id:Utf8" || got.Fields[colValue] != "value:Float64" {
		t.Errorf("arrow-js fields = %v", got.Fields)
	}
	if got.Metadata["gap.format"] != "gap-run" || got.Metadata["gap.format_version"] != strconv.Itoa(FormatVersion) || got.Metadata["gap.run_id"] != "interop" {
		t.Errorf("arrow-js metadata = %v", got.Metadata)
	}
	for _, k := range []string{"top1", "top5", "loss", "tiny"} {
		if got.Final[k] != r.Final[k] {
			t.Errorf("arrow-js final[%s] = %v, want %v", k, got.Final[k], r.Final[k])
		}
	}
	if len(got.Layers) != len(r.Layers) {
		t.Fatalf("arrow-js layers = %v", got.Layers)
	}
	for i, l := range r.Layers {
		g := got.Layers[i]
		if g[0] != l.Name || g[1] != float64(l.Partition) || g[2] != strconv.FormatInt(l.Nonzero, 10) || g[3] != strconv.FormatInt(l.Params, 10) {
			t.Errorf("arrow-js layer %d = %v, want %+v", i, g, l)
		}
	}
	if got.Meta["row"] != r.Row || got.Meta["method"] != "cgap" || got.Seed != "-3" {
		keys := make([]string, 0, len(got.Meta))
		for k := range got.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("arrow-js meta row=%q method=%q seed=%q (keys %v)", got.Meta["row"], got.Meta["method"], got.Seed, keys)
	}
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

#!/usr/bin/python3
"""Random-kill sweep for `gap reproduce`.

Runs a table once without interruption (the reference), then for each
trial starts the same command in a fresh results folder, SIGKILLs its whole
process group (P-GaP branch processes included) at random moments, starts
it again, and after the last kill lets it finish. Every run file of the
trial is then compared with the reference row by row (scripts/torture/
arrowrows: all columns, floats by their bits; only the wall-clock meta
fields wall_seconds, started and finished are left out).

After each trial, --delete runs lose their .arrow file and a random half
of their checkpoint files (the documented way to re-run part of a run);
the table is run again and those runs are compared once more.

The CLI is used as a black box: nothing here depends on how the runner
checkpoints.

Usage: scripts/torture/killsweep.py --gap bin/gap --arrowrows bin/arrowrows
       [--table imagenet] [--profile smoke] [--trials 20] [--kills 1-3]
       [--seed 1] [--work DIR] [--reference DIR]

Prints one line per trial and per differing run, then the totals; exits 1
when any resumed run differs or a resumed command fails.
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def start(gap, table, profile, results, log):
    # cwd outside any git work tree: a binary without build information
    # records the commit of its working folder, which edits would change.
    # -keep-checkpoints: finished runs keep their stage checkpoints, so the
    # delete step below can remove some of them (the way to re-run part of a
    # run) and not only whole results.
    return subprocess.Popen([gap, "reproduce", "-table", table, "-profile", profile, "-results", results, "-keep-checkpoints"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=os.path.dirname(results))


def run_to_end(gap, table, profile, results, log):
    p = start(gap, table, profile, results, log)
    return p.wait()


def rows(arrowrows, path):
    out = subprocess.run([arrowrows, path], capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return out.stdout.splitlines(), ""


def run_files(results, table):
    d = os.path.join(results, table)
    if not os.path.isdir(d):
        return {}
    return {f: os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".arrow")}


def row_key(line):
    """section:name of a dumped row, to say where two run files differ."""
    cells = dict(c.split("=", 1) for c in line.split("\t") if "=" in c)
    return cells.get("section", "?").strip('"') + ":" + cells.get("name", "?").strip('"')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gap", default="bin/gap")
    ap.add_argument("--arrowrows", default="bin/arrowrows")
    ap.add_argument("--table", default="imagenet")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--kills", default="1-3", help="kills per trial, MIN-MAX")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="")
    ap.add_argument("--reference", default="", help="results folder of an uninterrupted run to reuse")
    ap.add_argument("--delete", type=int, default=3,
                    help="after each trial, delete this many runs' .arrow files and a random part of their checkpoint folders, rerun, compare again")
    a = ap.parse_args()
    gap, arrowrows = os.path.abspath(a.gap), os.path.abspath(a.arrowrows)
    for exe in (gap, arrowrows):
        if not os.access(exe, os.X_OK):
            sys.exit(f"killsweep.py: {exe} is not an executable (make build; go build -o bin/arrowrows ./scripts/torture/arrowrows)")
    kmin, kmax = (int(x) for x in a.kills.split("-"))
    rng = random.Random(a.seed)
    work = a.work or tempfile.mkdtemp(prefix="gap-killsweep-")
    os.makedirs(work, exist_ok=True)
    log = open(os.path.join(work, "gap.log"), "ab")
    # A private copy: rebuilding bin/gap during the sweep (its build
    # information is recorded in every run) must not change the binary.
    private = os.path.join(work, "gap")
    shutil.copy2(gap, private)
    gap = private

    ref = a.reference
    if not ref:
        ref = os.path.join(work, "reference")
        t0 = time.monotonic()
        rc = run_to_end(gap, a.table, a.profile, ref, log)
        ref_wall = time.monotonic() - t0
        if rc != 0:
            sys.exit(f"killsweep.py: the uninterrupted reference run failed (exit {rc}); see {work}/gap.log")
    else:
        ref_wall = float(os.environ.get("GAP_REF_WALL", "120"))
    ref_files = run_files(ref, a.table)
    if not ref_files:
        sys.exit(f"killsweep.py: no run files in {ref}/{a.table}")
    ref_rows = {}
    for f, p in ref_files.items():
        r, err = rows(arrowrows, p)
        if r is None:
            sys.exit(f"killsweep.py: reference {p}: {err}")
        ref_rows[f] = r
    print(f"reference: {len(ref_files)} runs, {ref_wall:.0f} s", flush=True)

    total_runs = differing = failed = kills_done = deleted_runs = deleted_differ = 0
    for trial in range(a.trials):
        results = os.path.join(work, f"trial-{trial}")
        shutil.rmtree(results, ignore_errors=True)
        nk = rng.randint(kmin, kmax)
        killed_at = []
        for _ in range(nk):
            p = start(gap, a.table, a.profile, results, log)
            delay = rng.uniform(0.5, 0.9 * ref_wall / nk)
            try:
                p.wait(timeout=delay)
                break  # finished before the kill
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                killed_at.append(round(delay, 1))
                kills_done += 1
        rc = run_to_end(gap, a.table, a.profile, results, log)
        files = run_files(results, a.table)
        diffs = []
        for f in sorted(set(ref_files) | set(files)):
            total_runs += 1
            if f not in files or f not in ref_files:
                diffs.append(f"{f}: {'missing' if f not in files else 'extra'}")
                continue
            r, err = rows(arrowrows, files[f])
            if r is None:
                diffs.append(f"{f}: unreadable: {err}")
                continue
            if r != ref_rows[f]:
                changed = sorted({row_key(x) for x in set(r) ^ set(ref_rows[f])})
                diffs.append(f"{f}: differs in {', '.join(changed[:8]) or 'row order'}{' ...' if len(changed) > 8 else ''}")
        differing += len(diffs)
        if rc != 0:
            failed += 1
        print(f"trial {trial}: kills at {killed_at} s, resume exit {rc}, {len(files)} runs, {len(diffs)} differ", flush=True)
        for d in diffs:
            print(f"  {d}", flush=True)
        # The documented way to re-run part of a run: delete its result and
        # some of its checkpoints, run the table again.
        if a.delete > 0 and files:
            victims = rng.sample(sorted(files), min(a.delete, len(files)))
            removed = []
            for f in victims:
                os.remove(files[f])
                ck = os.path.join(results, a.table, "ckpt", f[: -len(".arrow")])
                if os.path.isdir(ck):
                    for c in sorted(os.listdir(ck)):
                        if rng.random() < 0.5:
                            os.remove(os.path.join(ck, c))
                            removed.append(c)
            rc = run_to_end(gap, a.table, a.profile, results, log)
            files = run_files(results, a.table)
            ddiffs = []
            for f in victims:
                deleted_runs += 1
                r, err = (rows(arrowrows, files[f]) if f in files else (None, "missing after the rerun"))
                if r is None:
                    ddiffs.append(f"{f}: {err}")
                elif r != ref_rows[f]:
                    changed = sorted({row_key(x) for x in set(r) ^ set(ref_rows[f])})
                    ddiffs.append(f"{f}: differs in {', '.join(changed[:8])}")
            deleted_differ += len(ddiffs)
            if rc != 0:
                failed += 1
            print(f"trial {trial}: deleted {len(victims)} results and checkpoints {removed}, rerun exit {rc}, {len(ddiffs)} differ", flush=True)
            for d in ddiffs:
                print(f"  {d}", flush=True)
        shutil.rmtree(results, ignore_errors=True)
    print(f"killsweep: {a.trials} trials, {kills_done} SIGKILLs, {total_runs} resumed runs compared, "
          f"{differing} differ from the uninterrupted run; {deleted_runs} runs re-run after deleting their result "
          f"and checkpoints, {deleted_differ} differ; {failed} commands failed", flush=True)
    return 1 if differing or deleted_differ or failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Two versions of the stack compared in alternating runs, on a machine whose speed drifts.

    .venv/bin/python -m bench.ab BASE [CHANGED] [--pairs 6] [--flows 100]

On a shared 2-CPU machine the hour moves every figure by up to a third, so two
versions measured an hour apart say more about the hour than about the code. This
runs them in turn, `pairs` times (BASE first in odd pairs, CHANGED first in even
ones, so a drift within a pair does not always fall on the same side), each from its
own git worktree with its own bench code:
- `bench.flow_cost` in process: the CPU time of the AS's side of a flow;
- the three services under gunicorn, as `make bench` starts them, `flows` flows at
  concurrency 1: each service's CPU a flow and the flow's p50 without the login POST.
For each figure it prints both versions' medians, the change, and in how many pairs
CHANGED read lower: a change worth keeping is lower in (nearly) every pair.

BASE and CHANGED are committed git revisions (CHANGED defaults to HEAD: commit what
you want measured); both need `flow_cost`'s CPU column. Both run with this checkout's
virtualenv, so the packages are the same on both sides.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run inside a version's worktree: that version's stack, started and measured by its own bench.run.
GUNICORN_RUN = """
import json, shutil, sys, tempfile
from pathlib import Path
from bench import run
workdir = Path(tempfile.mkdtemp(prefix="bench-ab-stack-"))
stack = {}
try:
    stack = run.start_stack(workdir, rate_limit=10**9)
    for _ in range(5):
        run.full_flow(stack)  # warm-up: connections, caches, compiled statements
    print(json.dumps(run.measure_flows(stack, 1, int(sys.argv[1]))))
finally:
    for service in stack.values():
        service.stop()
    shutil.rmtree(workdir, ignore_errors=True)
"""


def flow_cost_cpu(worktree, flows):
    """The CPU ms of the AS's side of one flow, in process (bench.flow_cost's whole-flow line)."""
    out = run_in(worktree, ["-m", "bench.flow_cost", str(flows)])
    found = re.search(r"^the whole flow\s+\d+\s+(\d+)$", out, re.MULTILINE)
    if found is None:
        raise SystemExit(f"{worktree.name}: bench.flow_cost has no CPU column (older than bench/ab.py)")
    return int(found.group(1)) / 1000


def gunicorn_figures(worktree, flows):
    """Each service's CPU ms a flow, and the flow's p50 without the login POST, under gunicorn."""
    result = json.loads(run_in(worktree, ["-c", GUNICORN_RUN, str(flows)]).strip().splitlines()[-1])
    figures = {f"{name} CPU ms": ms for name, ms in result["cpu_ms_per_flow"].items() if name != "browser"}
    figures["flow p50 w/o login POST ms"] = result["p50_without_login_post_ms"]
    return figures


def run_in(worktree, args):
    """Run this Python in a version's worktree (its code on the path); its output.

    In a process group of its own, killed when it ends: whether it finished, failed,
    hung or was interrupted, no gunicorn service it started is left running.
    """
    child = subprocess.Popen([sys.executable, *args], cwd=worktree, env={**os.environ, "PYTHONPATH": str(worktree)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=900)
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the group is already empty: everything stopped by itself
        child.wait()
    if child.returncode != 0:
        raise SystemExit(f"{worktree.name}: {' '.join(args[:2])} failed:\n{err[-2000:]}")
    return out


def compare(runs):
    """{figure: (base median, changed median, change %, pairs where changed is lower, pairs)}."""
    table = {}
    for figure in runs[0][0]:
        base = [pair[0][figure] for pair in runs]
        changed = [pair[1][figure] for pair in runs]
        base_median, changed_median = statistics.median(base), statistics.median(changed)
        table[figure] = (base_median, changed_median, (changed_median / base_median - 1) * 100,
                         sum(after < before for before, after in zip(base, changed)), len(runs))
    return table


def report(table, base, changed):
    """The comparison as lines of text."""
    lines = [f"{'figure (median over pairs)':32s} {base[:16]:>16s} {changed[:16]:>16s} {'change':>9s}  lower in"]
    for figure, (before, after, change, lower, pairs) in table.items():
        lines.append(f"{figure:32s} {before:16.1f} {after:16.1f} {change:+7.0f} %  {lower}/{pairs} pairs")
    return "\n".join(lines)


def git(*args, check=True):
    """Run git in this checkout; unless check is off, SystemExit with git's own message if it fails."""
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")


def measure(worktree, flows):
    """One version's figures, once."""
    return {"AS flow in process, CPU ms": flow_cost_cpu(worktree, flows), **gunicorn_figures(worktree, flows)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("changed", nargs="?", default="HEAD")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--flows", type=int, default=100)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as folder:
        base, changed = Path(folder) / "base", Path(folder) / "changed"
        try:
            git("worktree", "add", "--detach", str(base), options.base)
            git("worktree", "add", "--detach", str(changed), options.changed)
            runs = []
            for number in range(1, options.pairs + 1):
                order = (base, changed) if number % 2 else (changed, base)
                figures = {worktree: measure(worktree, options.flows) for worktree in order}
                pair = (figures[base], figures[changed])
                runs.append(pair)
                print(f"pair {number}: " + "; ".join(
                    f"{figure} {pair[0][figure]:.1f} -> {pair[1][figure]:.1f}" for figure in pair[0]), flush=True)
            print()
            print(report(compare(runs), options.base, options.changed))
        finally:
            for worktree in (base, changed):
                git("worktree", "remove", "--force", str(worktree), check=False)
            git("worktree", "prune", check=False)


if __name__ == "__main__":
    main()

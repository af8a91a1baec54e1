"""What each request of a flow costs each service in CPU, under gunicorn: the stack beside its floors.

    .venv/bin/python -m bench.request_cpu [flows]

Starts the stack as `make bench` does, then the lean floor and the empty one
(bench/lean.py, bench/apps.py), each app wrapped in a small WSGI middleware that
reads the worker's CPU time (`time.process_time`) before and after the app answers,
and plays `flows` full flows through each (default 60). It prints two tables:
- each request's median CPU in µs, the app's own work only: not gunicorn's reading and
  writing the socket and, unlike a sampling profiler, never the time a process waits
  (on two cores a sampler also counts a process that is ready but has lost its CPU to
  the one it just woke, the server it sent a request to, as if it were working);
- a whole flow's CPU in ms: what the apps spent, what each service's processes spent
  in all (gunicorn's master and workers, from /proc), the difference (gunicorn's own
  work and the kernel's on the sockets), and the benchmark's browser (this process).
  /proc counts each process's CPU in 10 ms ticks: use 100 flows or more.
"""

import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench import run

# The flow's requests in order, each named by its service and what it does. A path's
# ids (a login's) are dropped, and the floors' shorter paths (/par, /login/<id>) match.
STEPS = (
    ("client_app", "GET /", "GET /"),
    ("client_app", "POST /login", "POST /login (with the push)"),
    ("auth_server", "POST par", "push"),
    ("auth_server", "GET authorize", "GET /authorize"),
    ("auth_server", "GET login", "login page"),
    ("auth_server", "POST login", "login POST (password check)"),
    ("auth_server", "GET consent", "consent page"),
    ("auth_server", "POST consent", "consent POST (the code)"),
    ("client_app", "GET /callback", "GET /callback (with the tokens)"),
    ("auth_server", "POST token", "token"),
    ("client_app", "GET /notes", "GET /notes (with the API call)"),
    ("notes_api", "GET /api/notes", "the API call"),
)
KINDS = ("stack", "lean", "empty")


def step_key(service, method, path):
    """The request's key in STEPS: the client's and the API's paths as they are, the AS's last word."""
    if service == "auth_server":
        named = [word for word in path.split("/") if word in ("par", "authorize", "login", "consent", "token")]
        return f"{method} {named[-1] if named else path}"
    return f"{method} {path}"


def wrapped(module, factory):
    """A gunicorn app factory: `module.factory()`, each request's CPU appended to a file per worker."""
    service = next((name for name in ("auth_server", "client_app", "notes_api") if name in f"{module}:{factory}"),
                   None)
    if service is None:
        raise SystemExit(f"bench.request_cpu measures the flow's three services, not {module}:{factory}")
    app = getattr(importlib.import_module(module), factory)()
    folder = Path(os.environ["REQUEST_CPU_DIR"])

    def middleware(environ, start_response):
        started = time.process_time()
        answer = app(environ, start_response)
        try:
            body = b"".join(answer)  # the app's whole answer, its teardown included
        finally:
            getattr(answer, "close", lambda: None)()  # WSGI: the server closes what the app returned
        cpu_us = (time.process_time() - started) * 1e6
        # A file per worker, appended to once the clock has stopped.
        with open(folder / f"{service}-{os.getpid()}.txt", "a") as record:
            record.write(f"{service}\t{environ['REQUEST_METHOD']}\t{environ['PATH_INFO']}\t{cpu_us:.0f}\n")
        return [body]

    return middleware


def measure(kind, flows, folder):
    """Play `flows` flows through one kind of stack: the median CPU µs of each step, and
    the CPU ms a flow cost (see `per_flow`)."""
    records = folder / "records"
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir()
    os.environ["REQUEST_CPU_DIR"] = str(records)
    run.APP_WRAPPER = "bench.request_cpu:wrapped"
    try:
        stack = run.start_stack(folder, rate_limit=10**9) if kind == "stack" else run.start_floor_stack(folder, kind)
    finally:
        # Whatever else this process starts, it starts as it is.
        run.APP_WRAPPER = None
        del os.environ["REQUEST_CPU_DIR"]
    try:
        for _ in range(5):  # warm-up: connections, caches, keys
            run.full_flow(stack)
        for file in records.iterdir():
            file.write_text("")
        processes_before = {name: service.cpu_seconds() for name, service in stack.items()}
        browser_before = time.process_time()
        for _ in range(flows):
            run.full_flow(stack)
        browser = time.process_time() - browser_before
        processes = {name: service.cpu_seconds() - processes_before[name] for name, service in stack.items()}
    finally:
        for service in stack.values():
            service.stop()
    costs = defaultdict(list)
    apps = 0
    for file in records.iterdir():
        for line in file.read_text().splitlines():
            service, method, path, cpu_us = line.split("\t")
            costs[(service, step_key(service, method, path))].append(int(cpu_us))
            apps += int(cpu_us)
    medians = {key: statistics.median(values) for key, values in costs.items() if len(values) >= flows / 2}
    return medians, per_flow(apps / 1e6, sum(processes.values()), browser, flows)


def per_flow(apps, processes, browser, flows):
    """Seconds over `flows` flows as ms a flow: apps, processes, the gap between them, browser.

    The gap also holds this tool's own line per request (about 13 µs), written once its
    clock has stopped.
    """
    return {label: round(seconds / flows * 1000, 1) for label, seconds in (
        ("the apps (password check included)", apps), ("the services' processes", processes),
        ("outside the apps (gunicorn, sockets)", processes - apps), ("the benchmark's browser", browser))}


def report(medians):
    """The table: a row per step, a column per kind, and the flow's total without the password check
    ("-" where a step was not seen, and then no total for that kind)."""
    lines = [f"{'request (CPU µs, median)':40s}" + "".join(f"{kind:>9s}" for kind in medians)]
    totals = dict.fromkeys(medians, 0)
    for service, key, label in STEPS:
        row = []
        for kind, found in medians.items():
            value = found.get((service, key))
            row.append(f"{value:9.0f}" if value is not None else f"{'-':>9s}")
            if value is None:
                totals[kind] = None
            elif key != "POST login" and totals[kind] is not None:
                totals[kind] += value
        lines.append(f"{service.split('_')[0] + ' ' + label:40s}" + "".join(row))
    lines.append(f"{'a flow without the password check':40s}"
                 + "".join(f"{total:9.0f}" if total is not None else f"{'-':>9s}" for total in totals.values()))
    return "\n".join(lines)


def report_per_flow(flow_costs):
    """The second table: a row per part of a flow's CPU (ms), a column per kind."""
    lines = [f"{'a flow (CPU ms)':40s}" + "".join(f"{kind:>9s}" for kind in flow_costs)]
    for label in next(iter(flow_costs.values())):
        lines.append(f"{label:40s}" + "".join(f"{costs[label]:9.1f}" for costs in flow_costs.values()))
    return "\n".join(lines)


def main(flows):
    folder = Path(tempfile.mkdtemp(prefix="parlab-request-cpu-"))
    try:
        medians, flow_costs = {}, {}
        for kind in KINDS:
            (folder / kind).mkdir()
            medians[kind], flow_costs[kind] = measure(kind, flows, folder / kind)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(report(medians))
    print()
    print(report_per_flow(flow_costs))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)

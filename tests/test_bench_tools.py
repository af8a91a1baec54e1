"""The benchmark's tools run and say what they measured: the in-process cost tools of
docs/benchmark.md, and `make bench`'s browser against the stack and the flow's floor."""

import re

from bench import flow_cost
from bench import push_cost
from bench import run


def test_flow_cost_reports_every_step(capsys):
    """bench.flow_cost: each step of a whole flow (push to tokens) with its time, statements and commits."""
    flow_cost.main(2)
    rows = dict(re.findall(r"^(\S.*?)\s{2,}(\d+ +\d+ +\d+)$", capsys.readouterr().out, re.MULTILINE))
    assert list(rows) == ["2 push", "4 /authorize", "5 login page", "5 login POST", "5 consent page",
                          "6-7 consent POST", "9 token"]
    for figures in rows.values():
        micros, statements, commits = map(int, figures.split())
        assert micros > 0 and statements > 0 and commits >= 1


def test_push_cost_reports_statements_and_commits(capsys):
    """bench.push_cost: one push's time, its statements and its one commit."""
    push_cost.main(5)
    out = capsys.readouterr().out
    assert re.search(r"5 pushes: [\d.]+ ms each, [\d.]+ SQL statements and 1\.0 commits per push", out), out


def test_the_bench_browser_runs_whole_flows_on_the_stack_and_on_its_floor(tmp_path):
    """bench.run's browser signs in through the real pages (cookies for two ports of one
    host, forms, redirects), as `make bench` measures it, and on the floor's empty views;
    each flow's CPU is counted for every service and the browser."""
    stack = run.start_stack(tmp_path, rate_limit=10**9)
    services = list(stack.values())
    try:
        floor = run.start_floor_stack(tmp_path)
        services += floor.values()
        on_stack, on_floor = run.measure_flows(stack, 1, 2), run.measure_flows(floor, 1, 2)
        for flows in (on_stack, on_floor):
            assert flows["flows"] == 2 and 0 < flows["p50_without_login_post_ms"] < flows["p50_ms"]
            assert set(flows["cpu_ms_per_flow"]) == {"auth_server", "client_app", "notes_api", "browser"}
        # The stack's AS checks alice's password (Argon2id, tens of ms); the floor's views do nothing.
        assert on_stack["cpu_ms_per_flow"]["auth_server"] > on_floor["cpu_ms_per_flow"]["auth_server"]
    finally:
        for service in services:
            service.stop()

"""The in-process cost tools of docs/benchmark.md run and say what they measured."""

import re

from bench import flow_cost
from bench import push_cost


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

"""The defence matrix's page, downloads and formats (the live run: tests/integration/test_defence_matrix.py)."""

import json
import re

import pytest

from client_app.config import PROFILE_TITLES
from client_app.lab import matrix
from client_app.lab.kit import Exchange
from client_app.lab.kit import Note


def cell(attack, profile, outcome=None, **fields):
    """A Cell as run_cell makes it; by default as expected."""
    expected = next(a for a in matrix.ROWS if a.slug == attack).expected[profile]
    return matrix.Cell(attack, profile, outcome or expected.outcome, expected.outcome, expected.why,
                       fields.get("saw", "seen"), fields.get("message", ""), fields.get("steps", []), 0.1)


def all_cells(off=None):
    """A whole matrix, as expected but for `off` {(attack, profile): outcome}."""
    off = off or {}
    return [cell(a.slug, p, off.get((a.slug, p))) for a in matrix.ROWS for p in matrix.PROFILE_NAMES]


def test_every_row_says_what_each_profile_must_show():
    """No row without an expectation per profile; the rule or the gain is always said."""
    for attack in matrix.ROWS:
        assert set(attack.expected) == set(matrix.PROFILE_NAMES), attack.slug
        for expected in attack.expected.values():
            assert expected.outcome in ("BLOCKED", "SUCCEEDED") and "RFC" in expected.why


def test_the_page_shows_every_cell_before_a_run(client, expect_page):
    """Before a run, each cell shows what it must be and why; no download is offered yet."""
    page = expect_page(client.get("/lab/matrix"), 200, "The defence matrix", "Run the matrix",
                       *PROFILE_TITLES.values())
    for attack in matrix.ROWS:
        for name in matrix.PROFILE_NAMES:
            found = re.search(rf'id="cell-{attack.slug}-{name}" data-outcome="not run" '
                              rf'data-expected="{attack.expected[name].outcome}"', page)
            assert found, (attack.slug, name)
    assert "download-md" not in page


@pytest.mark.parametrize("path", ["/lab/matrix.md", "/lab/matrix.json"])
def test_a_download_before_any_run_is_a_readable_404(client, expect_page, path):
    """Nothing to download yet: a page that says to run the matrix first."""
    expect_page(client.get(path), 404, "Run the defence matrix first")


def test_markdown_is_one_row_per_attack_and_marks_what_is_off():
    """A cell that is not as expected says so, with the outcome it should have had."""
    text = matrix.as_markdown(all_cells({("stolen-access-token", "fapi2"): "SUCCEEDED"}))
    lines = text.splitlines()
    assert lines[2] == "| attack | Classic (no PAR) | PAR | FAPI 2.0 |"
    assert len([line for line in lines if line.startswith("| ")]) == 2 + len(matrix.ROWS)
    stolen = next(line for line in lines if line.startswith("| A stolen access token"))
    assert stolen.rstrip(" |").endswith("SUCCEEDED, expected BLOCKED (RFC 9449 §7.1: the token is bound to the "
                                        "client's DPoP key (cnf.jkt); without a proof by that key it is refused). "
                                        "Saw: seen.")
    total = len(matrix.ROWS) * len(matrix.PROFILE_NAMES)
    assert lines[-1] == f"{total - 1} of {total} cells as the specs say they must be."


def test_json_holds_every_cell_with_its_steps():
    """The JSON: profiles in order, each row's cells with outcome, expectation and masked steps."""
    step = Exchange("Step 8", "POST", "http://as.test/oauth/token", [], "code=abc…", 400, "Bad Request", [], "{}")
    cells = all_cells()
    cells[0].steps = [Note("a note"), step]
    data = json.loads(matrix.as_json(cells))
    assert data["profiles"] == list(matrix.PROFILE_NAMES)
    first = data["rows"][0]["cells"]["classic"]
    assert first["as_expected"] is True
    assert first["steps"][0] == {"text": "a note", "kind": "note"}
    assert first["steps"][1]["url"] == "http://as.test/oauth/token"


def test_the_last_run_is_kept_per_browser(app):
    """keep/kept: one row per browser, the newest run wins, another browser has none."""
    with app.app_context():
        matrix.keep("browser-a", all_cells())
        matrix.keep("browser-a", all_cells({("mix-up", "par"): "COULD NOT RUN"}))
        kept = matrix.kept("browser-a")
        assert [c.outcome for c in kept if not c.as_expected] == ["COULD NOT RUN"]
        assert matrix.kept("browser-b") is None


def test_the_fapi_column_cannot_run_without_the_fapi_profile(app, client):
    """Without fapi2 in PROFILES the client has no keys: those cells say so instead of failing."""
    with app.test_request_context():
        from client_app.lab.kit import Target
        found = matrix.run_cell(matrix.ROWS[0], matrix.profiles(app.config, lab=True)["fapi2"],
                                Target(app.config), app.config)
    assert found.outcome == "COULD NOT RUN"
    assert "fapi2 profile" in found.message


def test_old_runs_and_runs_beyond_the_cap_are_deleted(app, monkeypatch):
    """A fresh cookie per run must not grow the table: a day at most, and the newest KEPT_RUNS."""
    monkeypatch.setattr(matrix, "KEPT_RUNS", 2)
    clock = {"now": 1000}
    monkeypatch.setattr(matrix, "now", lambda: clock["now"])
    with app.app_context():
        for browser in ("a", "b", "c"):
            clock["now"] += 10  # a at 1010, b at 1020, c at 1030
            matrix.keep(browser, all_cells())
        assert [matrix.kept(b) is not None for b in "abc"] == [False, True, True]
        clock["now"] = 1025 + matrix.KEPT_SECONDS  # b is more than a day old, c is not
        matrix.keep("d", all_cells())
        assert [matrix.kept(b) is not None for b in "bcd"] == [False, True, True]


def test_past_the_deadline_the_cells_left_say_why(app, monkeypatch):
    """From the page a run must end before gunicorn's timeout: the cells past the deadline are COULD NOT RUN."""
    ran = []

    def quick(attack, profile, target, config):
        ran.append((attack.slug, profile.name))
        return cell(attack.slug, profile.name)

    monkeypatch.setattr(matrix, "run_cell", quick)
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(matrix.time, "monotonic", lambda: next(clock))
    with app.test_request_context():
        from client_app.lab.kit import Target
        cells = matrix.run_matrix(Target(app.config), app.config, deadline_seconds=12)
    assert len(cells) == len(matrix.ROWS) * len(matrix.PROFILE_NAMES)
    assert 0 < len(ran) < len(cells)
    left = [c for c in cells if (c.attack, c.profile) not in ran]
    assert left and all(c.outcome == "COULD NOT RUN" and "stopped after 12 s" in c.message for c in left)

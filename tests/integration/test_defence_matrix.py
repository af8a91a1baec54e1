"""The defence matrix against the real stack: every cell comes out as the specs say.

The expected outcomes are written out here, once more, on purpose: a defence that stops
holding (a BLOCKED cell that succeeds) fails this test, and so does a weakness that
stops showing (a SUCCEEDED cell that gets blocked), whatever matrix.py then claims.
"""

import json
import re
import subprocess
import sys

import pytest

from client_app.lab.matrix import ROWS

from tests.stack import ROOT
from tests.stack import Stack
from tests.stack import csrf_token
from tests.stack import run_stack

B, S = "BLOCKED", "SUCCEEDED"
# attack: (classic, PAR, FAPI 2.0)
EXPECTED = {
    "front-channel-tampering": (S, B, B),
    "request-in-history": (S, B, B),
    "request-replay": (S, B, B),
    "stolen-access-token": (S, S, B),
    "leaked-client-secret": (S, S, B),
    "code-injection": (B, B, B),
    "mix-up": (B, B, B),
}
PROFILES = ("classic", "par", "fapi2")
# Secrets that must never reach the page or a download whole.
DEMO_SECRETS = ("notes-lab-secret", "notes-lab-classic-secret", "notes-web-secret", "notes-classic-secret")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def matrix_stack(tmp_path_factory, request):
    """A stack of its own, as `make demo` runs it (the three profiles offered)."""
    yield from run_stack(Stack(tmp_path_factory.mktemp("matrix-stack")), request)


def test_every_attack_of_the_issue_is_a_row():
    """The catalogue is the table above: no row without an expectation, none missing."""
    assert [attack.slug for attack in ROWS] == list(EXPECTED)


def test_the_command_line_prints_the_matrix_as_expected(matrix_stack):
    """`python -m client_app.lab --matrix`: every cell as the specs say, exit 0."""
    done = subprocess.run([sys.executable, "-m", "client_app.lab", "--matrix"], cwd=ROOT,
                          env=matrix_stack.env("client_app"), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"{len(EXPECTED) * 3} of {len(EXPECTED) * 3} cells as the specs say they must be." in out
    for attack in ROWS:
        outcomes = EXPECTED[attack.slug]
        assert re.search(rf"^{re.escape(attack.name[:30])}.*?{outcomes[0]}\s+{outcomes[1]}\s+{outcomes[2]}\s*$",
                         out, re.M), attack.slug
    assert "expected" not in out.split("\n\n")[1], "a cell came out otherwise than expected"
    for secret in DEMO_SECRETS:
        assert secret not in out


def test_the_page_runs_the_matrix_and_offers_both_downloads(matrix_stack):
    """POST /lab/matrix: every cell filled as expected; the Markdown and JSON are this run's."""
    import requests
    with requests.Session() as browser:
        page = browser.get(matrix_stack.client + "/lab/matrix")
        assert page.status_code == 200
        assert browser.get(matrix_stack.client + "/lab/matrix.json").status_code == 404
        ran = browser.post(matrix_stack.client + "/lab/matrix", data={"csrf_token": csrf_token(page.text)},
                           timeout=60)
        assert ran.status_code == 200, ran.text[:500]
        for slug, outcomes in EXPECTED.items():
            for profile, outcome in zip(PROFILES, outcomes):
                cell = re.search(rf'<td id="cell-{slug}-{profile}" data-outcome="([^"]+)" '
                                 rf'data-expected="([^"]+)">', ran.text)
                assert cell, f"no cell {slug}/{profile}"
                assert cell.groups() == (outcome, outcome), (slug, profile)
        assert f"{len(EXPECTED) * 3} of {len(EXPECTED) * 3} cells as the specs say" in ran.text
        markdown = browser.get(matrix_stack.client + "/lab/matrix.md")
        document = browser.get(matrix_stack.client + "/lab/matrix.json")
    assert markdown.status_code == 200 and document.status_code == 200
    assert "attachment" in document.headers["Content-Disposition"]
    assert markdown.text.startswith("# The defence matrix")
    assert markdown.text.count("\n| ") == 2 + len(EXPECTED)  # the header, its rule, a row per attack
    data = json.loads(document.text)
    assert data["profiles"] == list(PROFILES)
    for found in data["rows"]:
        assert tuple(found["cells"][p]["outcome"] for p in PROFILES) == EXPECTED[found["attack"]]
        assert all(found["cells"][p]["as_expected"] and found["cells"][p]["steps"] for p in PROFILES)
    for text in (ran.text, markdown.text, document.text):
        for secret in DEMO_SECRETS:
            assert secret not in text
        assert not JWT.search(text), "a whole JWT (token, assertion or proof) left the server"


def test_a_weakness_that_stops_showing_fails_the_matrix(tmp_path_factory, request):
    """With REQUIRE_PAR=true the classic client cannot log in: its SUCCEEDED cells no longer are, exit 1."""
    stack = Stack(tmp_path_factory.mktemp("strict-stack"), {"auth_server": {"REQUIRE_PAR": "true"}})
    for running in run_stack(stack, request):
        done = subprocess.run([sys.executable, "-m", "client_app.lab", "--matrix"], cwd=ROOT,
                              env=running.env("client_app"), capture_output=True, text=True, timeout=240)
        assert done.returncode == 1, done.stdout + done.stderr
        # Every classic cell is off (the AS refuses the classic login itself); the others hold.
        cells = len(EXPECTED) * len(PROFILES)
        assert f"{cells - len(EXPECTED)} of {cells} cells as the specs say" in done.stdout
        assert "Classic (no PAR): COULD NOT RUN" in done.stdout

"""The attack lab against the real stack: every attack is blocked, from the CLI and the page.

The lab pushes as its own client, notes-lab, registered at the AS with a 2 s
request_uri lifetime: the expiry attack waits 3 s.
"""

import html
import re
import subprocess
import sys

import pytest

from auth_server.config import Config as AuthServerConfig
from client_app.config import Config as ClientConfig
from client_app.lab.attacks import ATTACKS

from tests.stack import ROOT
from tests.stack import Stack
from tests.stack import csrf_token
from tests.stack import run_stack

# A compact JWT anywhere in a text (they all start with base64url '{"').
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# The lab client's request_uri lifetime, as the AS registers it.
LAB_LIFETIME = next(client for client in AuthServerConfig.CLIENTS
                    if client["client_id"] == ClientConfig.LAB_CLIENT_ID)["request_uri_lifetime"]


@pytest.fixture(scope="module")
def lab_stack(tmp_path_factory, request):
    """A stack of its own, as `make demo` runs it."""
    yield from run_stack(Stack(tmp_path_factory.mktemp("lab-stack")), request)


def verdict_on_page(page, slug):
    """The verdict shown in one attack's result on the lab page."""
    article = re.search(rf'<article class="result [^"]*" id="result-{slug}".*?</article>', page, re.S)
    assert article, f"no result for {slug} on the page"
    return re.search(r'<span class="verdict [^"]*">([^<]+)</span>', article.group(0)).group(1)


def test_make_attacks_blocks_every_attack(lab_stack):
    """The command line runs every attack (the slow one too) and exits 0: all blocked."""
    done = subprocess.run([sys.executable, "-m", "client_app.lab"], cwd=ROOT,
                          env=lab_stack.env("client_app"), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"{len(ATTACKS)} of {len(ATTACKS)} attacks blocked." in out
    assert f"waiting {LAB_LIFETIME + 1} s: expires_in ({LAB_LIFETIME} s) + 1" in out
    # The table: a header, then one row per attack with its verdict and section.
    assert re.search(r"^#\s+Attack\s+Blocked\?\s+Status / error\s+Section$", out, re.M)
    for number, attack in enumerate(ATTACKS, start=1):
        assert re.search(rf"^\[{number:2}\] BLOCKED\s+{re.escape(attack.name)}$", out, re.M)
        assert re.search(rf"^{number}\s+.*BLOCKED\s+.*{re.escape(attack.section.split(';')[0][:16])}",
                         out, re.M)
    assert "NOT BLOCKED" not in out and "UNEXPECTED" not in out and "COULD NOT RUN" not in out
    # The exact RFC error codes the spec prescribes are what the stack answered.
    for code in ("invalid_request_uri", "invalid_client", "invalid_grant", "invalid_token",
                 "insufficient_scope", "invalid_request"):
        assert code in out


def test_lab_page_blocks_every_attack(browser, lab_stack):
    """Run all, then the slow attack, from the page: every result says BLOCKED."""
    page = browser.get(lab_stack.client + "/lab")
    assert page.status_code == 200
    ran = browser.post(lab_stack.client + "/lab/run-all", data={"csrf_token": csrf_token(page.text)})
    assert ran.status_code == 200
    fast = [attack for attack in ATTACKS if not attack.slow]
    assert f"Results: {len(fast)} of {len(fast)} blocked" in ran.text
    for attack in fast:
        assert verdict_on_page(ran.text, attack.slug) == "BLOCKED", attack.slug
    # Run all leaves out the slow attack; it has its own button.
    assert 'id="result-request-uri-expired"' not in ran.text
    slow = browser.post(lab_stack.client + "/lab/run/request-uri-expired",
                        data={"csrf_token": csrf_token(ran.text)})
    assert slow.status_code == 200
    assert verdict_on_page(slow.text, "request-uri-expired") == "BLOCKED"
    assert f"Waited {LAB_LIFETIME + 1} s" in html.unescape(slow.text)


def test_lab_page_shows_requests_without_secrets(browser, lab_stack):
    """A result shows the request and response, with secrets and tokens cut short."""
    page = browser.get(lab_stack.client + "/lab")
    ran = browser.post(lab_stack.client + "/lab/run/code-replay", data={"csrf_token": csrf_token(page.text)})
    text = html.unescape(ran.text)
    assert verdict_on_page(ran.text, "code-replay") == "BLOCKED"
    assert "POST " + lab_stack.auth + "/oauth/token" in text
    assert '"error": "invalid_grant"' in text
    assert "Authorization: Basic bm90ZX…" in text
    assert re.search(r"code=[A-Za-z0-9_-]{6}…", text)
    assert "notes-web-secret" not in text
    assert ClientConfig.LAB_CLIENT_SECRET not in text
    assert not JWT.search(text)


def test_the_lab_logs_no_secret(browser, lab_stack):
    """After the lab has run, no service's log holds the client secret or a whole token."""
    page = browser.get(lab_stack.client + "/lab")
    browser.post(lab_stack.client + "/lab/run/refresh-token-reuse", data={"csrf_token": csrf_token(page.text)})
    assert "attack lab: refresh-token-reuse -> BLOCKED" in lab_stack.log("client_app")
    for name in lab_stack.processes:
        log = lab_stack.log(name)
        assert "notes-web-secret" not in log
        assert ClientConfig.LAB_CLIENT_SECRET not in log
        assert not JWT.search(log)

"""`make attacks`: the table, the exit status, and a readable failure when the stack is down."""

import re

import pytest

from client_app.lab import __main__ as command_line
from client_app.lab.attacks import ATTACKS

from ..conftest import CLIENT_SECRET
from ..conftest import ISSUER


@pytest.fixture
def cli(app, monkeypatch, capsys):
    """Run the CLI with the test app's settings; returns (exit status, printed text)."""
    monkeypatch.setattr(command_line, "client_settings", lambda: dict(app.config))

    def run(*argv):
        """main(argv), and everything it printed."""
        status = command_line.main(list(argv))
        return status, capsys.readouterr().out

    return run


def test_the_settings_are_the_clients_own():
    """The CLI reads config.py, as the running client does (same environment variables)."""
    settings = command_line.client_settings()
    for name in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "LAB_CLIENT_ID", "LAB_CLIENT_SECRET", "REDIRECT_URI",
                 "NOTES_API_URL", "CLIENT_BASE_URL"):
        assert name in settings


def test_list(cli):
    """--list prints the catalogue without running anything."""
    status, out = cli("--list")
    assert status == 0
    for number, attack in enumerate(ATTACKS, start=1):
        assert re.search(rf"^{number}\s+{re.escape(attack.name[:20])}", out, re.M)


def test_unknown_attack_is_a_usage_error(cli, capsys):
    """A made-up attack name: exit 2 and the list of real ones."""
    with pytest.raises(SystemExit) as exit_info:
        cli("no-such-attack")
    assert exit_info.value.code == 2
    assert "unknown attack(s) no-such-attack" in capsys.readouterr().err


def test_stack_down_exits_non_zero_readably(cli, http):
    """Nothing listening: a table of COULD NOT RUN, each reason once, exit 1, no traceback."""
    status, out = cli("--fast")
    assert status == 1
    assert re.search(r"^#\s+Attack\s+Blocked\?\s+Status / error\s+Section$", out, re.M)
    assert out.count("COULD NOT RUN") == 2 * len([a for a in ATTACKS if not a.slow])
    assert out.count(f"Could not run: Could not reach the authorization server at {ISSUER}") == 1
    assert f"0 of {len([a for a in ATTACKS if not a.slow])} attacks blocked." in out
    assert "Traceback" not in out


def test_blocked_attack_exits_zero(cli, auth_server):
    """The server refuses as the spec says: BLOCKED in the table, exit 0."""
    auth_server.par_error = (400, {"error": "invalid_request"})
    status, out = cli("request-uri-in-push")
    assert status == 0
    assert re.search(r"^\[ 7\] BLOCKED\s+request_uri inside the push$", out, re.M)
    assert re.search(r"^7\s+request_uri inside the push\s+BLOCKED\s+400 invalid_request\s+RFC 9126 §2.1$", out, re.M)
    assert "1 of 1 attacks blocked." in out


def test_not_blocked_exits_non_zero_with_details(cli, auth_server):
    """The server goes along: NOT BLOCKED, the exchange printed (masked), exit 1."""
    status, out = cli("request-uri-in-push")
    assert status == 1
    assert "NOT BLOCKED: saw 201 (expected 400 invalid_request)" in out
    assert f"> POST {ISSUER}/oauth/par" in out
    assert "> Authorization: Basic bm90ZX…" in out
    assert CLIENT_SECRET not in out
    assert "0 of 1 attacks blocked." in out


def test_verbose_prints_every_exchange(cli, auth_server):
    """-v prints the requests and responses of blocked attacks too."""
    auth_server.par_error = (400, {"error": "invalid_request"})
    status, out = cli("-v", "request-uri-in-push")
    assert status == 0
    assert "== 7. request_uri inside the push: BLOCKED (RFC 9126 §2.1)" in out
    assert '<     "error": "invalid_request"' in out

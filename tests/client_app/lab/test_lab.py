"""The attack lab page: the catalogue, Run buttons behind CSRF, readable results."""

import html
import re

import pytest
from sqlalchemy import select

from client_app.lab import attacks
from client_app.lab import kit
from client_app.lab import lock
from client_app.lab.attacks import ATTACKS
from client_app.lab.lock import LabRun
from client_app.models import db
from client_app.models import now

from ..conftest import CLIENT_SECRET
from ..conftest import ISSUER


@pytest.fixture
def lab_form(client):
    """POST to a lab URL with the lab page's CSRF token, as its buttons do."""

    def post(path):
        """Submit the form that posts to `path`."""
        page = client.get("/lab").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return client.post(path, data={"csrf_token": token})

    return post


def verdicts(page):
    """{slug: verdict} for every result on a lab page."""
    found = re.findall(r'id="result-([a-z0-9-]+)"[^>]*>\s*<h3[^>]*>.*?<span class="verdict [^"]*">([^<]+)</span>',
                       page, re.S)
    return dict(found)


def test_the_lab_lists_every_attack(client, expect_page):
    """Each attack with what it tries, its section, its expected outcome and a Run button."""
    page = expect_page(client.get("/lab"), 200, "Attack lab", "make attacks")
    for number, attack in enumerate(ATTACKS, start=1):
        assert attack.name in page
        assert attack.tries in page
        assert attack.expected in page
        for ref in attack.section.split("; "):
            assert ref in page
        assert f'action="/lab/run/{attack.slug}"' in page
        assert f'aria-label="Run attack {number}: {attack.name}"' in page
    assert 'action="/lab/run-all"' in page
    # The slow one says how long it takes, and that Run all leaves it out.
    assert "about 3 s" in page and "Not part of Run all" in page
    # Every form carries a CSRF token.
    assert page.count('name="csrf_token"') == page.count("<form")


def test_every_page_links_to_the_lab(client):
    """The blue header's nav has the lab next to Home."""
    page = client.get("/").get_data(as_text=True)
    assert '<a href="/lab">Attack lab</a>' in page


@pytest.mark.parametrize("path", ["/lab/run-all", "/lab/run/alg-none"])
def test_running_needs_the_csrf_token(client, expect_page, path):
    """A cross-site form cannot make this client attack anything (Flask-WTF CSRF)."""
    expect_page(client.post(path), 400, "Form rejected (CSRF check)")


def test_unknown_attack(lab_form, expect_page):
    """A made-up slug is a readable 404."""
    expect_page(lab_form("/lab/run/no-such-attack"), 404, "no attack called 'no-such-attack'")


def test_run_all_with_the_stack_down_is_readable(lab_form, http, expect_page):
    """Nothing answers: every fast attack says COULD NOT RUN and which service is missing."""
    fast = [a for a in ATTACKS if not a.slow]
    page = expect_page(lab_form("/lab/run-all"), 200, f"Results: 0 of {len(fast)} blocked")
    assert verdicts(page) == {a.slug: "COULD NOT RUN" for a in ATTACKS if not a.slow}
    assert f"Could not reach the authorization server at {ISSUER}" in page
    assert "Start it with `make demo`" in page


def test_one_attack_shows_request_and_response(app, lab_form, auth_server, expect_page):
    """A run shows the request sent, the response received, the verdict and the section."""
    auth_server.par_error = (400, {"error": "invalid_request", "error_description": "request_uri pushed"})
    page = expect_page(lab_form("/lab/run/request-uri-in-push"), 200, "Results: 1 of 1 blocked",
                       "Request sent", "Response received", "RFC 9126 §2.1")
    assert verdicts(page) == {"request-uri-in-push": "BLOCKED"}
    assert f"POST {ISSUER}/oauth/par" in page
    assert re.search(r"HTTP 400 Bad Request", page, re.I)
    assert '"error": "invalid_request"' in page
    # The lab's client authenticates with HTTP Basic: its credentials are cut short.
    assert "Authorization: Basic bm90ZX…" in page
    assert CLIENT_SECRET not in page
    assert app.config["LAB_CLIENT_SECRET"] not in page


def test_an_attack_that_works_is_shown_as_not_blocked(lab_form, auth_server, expect_page):
    """A server that accepts a pushed request_uri: the page says NOT BLOCKED, in red."""
    raw = lab_form("/lab/run/request-uri-in-push")
    page = expect_page(raw, 200, "Results: 0 of 1 blocked")
    assert verdicts(page) == {"request-uri-in-push": "NOT BLOCKED"}
    assert '<span class="verdict not-blocked">NOT BLOCKED</span>' in html.unescape(raw.get_data(as_text=True))
    assert "saw <strong>201</strong> (expected 400 invalid_request)" in page


def post_from_lab_page(client, path):
    """Submit the lab page's form that posts to `path`, in this browser."""
    page = client.get("/lab").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(path, data={"csrf_token": token})


def lab_runs(app):
    """The lab's lock rows (one while a run is in flight)."""
    with app.app_context():
        return db.session.scalars(select(LabRun)).all()


class TestOneRunAtATime:
    """A lab run holds a client worker: a second one while it is in flight is refused politely."""

    def test_a_second_run_in_flight_is_refused(self, app, client, auth_server, expect_page, monkeypatch):
        """Another browser clicks Run during a run: a readable 503 with Retry-After; the first goes on."""
        seen = {}
        run_attack = attacks.run_attack

        def meanwhile(attack, target, announce=None):
            """Run the attack, after another browser has tried to run the lab."""
            seen["second"] = post_from_lab_page(app.test_client(), "/lab/run/alg-none")
            seen["locks"] = len(lab_runs(app))
            return run_attack(attack, target, announce)

        monkeypatch.setattr(attacks, "run_attack", meanwhile)
        first = post_from_lab_page(client, "/lab/run/request-uri-in-push")
        expect_page(first, 200, "Results: ")
        expect_page(seen["second"], 503, "The attack lab is busy")
        assert 0 < int(seen["second"].headers["Retry-After"]) <= lock.LOCK_SECONDS
        assert seen["locks"] == 1
        # The run is over: the lock is gone, and the next run goes ahead.
        assert lab_runs(app) == []
        expect_page(post_from_lab_page(client, "/lab/run/request-uri-in-push"), 200, "Results: ")

    def test_a_crashed_run_does_not_block_forever(self, app, client, auth_server, expect_page):
        """A lock left by a killed worker stops counting once it expires."""
        with app.app_context():
            db.session.add(LabRun(id=lock.LOCK_ID, holder="killed-worker", expires_at=now() - 1))
            db.session.commit()
        expect_page(post_from_lab_page(client, "/lab/run-all"), 200, "Results: ")
        assert lab_runs(app) == []

    def test_a_run_that_fails_still_releases_the_lock(self, app, client, auth_server, monkeypatch, expect_page):
        """A bug in the page's own code after the run: the lock is released all the same."""
        def broken(*args, **kwargs):
            """Fail on purpose."""
            raise RuntimeError("boom")

        monkeypatch.setattr(attacks, "run_attack", broken)
        app.config["PROPAGATE_EXCEPTIONS"] = False
        response = post_from_lab_page(client, "/lab/run/alg-none")
        assert response.status_code == 500
        assert lab_runs(app) == []


def test_results_are_shown_only_to_the_browser_that_ran_them(app, client, auth_server, expect_page):
    """They are the run's response, stored nowhere: another browser, or a reload, sees none."""
    ran = post_from_lab_page(client, "/lab/run/request-uri-in-push")
    expect_page(ran, 200, "Results: ")
    for browser in (app.test_client(), client):
        page = browser.get("/lab").get_data(as_text=True)
        assert "Results: " not in page and 'id="result-' not in page


def test_the_page_names_the_labs_own_accounts(client, app, expect_page):
    """The lab says whose accounts it uses: its client and its user, never a real one."""
    page = expect_page(client.get("/lab"), 200, app.config["LAB_CLIENT_ID"], f"{kit.LAB_USERNAME} / ")
    assert "alice" not in page

"""The attack lab page: the catalogue, Run buttons behind CSRF, readable results."""

import html
import re

import pytest

from client_app.lab.attacks import ATTACKS

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
    assert "about 31 s" in page and "Not part of Run all" in page
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
    page = expect_page(lab_form("/lab/run-all"), 200, "Results: 0 of 18 blocked")
    assert verdicts(page) == {a.slug: "COULD NOT RUN" for a in ATTACKS if not a.slow}
    assert f"Could not reach the authorization server at {ISSUER}" in page
    assert "Start it with `make demo`" in page


def test_one_attack_shows_request_and_response(lab_form, auth_server, expect_page):
    """A run shows the request sent, the response received, the verdict and the section."""
    auth_server.par_error = (400, {"error": "invalid_request", "error_description": "request_uri pushed"})
    page = expect_page(lab_form("/lab/run/request-uri-in-push"), 200, "Results: 1 of 1 blocked",
                       "Request sent", "Response received", "RFC 9126 §2.1")
    assert verdicts(page) == {"request-uri-in-push": "BLOCKED"}
    assert f"POST {ISSUER}/oauth/par" in page
    assert re.search(r"HTTP 400 Bad Request", page, re.I)
    assert '"error": "invalid_request"' in page
    # The client authenticates with HTTP Basic: its credentials are cut short.
    assert "Authorization: Basic bm90ZX…" in page
    assert CLIENT_SECRET not in page


def test_an_attack_that_works_is_shown_as_not_blocked(lab_form, auth_server, expect_page):
    """A server that accepts a pushed request_uri: the page says NOT BLOCKED, in red."""
    raw = lab_form("/lab/run/request-uri-in-push")
    page = expect_page(raw, 200, "Results: 0 of 1 blocked")
    assert verdicts(page) == {"request-uri-in-push": "NOT BLOCKED"}
    assert '<span class="verdict not-blocked">NOT BLOCKED</span>' in html.unescape(raw.get_data(as_text=True))
    assert "saw <strong>201</strong> (expected 400 invalid_request)" in page

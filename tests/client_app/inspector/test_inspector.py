"""GET /inspector: the diagram and every step of this browser's flow."""

import html
import re

import pytest
import requests


@pytest.fixture
def finished(flow, flow_trace):
    """A whole login and one API call; returns the flow helper."""
    flow.complete()
    flow.client.get("/notes")
    return flow


def sections(page):
    """{step number: its section's HTML}."""
    found = re.findall(r'<section class="step" id="step-(\d+)"(.*?)</section>', page, re.S)
    return {int(n): body for n, body in found}


def test_no_flow_yet(client, expect_page):
    """The diagram, all twelve steps waiting, and a way to start."""
    page = expect_page(client.get("/inspector"), 200, "Flow inspector", "No flow yet")
    assert page.count('class="step step-pending"') == 12
    assert list(sections(page)) == list(range(1, 13))
    assert all("Not yet in this flow." in body for body in sections(page).values())


@pytest.mark.parametrize("path", ["/", "/inspector", "/nowhere"])
def test_linked_from_every_page(client, path):
    """Every client page, error pages too, links to the inspector."""
    assert 'href="/inspector"' in client.get(path).get_data(as_text=True)


def test_linked_from_the_notes_page(finished):
    """Including the notes page of a logged-in user."""
    assert 'href="/inspector"' in finished.client.get("/notes").get_data(as_text=True)


def test_a_whole_flow(finished, expect_page):
    """Every step lit, each with its real message or the AS's record of it."""
    page = expect_page(finished.client.get("/inspector"), 200, "Signature check: passed")
    assert page.count('class="step step-done"') == 12
    found = sections(page)
    for number in (1, 2, 3, 4, 7, 8, 10, 11, 12):
        assert 'class="http"' in found[number]
    assert "POST http://as.test:9000/oauth/par" in found[2]
    assert "HTTP 201" in found[3]
    assert "GET /interaction/i1/login" in found[5]
    assert "POST /interaction/i1/consent" in found[6]
    assert 'data-check="pkce_verified"' in found[9]
    assert "✓ same" in found[11]
    assert finished.client.get("/inspector").headers["Cache-Control"] == "no-store"


def test_secrets_are_masked_until_revealed(finished):
    """Every secret sits in a closed <details> (keyboard: Enter/Space); ?reveal=all opens them."""
    page = finished.client.get("/inspector").get_data(as_text=True)
    secrets = re.findall(r'<details class="secret"( open)?><summary><span class="masked">([^<]*)</span>'
                         r'.*?<span class="value">([^<]*)</span></details>', page)
    assert secrets
    assert {opened for opened, _, _ in secrets} == {""}
    values = {html.unescape(value) for _, _, value in secrets}
    assert {"the-code", "access-token-1", "refresh-token-1"} <= values
    assert all(not masked.startswith("the-code") for _, masked, _ in secrets)
    revealed = finished.client.get("/inspector?reveal=all").get_data(as_text=True)
    assert revealed.count('<details class="secret" open>') == len(secrets)
    assert "Mask the secrets again" in revealed


def test_the_page_holds_no_secret_outside_the_reveal_toggles(finished):
    """Remove the toggles' hidden halves: no whole token or code is left on the page."""
    page = finished.client.get("/inspector").get_data(as_text=True)
    visible = re.sub(r'<span class="value">[^<]*</span>', "", page)
    for secret in ("access-token-1", "refresh-token-1", "code=the-code", "notes-web-secret",
                   finished.row().id_token):
        assert secret not in visible


def test_the_as_being_down_is_explained(finished, flow_trace, expect_page):
    """The flow-trace endpoint unreachable: the page still shows, and says why step 9 is dark."""
    flow_trace.down = requests.ConnectionError("refused")
    page = expect_page(finished.client.get("/inspector"), 200, "Could not reach the authorization server")
    assert sections(page)[9].count("Not yet in this flow.") == 1


def test_a_refused_token_request_shows_the_failed_check(flow, flow_trace, expect_page):
    """Step 9 lists the AS's checks: the failed one, and those it never reached."""
    flow_trace.token_status, flow_trace.failed_check = 400, "code_valid"
    flow.auth_server.token_error = (400, {"error": "invalid_grant"})
    flow.start()
    flow.callback()
    page = expect_page(flow.client.get("/inspector"), 200, "invalid_grant")
    step9 = sections(page)[9]
    assert 'class="outcome-failed">failed' in step9
    assert 'class="outcome-not-reached">not reached' in step9
    assert 'class="step step-failed" id="arrow-10"' in page


def test_the_diagram_arrows_are_keyboard_links(client):
    """Each arrow is an <a href> to its section: reachable with Tab, followed with Enter."""
    page = client.get("/inspector").get_data(as_text=True)
    for number in range(1, 13):
        assert f'href="#step-{number}"' in page
        assert f'id="step-{number}"' in page

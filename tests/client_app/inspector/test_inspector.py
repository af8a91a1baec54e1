"""GET /inspector: the diagram and every step of this browser's flow."""

import base64
import html
import re
from urllib.parse import quote

import pytest
import requests

from client_app import create_app

from ..conftest import CLIENT_SECRET


def text_of(page):
    """A page's text, as read: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


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
    finished.app.config["INSPECTOR_SHOWS_TOKENS"] = True
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


# Every response the inspector sends a browser: the page, revealed, and the two downloads.
INSPECTOR_RESPONSES = ["/inspector", "/inspector?reveal=all", "/inspector/export.json", "/inspector/export.mmd"]


class TestWhatReachesTheBrowser:
    """The client's credentials never leave the server; the user's tokens only when a setting says so."""

    @pytest.fixture(params=[("client_secret_basic", False), ("client_secret_basic", True),
                            ("client_secret_post", False), ("client_secret_post", True)],
                    ids=lambda p: f"{p[0]}-tokens-{'shown' if p[1] else 'kept'}")
    def settings(self, settings, request):
        """Both ways of sending the secret, with the tokens shown or kept on the server."""
        method, shows_tokens = request.param
        return {**settings, "TOKEN_ENDPOINT_AUTH_METHOD": method, "INSPECTOR_SHOWS_TOKENS": shows_tokens}

    def credentials(self, app):
        """The client's credentials in every form they take on the wire."""
        client_id, secret = app.config["CLIENT_ID"], app.config["CLIENT_SECRET"]
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return [secret, basic, basic.rstrip("="), quote(secret, safe="")]

    def test_the_client_secret_is_in_no_response(self, finished, caplog):
        """Page, revealed page, downloads, logs: the secret and its Basic form appear in none."""
        flow = finished
        flow.start()  # and a login in progress, its push recorded
        bodies = [flow.client.get(path).get_data(as_text=True) for path in INSPECTOR_RESPONSES]
        # It was on the wire: steps 2 and 8 sent it (the inspector has something to hide).
        sent = flow.auth_server.pushes[-1]
        assert CLIENT_SECRET in str(sent["form"]) or sent["authorization"].startswith("Basic ")
        for body in bodies + [caplog.text]:
            for credential in self.credentials(flow.app):
                assert credential not in body
        # What is shown instead: the way it was sent, and at most its first characters.
        revealed = text_of(bodies[1])
        if flow.app.config["TOKEN_ENDPOINT_AUTH_METHOD"] == "client_secret_basic":
            assert "Authorization: Basic bm90ZX…" in revealed
        else:
            assert "client_secret=notes-…" in revealed

    def test_tokens_only_when_the_setting_allows(self, finished):
        """INSPECTOR_SHOWS_TOKENS false: no whole token in any response; true: revealed on the page."""
        flow = finished
        tokens = ["access-token-1", "refresh-token-1", flow.row().id_token]
        bodies = {path: html.unescape(flow.client.get(path).get_data(as_text=True)) for path in INSPECTOR_RESPONSES}
        if flow.app.config["INSPECTOR_SHOWS_TOKENS"]:
            assert all(token in bodies["/inspector?reveal=all"] for token in tokens)
        else:
            for body in bodies.values():
                assert not [token for token in tokens if token in body]
            # Still there to study: masked, decoded, checked.
            assert "Bearer access…" in text_of(bodies["/inspector?reveal=all"])
            assert "Signature check: passed" in bodies["/inspector"]
        # The downloads never hold a whole token (they may end up on a slide).
        for path in INSPECTOR_RESPONSES[2:]:
            assert not [token for token in tokens if token in bodies[path]]


@pytest.mark.parametrize(("shows_tokens", "says"), [
    (False, "which stay on this server, never in your browser"),
    (True, "the flow inspector shows them to you"),
])
def test_the_home_page_says_where_the_tokens_are(settings, shows_tokens, says, expect_page):
    """The home page's promise follows INSPECTOR_SHOWS_TOKENS."""
    app = create_app({**settings, "INSPECTOR_SHOWS_TOKENS": shows_tokens})
    page = " ".join(expect_page(app.test_client().get("/"), 200).split())
    assert says in page

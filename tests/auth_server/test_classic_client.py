"""notes-classic: the one client that may skip PAR, so the three profiles can be compared.

Its authorization request travels whole through the browser (RFC 6749 §4.1.1), with
PKCE still required; every other client still must push (RFC 9126 §6), and discovery
says what the server requires of all clients (§5), truthfully.
"""

from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest

from auth_server import create_app

from .conftest import CALLBACK
from .conftest import Flow
from .conftest import s256

CLASSIC = ("notes-classic", "notes-classic-secret")


def front_channel_request(flow, client_id="notes-classic", **overrides):
    """Step 4 of the classic flow: every parameter in the /authorize URL."""
    return flow.client.get("/authorize", query_string={"client_id": client_id, **flow.params(**overrides)})


def test_a_classic_login_runs_without_a_push(flow):
    """Steps 4-10 with no request_uri: the code comes back and redeems with PKCE."""
    login_url = front_channel_request(flow).location
    consent_url = flow.login(login_url).location
    back = flow.consent(consent_url)
    params = {k: v[0] for k, v in parse_qs(urlparse(back.location).query).items()}
    assert back.location.startswith(CALLBACK)
    assert params["state"] == flow.state
    assert params["iss"] == "http://localhost:9000"
    tokens = flow.exchange(params["code"], auth=CLASSIC)
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["token_type"] == "Bearer"


def test_the_front_channel_scope_is_what_the_classic_client_gets(flow):
    """Without PAR the URL is the request: a scope written into it is the scope consented to."""
    login_url = front_channel_request(flow, scope="openid read:notes").location
    consent_page = flow.client.get(flow.login(login_url).location)
    assert "read:notes" in consent_page.text
    assert "write:notes" not in consent_page.text


def test_pkce_is_still_required_of_the_classic_client(flow):
    """RFC 9700 §2.1.1: no PKCE, no login, PAR or not."""
    response = front_channel_request(flow, code_challenge=None, code_challenge_method=None)
    assert response.status_code in (302, 303)
    error = parse_qs(urlparse(response.location).query)
    assert error["error"] == ["invalid_request"]


def test_the_classic_client_may_still_push(flow):
    """Skipping PAR is allowed, not required: a push by notes-classic works as any other."""
    response = flow.push(auth=CLASSIC)
    assert response.status_code == 201


@pytest.mark.parametrize("client_id", ["notes-web", "notes-lab", "notes-fapi", "notes-lab-fapi", "seed-cli"])
def test_every_other_client_must_push(client, client_id):
    """RFC 9126 §6: a client registered with require_pushed_authorization_requests cannot skip PAR."""
    response = client.get("/authorize", query_string={
        "client_id": client_id, "response_type": "code", "redirect_uri": CALLBACK, "scope": "openid",
        "state": "s", "code_challenge": s256("v" * 43), "code_challenge_method": "S256"})
    assert response.status_code == 400
    assert "invalid_request" in response.text
    assert "Location" not in response.headers


def test_discovery_says_what_the_server_requires(client, test_config):
    """RFC 9126 §5: false while one client may skip PAR; true, and enforced for notes-classic too, with REQUIRE_PAR."""
    assert client.get("/.well-known/openid-configuration").json["require_pushed_authorization_requests"] is False
    strict = create_app({**test_config, "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS": True}).test_client()
    assert strict.get("/.well-known/openid-configuration").json["require_pushed_authorization_requests"] is True
    refused = front_channel_request(Flow(strict))
    assert refused.status_code == 400
    assert "must push" in refused.text


@pytest.mark.parametrize("redirect_uri", ["https://attacker.example/callback", CALLBACK + "/extra", CALLBACK.upper()])
def test_a_classic_request_never_redirects_to_an_unregistered_uri(flow, redirect_uri):
    """RFC 6749 §4.1.2.1, §3.1.2.3: a redirect URI the client did not register exactly: an error page, no redirect."""
    response = front_channel_request(flow, redirect_uri=redirect_uri)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers


def test_a_classic_request_with_an_unknown_scope_goes_back_with_the_error(flow):
    """RFC 6749 §4.1.2.1: once the redirect URI is checked, errors go back to it, with state and iss."""
    response = front_channel_request(flow, scope="openid admin:everything")
    assert response.status_code in (302, 303)
    params = parse_qs(urlparse(response.location).query)
    assert response.location.startswith(CALLBACK)
    assert params["error"] == ["invalid_scope"]
    assert params["state"] == [flow.state]

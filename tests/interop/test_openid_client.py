"""Our auth_server against panva's openid-client, an OpenID Certified relying party.

openid-client runs with its strictest settings for this flow (openid_client_rp.js):
discovery with an exact issuer, PAR with client_secret_basic, PKCE S256, state,
nonce, the RFC 9207 iss check, ID token validation with its signature checked,
UserInfo, and the refresh token grant. Nothing in auth_server knows this client.
"""

from urllib.parse import urlencode

import pytest

from tests.stack import query

from .conftest import RP_REDIRECT_URI
from .conftest import RelyingParty


@pytest.fixture
def openid_client(node, auth_server):
    """openid-client as notes-web, pointed at our auth_server by its issuer URL alone."""
    return RelyingParty(node, "openid_client_rp.js", auth_server.url)


def test_full_flow_passes_every_check(openid_client, alice, auth_server):
    """PAR, login, consent, code exchange, ID token, UserInfo and refresh all pass."""
    session = openid_client.authorize()
    # RFC 9126 §4: the browser is sent with client_id and request_uri only.
    url = session["authorization_url"]
    assert url.startswith(auth_server.url + "/authorize?")
    assert set(query(url)) == {"client_id", "request_uri"}

    callback_url = alice.answer(url)
    assert callback_url.startswith(RP_REDIRECT_URI + "?")

    ok, result = openid_client.callback(session, callback_url)
    assert ok, result
    # openid-client reports token_type in lower case (RFC 6749 §5.1: case-insensitive).
    assert result["token"] == {
        "token_type": "bearer", "scope": "openid profile email read:notes offline_access",
        "expires_in": 86400, "has_access_token": True, "has_id_token": True, "has_refresh_token": True}
    claims = result["id_token_claims"]
    assert claims["iss"] == auth_server.url
    assert claims["sub"] == "alice"
    assert claims["aud"] == ["notes-web"]
    assert claims["nonce"] == session["nonce"]
    assert isinstance(claims["auth_time"], int)
    assert result["userinfo"] == {"sub": "alice", "name": "Alice Liddell", "preferred_username": "alice",
                                  "email": "alice@example.com", "email_verified": True}
    # Refresh: a new access token and a rotated refresh token (RFC 9700 §4.14.2).
    assert result["refreshed"]["has_access_token"] is True
    assert result["refreshed"]["refresh_token_rotated"] is True


def test_declined_consent_is_an_access_denied_error(openid_client, alice):
    """RFC 6749 §4.1.2.1: the library reads access_denied (after checking state and iss)."""
    session = openid_client.authorize()
    callback_url = alice.answer(session["authorization_url"], decision="deny")
    ok, error = openid_client.callback(session, callback_url)
    assert not ok
    assert error["code"] == "OAUTH_AUTHORIZATION_RESPONSE_ERROR"
    assert error["oauth_error"] == "access_denied"


@pytest.mark.parametrize("change, detail", [
    # RFC 9207 §2.4: a response from another server (a mix-up) is refused...
    ({"iss": "http://localhost:1"}, 'unexpected "iss" (issuer) response parameter value'),
    # ...and our server advertises iss, so a response without it is refused too.
    ({"iss": None}, 'response parameter "iss" (issuer) missing'),
    # RFC 6749 §10.12: a state this session did not send (CSRF).
    ({"state": "forged"}, 'unexpected "state" response parameter value'),
])
def test_tampered_authorization_response_is_refused(openid_client, alice, change, detail):
    """The checks the happy path relies on are really made: a tampered redirect fails."""
    session = openid_client.authorize()
    params = {**query(alice.answer(session["authorization_url"])), **change}
    tampered = RP_REDIRECT_URI + "?" + urlencode({k: v for k, v in params.items() if v is not None})
    ok, error = openid_client.callback(session, tampered)
    assert not ok
    assert error["code"] == "OAUTH_INVALID_RESPONSE"
    assert error["detail"] == detail


@pytest.mark.parametrize("verifier", ["x" * 43, None])
def test_bad_or_replayed_code_is_invalid_grant(openid_client, alice, verifier):
    """RFC 7636 §4.6 (wrong verifier) and RFC 6749 §4.1.2 (a code used twice): invalid_grant."""
    session = openid_client.authorize()
    callback_url = alice.answer(session["authorization_url"])
    if verifier is None:
        ok, _ = openid_client.callback(session, callback_url)
        assert ok
    ok, error = openid_client.callback({**session, "code_verifier": verifier or session["code_verifier"]},
                                       callback_url)
    assert not ok
    assert error["code"] == "OAUTH_RESPONSE_BODY_ERROR"
    assert (error["status"], error["oauth_error"]) == (400, "invalid_grant")


def test_wrong_client_secret_is_refused_at_the_push(node, auth_server):
    """RFC 6749 §5.2: 401 invalid_client with a Basic challenge, which the library reads."""
    impostor = RelyingParty(node, "openid_client_rp.js", auth_server.url, secret="not-the-secret")
    ok, error = impostor.run("authorize")
    assert not ok
    assert error["code"] == "OAUTH_WWW_AUTHENTICATE_CHALLENGE"
    assert (error["status"], error["oauth_error"], error["challenge_scheme"]) == (401, "invalid_client", "basic")

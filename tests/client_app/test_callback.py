"""GET /callback: steps 7-10, the callback checks, the code exchange and the ID token."""

import base64
import json
import time

import pytest

from client_app.flow import messages


def test_happy_path_stores_tokens_server_side(flow):
    """Step 10: tokens and claims are in the row; the cookie holds only the row's id."""
    flow.complete()
    row = flow.row()
    assert row.access_token == "access-token-1"
    assert row.refresh_token == "refresh-token-1"
    assert row.id_token.count(".") == 2
    assert row.claims["sub"] == "alice"
    assert row.claims["email"] == "alice@example.com"
    assert row.expires_at >= int(time.time()) + 3600 - 5
    # Spent or no longer needed: state, nonce and verifier are gone.
    assert (row.state, row.nonce, row.code_verifier) == (None, None, None)
    cookie = flow.cookie_session()
    assert set(cookie) <= {"login_session_id", "csrf_token", "browser_id"}
    assert cookie["login_session_id"] == row.id
    for token in (row.access_token, row.refresh_token, row.id_token):
        assert token not in str(cookie)


def test_code_exchange_request(flow):
    """Step 8: the code, the same redirect_uri and the PKCE verifier, with HTTP Basic."""
    flow.start()
    verifier = flow.row().code_verifier
    flow.callback(code="abc123")
    request = flow.auth_server.token_requests[-1]
    assert request["form"] == {
        "grant_type": "authorization_code",
        "code": "abc123",
        "redirect_uri": "http://localhost:3000/callback",
        "code_verifier": verifier,
    }
    assert request["authorization"].startswith("Basic ")


@pytest.mark.parametrize(("params", "status", "text"), [
    ({"state": "forged-state"}, 400, "state does not match"),
    ({"state": None}, 400, "state does not match"),
    ({"state": "ünïcode"}, 400, "state does not match"),
    ({"iss": None}, 400, "no iss parameter"),
    ({"iss": "http://evil.test"}, 400, "mix-up"),
    ({"iss": "http://as.test:9000/"}, 400, "mix-up"),
    ({"code": None, "error": "access_denied"}, 403, "You declined"),
    ({"code": None, "error": "server_error", "error_description": "The database is down"},
     400, "server_error"),
    ({"code": None}, 400, "invalid_request"),
])
def test_callback_checks(flow, expect_page, params, status, text):
    """Step 7: each bad redirect gets its own readable page, and no token request is made."""
    flow.start()
    expect_page(flow.callback(**params), status, text)
    assert flow.auth_server.token_requests == []
    assert flow.row().access_token is None


def test_callback_without_a_login_in_this_browser(flow, expect_page):
    """A callback in a browser that never started a login is refused (login CSRF)."""
    flow.start()
    state = flow.pushed()["state"]
    flow.client.delete_cookie(flow.app.config["SESSION_COOKIE_NAME"])
    query = {"code": "c", "state": state, "iss": "http://as.test:9000"}
    response = flow.client.get("/callback", query_string=query)
    expect_page(response, 400, "state does not match")
    assert flow.auth_server.token_requests == []


@pytest.mark.parametrize(("change", "text"), [
    ({"token_error": (400, {"error": "invalid_grant", "error_description": "Code expired"})},
     "invalid_grant"),
    ({"token_error": (401, {"error": "invalid_client"})}, "invalid_client"),
    ({"omit_id_token": True}, "no ID token"),
    ({"token_extra": {"token_type": "DPoP"}}, "'DPoP' is not Bearer"),
    ({"token_extra": {"id_token": "not-a-jwt"}}, "failed validation"),
    ({"id_token_claims": {"nonce": "someone-elses-nonce"}}, "nonce does not match"),
    ({"id_token_claims": {"nonce": None}}, "nonce does not match"),
    ({"id_token_claims": {"aud": "another-client"}}, "Invalid claim: 'aud'"),
    ({"id_token_claims": {"aud": ["urn:my-notes-api"]}}, "Invalid claim: 'aud'"),
    ({"id_token_claims": {"iss": "http://evil.test"}}, "Invalid claim: 'iss'"),
    ({"id_token_claims": {"azp": "another-client"}}, "issued to 'another-client' (azp)"),
    ({"id_token_claims": {"exp": int(time.time()) - 3600}}, "The token is expired"),
    ({"id_token_claims": {"iat": int(time.time()) + 3600}}, "issued in the future"),
    ({"id_token_claims": {"sub": None}}, "Missing claim: 'sub'"),
])
def test_token_and_id_token_failures(flow, expect_page, change, text):
    """Steps 8-10: a refused code or an untrustworthy ID token stores no tokens."""
    for name, value in change.items():
        setattr(flow.auth_server, name, value)
    flow.start()
    expect_page(flow.callback(), 400, text)
    assert flow.row().access_token is None


def test_id_token_with_a_bad_signature(flow, expect_page, other_key):
    """An ID token signed by someone else, under the AS's key id, is refused."""
    other_key_with_our_kid = other_key.__class__.import_key(
        {**other_key.as_dict(private=True), "kid": flow.auth_server.id_token_key.kid})
    flow.auth_server.id_token_key = other_key_with_our_kid
    flow.start()
    expect_page(flow.callback(), 400, "bad_signature")
    assert flow.row().access_token is None


def _b64json(part):
    """One base64url-encoded JSON part of a hand-made JWT."""
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def test_unsigned_id_token_is_refused(flow, expect_page):
    """alg "none" is never accepted: the client only takes RS256 (OIDC Core §3.1.3.7 step 7)."""
    flow.start()
    claims = {"iss": "http://as.test:9000", "sub": "mallory", "aud": "notes-web",
              "exp": int(time.time()) + 600, "iat": int(time.time()), "nonce": flow.pushed()["nonce"]}
    flow.auth_server.token_extra = {"id_token": f"{_b64json({'alg': 'none'})}.{_b64json(claims)}."}
    expect_page(flow.callback(), 400, "The ID token could not be trusted")
    assert flow.row().access_token is None


def test_token_endpoint_unreachable(flow, expect_page):
    """An AS that goes away between push and exchange gives the 502 page."""
    flow.start()
    flow.auth_server.down = True
    expect_page(flow.callback(), 502, "Authorization server unavailable")
    assert flow.row().access_token is None


def test_replayed_callback_fails(flow, expect_page):
    """A flow is used once: the same redirect a second time is refused; the login survives."""
    flow.complete()
    expect_page(flow.callback(), 400, "state does not match")
    assert len(flow.auth_server.token_requests) == 1
    assert flow.row().access_token == "access-token-1"


def test_a_rejected_callback_spends_the_state(flow, expect_page):
    """After a mix-up attempt (wrong iss), even the genuine redirect is refused."""
    flow.start()
    expect_page(flow.callback(iss="http://evil.test"), 400, "mix-up")
    expect_page(flow.callback(), 400, "state does not match")
    assert flow.auth_server.token_requests == []


def recorded_step_7(flow):
    """The callback the inspector keeps as this login's step 7 (its URL), or None."""
    with flow.app.app_context():
        message = messages(flow.row().id).get(7)
        return message.url if message is not None else None


@pytest.mark.parametrize("forged", [
    {"state": "x", "error": "access_denied", "error_description": "Your account was deleted"},
    {"state": "x", "code": "attackers-code"},
    {"state": None, "error": "server_error"},
])
def test_a_forged_callback_is_not_recorded(flow, expect_page, forged):
    """A cross-site GET /callback with a wrong state is refused and never becomes step 7."""
    flow.start()
    query = {"iss": flow.auth_server.issuer, **{k: v for k, v in forged.items() if v is not None}}
    expect_page(flow.client.get("/callback", query_string=query), 400, "state does not match")
    assert recorded_step_7(flow) is None
    # The genuine callback, which comes next, is the one the inspector keeps.
    flow.callback(code="the-real-code")
    assert "code=the-real-code" in recorded_step_7(flow)


def test_a_callback_refused_after_the_state_check_is_recorded(flow, expect_page):
    """The right state but the wrong issuer: refused, and kept as step 7 to be inspected."""
    flow.start()
    expect_page(flow.callback(iss="http://evil.test"), 400, "mix-up")
    assert "iss=http" in recorded_step_7(flow)

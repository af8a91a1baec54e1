"""POST /login: steps 1-4, the push (RFC 9126 §2) and the front-channel redirect (§4)."""

import base64
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

# The registration the `settings` fixture gives the client.
CLIENT_ID = "notes-web"
CLIENT_SECRET = "notes-web-secret"


def test_push_sends_exactly_the_authorization_request(flow):
    """Step 2: the form holds the request parameters and no secret; the client uses HTTP Basic."""
    flow.start()
    row = flow.row()
    push = flow.auth_server.pushes[-1]
    assert push["form"] == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "http://localhost:3000/callback",
        "scope": "openid profile email read:notes write:notes offline_access",
        "state": row.state,
        "nonce": row.nonce,
        "code_challenge": create_s256_code_challenge(row.code_verifier),
        "code_challenge_method": "S256",
        "audience": "urn:my-notes-api",
    }
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert push["authorization"] == f"Basic {expected}"


def test_fresh_secrets_for_every_login(flow):
    """state, nonce and the PKCE verifier are random per login, and long enough."""
    flow.start()
    first = flow.row()
    flow.start()
    second = flow.row()
    for name in ("id", "state", "nonce", "code_verifier"):
        assert getattr(first, name) != getattr(second, name)
        assert len(getattr(second, name)) >= 43
    # RFC 7636 §4.1: the verifier is at most 128 characters.
    assert len(second.code_verifier) <= 128


def test_redirect_carries_only_client_id_and_request_uri(flow):
    """Step 4: 303 to the public authorization endpoint with exactly two parameters."""
    response = flow.start()
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://as.test:9000/authorize"
    assert parse_qs(location.query) == {
        "client_id": [CLIENT_ID],
        "request_uri": ["urn:ietf:params:oauth:request_uri:req-1"],
    }


def test_login_stores_the_flow_server_side(flow):
    """Step 3: the request_uri is kept in the row; the cookie holds only the row's id."""
    flow.start()
    row = flow.row()
    assert row.request_uri == "urn:ietf:params:oauth:request_uri:req-1"
    assert row.access_token is None
    assert flow.cookie_session()["login_session_id"] == row.id
    assert set(flow.cookie_session()) <= {"login_session_id", "csrf_token"}


def test_a_new_login_replaces_the_old_one(flow):
    """Logging in again deletes this browser's previous LoginSession."""
    flow.complete()
    flow.start()
    row = flow.row()
    assert row.access_token is None
    assert flow.cookie_session()["login_session_id"] == row.id


def test_login_needs_a_csrf_token(flow, expect_page):
    """The Log in form is CSRF-protected, so no other site can start a login."""
    expect_page(flow.client.post("/login"), 400, "CSRF")
    assert flow.auth_server.pushes == []
    assert flow.rows() == []


def test_auth_server_unreachable(flow, expect_page):
    """An unreachable AS gives a 502 page, not a traceback."""
    flow.auth_server.down = True
    expect_page(flow.start(), 502, "Authorization server unavailable", "Could not reach")
    assert flow.rows() == []


@pytest.mark.parametrize(("status", "body"), [
    (400, {"error": "invalid_request", "error_description": "Unknown scope: read:secrets"}),
    (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
])
def test_push_rejected(flow, expect_page, status, body):
    """RFC 9126 §2.3: a rejected push shows the AS's error code and description."""
    flow.auth_server.par_error = (status, body)
    expect_page(flow.start(), 502, "refused the login request", body["error"], body["error_description"])
    assert flow.rows() == []


@pytest.mark.parametrize("body", [
    {"expires_in": 30},
    {"request_uri": 42, "expires_in": 30},
])
def test_push_answer_without_request_uri(flow, expect_page, body):
    """A 201 without a usable request_uri is refused too."""
    flow.auth_server.par_error = (201, body)
    expect_page(flow.start(), 502, "refused the login request")


class TestClientSecretPost:
    """TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post: the secret moves into the form."""

    @pytest.fixture
    def settings(self, settings):
        """The default settings with client_secret_post."""
        return {**settings, "TOKEN_ENDPOINT_AUTH_METHOD": "client_secret_post"}

    def test_push_sends_the_secret_in_the_form(self, flow):
        """RFC 6749 §2.3.1: client_id and client_secret in the body, no Authorization header."""
        flow.start()
        push = flow.auth_server.pushes[-1]
        assert push["authorization"] is None
        assert push["form"]["client_id"] == CLIENT_ID
        assert push["form"]["client_secret"] == CLIENT_SECRET

    def test_token_request_sends_the_secret_in_the_form(self, flow):
        """The token endpoint gets the same client authentication."""
        flow.complete()
        request = flow.auth_server.token_requests[-1]
        assert request["authorization"] is None
        assert request["form"]["client_id"] == CLIENT_ID
        assert request["form"]["client_secret"] == CLIENT_SECRET

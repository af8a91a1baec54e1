"""POST /login: steps 1-4, the push (RFC 9126 §2) and the front-channel redirect (§4)."""

import base64
import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from auth_server.config import Config as AuthServerConfig
from client_app.config import Config
from client_app.models import LoginStart
from client_app.models import db

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
    assert set(flow.cookie_session()) <= {"login_session_id", "csrf_token", "browser_id"}


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


class TestLoginBounds:
    """Every login pushes at the AS, whose rate limit is per client: one visitor must not use it up."""

    @pytest.fixture
    def settings(self, settings):
        """Small bounds, so a test reaches them in a few logins."""
        return {**settings, "LOGINS_PER_BROWSER": 2, "LOGINS_PER_ADDRESS": 3, "LOGIN_RATE_WINDOW": 60}

    def browser(self, flow, address="192.0.2.1"):
        """A fresh browser (its own cookies) at a network address; returns a function that clicks Log in."""
        client = flow.app.test_client()
        client.environ_base["REMOTE_ADDR"] = address

        def log_in():
            """POST /login with the home page's CSRF token."""
            page = client.get("/").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            return client.post("/login", data={"csrf_token": token})

        return log_in

    def test_one_address_starts_a_bounded_number_of_logins(self, flow, expect_page):
        """Over LOGINS_PER_ADDRESS in the window, fresh browsers or not: 429, Retry-After, no push."""
        limit = flow.app.config["LOGINS_PER_ADDRESS"]
        for _ in range(limit):
            assert self.browser(flow)().status_code == 303
        refused = self.browser(flow)()
        expect_page(refused, 429, "Too many logins", "Wait")
        assert 0 < int(refused.headers["Retry-After"]) <= flow.app.config["LOGIN_RATE_WINDOW"]
        assert len(flow.auth_server.pushes) == limit
        # Another address is not held back by this one.
        assert self.browser(flow, "198.51.100.7")().status_code == 303

    def test_one_browser_starts_a_bounded_number_of_logins(self, flow, expect_page):
        """Over LOGINS_PER_BROWSER, even from changing addresses: 429."""
        log_in = self.browser(flow)
        for _ in range(flow.app.config["LOGINS_PER_BROWSER"]):
            assert log_in().status_code == 303
        expect_page(log_in(), 429, "Too many logins")
        assert len(flow.auth_server.pushes) == flow.app.config["LOGINS_PER_BROWSER"]

    def test_the_window_passes(self, flow):
        """Once the window has passed, the same address may start logins again; old counts are purged."""
        for _ in range(flow.app.config["LOGINS_PER_ADDRESS"]):
            self.browser(flow)()
        assert self.browser(flow)().status_code == 429
        with flow.app.app_context():
            db.session.execute(update(LoginStart).values(
                started_at=LoginStart.started_at - flow.app.config["LOGIN_RATE_WINDOW"]))
            db.session.commit()
        assert self.browser(flow)().status_code == 303
        with flow.app.app_context():
            assert db.session.scalar(select(func.count()).select_from(LoginStart)) == 1

    def test_the_counts_are_in_the_database(self, flow):
        """Any worker sees them: one row per login started, with its browser and address."""
        self.browser(flow)()
        with flow.app.app_context():
            [row] = db.session.scalars(select(LoginStart)).all()
            assert row.address == "192.0.2.1"
            assert row.browser_id


def test_a_classroom_fits_under_the_authorization_servers_rate_limit():
    """~30 learners behind one client, each at this client's per-address bound, fit the AS's PAR limit."""
    classroom = 30
    assert Config.LOGIN_RATE_WINDOW >= AuthServerConfig.PAR_RATE_WINDOW
    assert Config.LOGINS_PER_ADDRESS * classroom <= AuthServerConfig.PAR_RATE_LIMIT

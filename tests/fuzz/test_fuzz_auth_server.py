"""Fuzzing every auth_server endpoint: no 5xx, and errors in the channel's own format."""

import pytest
from hypothesis import given

from auth_server import create_app

from .strategies import FUZZ_SETTINGS
from .strategies import check_response
from .strategies import http_requests
from .strategies import send

PAR_FIELDS = ["client_id", "client_secret", "response_type", "redirect_uri", "scope", "state", "nonce",
              "code_challenge", "code_challenge_method", "audience", "resource", "request_uri", "prompt"]
ENDPOINTS = [
    ("/oauth/par", "POST", PAR_FIELDS),
    ("/oauth/token", "POST", ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope",
                              "client_id", "client_secret"]),
    ("/authorize", "GET", PAR_FIELDS),
    ("/userinfo", "GET", ["access_token"]),
    ("/oauth/flow-trace", "POST", ["request_uri", "code", "client_id", "client_secret"]),
    ("/.well-known/openid-configuration", "GET", []),
    ("/.well-known/oauth-authorization-server", "GET", []),
    ("/.well-known/jwks.json", "GET", []),
    ("/interaction/xyz/login", "POST", ["username", "password", "csrf_token"]),
    ("/interaction/xyz/consent", "POST", ["allow", "deny", "csrf_token"]),
    ("/", "GET", []),
]
CREDENTIALS = [("notes-web", "notes-web-secret"), ("seed-cli", "seed-cli-secret"), ("notes-web", "wrong")]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One server for all the examples (a high rate limit: fuzzing is not a flood)."""
    path = tmp_path_factory.mktemp("fuzz") / "as.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "PAR_RATE_LIMIT": 10**9,
                      "WTF_CSRF_ENABLED": False})
    return app.test_client()


@FUZZ_SETTINGS
@given(request=http_requests(ENDPOINTS, CREDENTIALS))
def test_auth_server_never_fails_on_any_request(client, request):
    """Whatever arrives, the answer is a proper OAuth error or page, never a 500."""
    check_response(send(client, request), lambda path: path.startswith(("/oauth/", "/userinfo", "/.well-known/")))

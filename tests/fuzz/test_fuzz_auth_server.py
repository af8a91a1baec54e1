"""Fuzzing every auth_server endpoint: no 5xx, and errors in the channel's own format."""

import pytest
from hypothesis import given

from auth_server import create_app

from .strategies import FUZZ_SETTINGS
from .strategies import FUZZ_TIMEOUT
from .strategies import check_response
from .strategies import http_requests
from .strategies import mutated
from .strategies import send

pytestmark = FUZZ_TIMEOUT

PAR_FIELDS = ["client_id", "client_secret", "response_type", "redirect_uri", "scope", "state", "nonce",
              "code_challenge", "code_challenge_method", "audience", "resource", "request_uri", "prompt"]
# A push the server accepts (client_secret_post, PKCE S256): the fuzzer changes a few
# of its values, to reach the checks behind client authentication and response_type.
VALID_PUSH = {"client_id": "notes-web", "client_secret": "notes-web-secret", "response_type": "code",
              "redirect_uri": "http://localhost:3000/callback", "scope": "openid read:notes", "state": "xyz",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256",
              "audience": "urn:my-notes-api"}
ENDPOINTS = [
    ("/oauth/par", "POST", PAR_FIELDS, VALID_PUSH),
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


def is_back_channel(path):
    """The server's JSON endpoints: OAuth, userinfo and the well-known documents."""
    return path.startswith(("/oauth/", "/userinfo", "/.well-known/"))


@FUZZ_SETTINGS
@given(request=http_requests(ENDPOINTS, CREDENTIALS))
def test_auth_server_never_fails_on_any_request(client, request):
    """Whatever arrives, the answer is a proper OAuth error or page, never a 500."""
    check_response(send(client, request), is_back_channel)


@FUZZ_SETTINGS
@given(push=mutated(VALID_PUSH))
def test_push_near_a_valid_one_never_fails(client, push):
    """A valid push with a few values made hostile: 201 or an OAuth error, never a 500.

    The client authenticates, so each hostile value reaches the checks of the request
    itself (RFC 9126 §2.1), where a random request rarely gets.
    """
    check_response(client.post("/oauth/par", data=push), is_back_channel)

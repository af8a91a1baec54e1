"""Fuzzing every client_app page, anonymous and logged in: never a 500, always a page.

The authorization server and the Notes API are the client tests' fakes (over a
`responses` mock), so any 5xx would be the client's own fault.
"""

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from client_app import create_app

from ..client_app.conftest import FakeAuthServer
from ..client_app.conftest import FakeNotesApi
from .strategies import FUZZ_SETTINGS
from .strategies import FUZZ_TIMEOUT
from .strategies import check_response
from .strategies import http_requests
from .strategies import send

pytestmark = FUZZ_TIMEOUT

ISSUER = "http://as.test:9000"
ENDPOINTS = [
    ("/", "GET", []),
    ("/login", "POST", ["csrf_token"]),
    ("/callback", "GET", ["code", "state", "iss", "error", "error_description"]),
    ("/notes", "GET", []),
    ("/notes", "POST", ["text", "csrf_token"], {"text": "Buy oat milk"}),
    ("/logout", "POST", ["csrf_token"]),
    ("/healthz", "GET", []),
    ("/inspector", "GET", ["step"]),
    ("/inspector/step-mode", "POST", ["enabled", "csrf_token"]),
    ("/inspector/send/2", "POST", ["csrf_token"]),
    ("/inspector/send/8", "POST", ["csrf_token"]),
    ("/inspector/send/11", "POST", ["csrf_token"]),
    ("/inspector/export.json", "GET", []),
    ("/inspector/export.mmd", "GET", []),
    # /lab/run* are left out: they attack the live stack by design.
    ("/lab", "GET", []),
]


@pytest.fixture(scope="module")
def signing_key():
    """The fake authorization server's key."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def browsers(tmp_path_factory, signing_key):
    """An anonymous browser and a logged-in one (CSRF off, to reach the deeper code)."""
    path = tmp_path_factory.mktemp("fuzz") / "client.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "ISSUER": ISSUER, "SECRET_KEY": "fuzz",
                      "NOTES_API_URL": "http://notes-api.test:8000", "WTF_CSRF_ENABLED": False})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        fake = FakeAuthServer(http, signing_key, ISSUER, ISSUER)
        FakeNotesApi(http)
        logged_in = app.test_client()
        logged_in.post("/login")
        state = fake.pushes[-1]["form"]["state"]
        assert logged_in.get("/callback", query_string={"code": "c", "state": state, "iss": ISSUER}).status_code == 303
        yield [app.test_client(), logged_in]


@FUZZ_SETTINGS
@given(request=http_requests(ENDPOINTS), which=st.sampled_from([0, 1]))
def test_client_app_never_fails_on_any_request(browsers, request, which):
    """Every answer is a readable page (or a redirect), never a traceback or a 500."""
    check_response(send(browsers[which], request), lambda path: False)

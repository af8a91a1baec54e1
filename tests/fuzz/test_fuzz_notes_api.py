"""Fuzzing every notes_api endpoint, with garbage and with real tokens mixed in."""

import time

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import RSAKey

from notes_api import create_app

from .strategies import FUZZ_SETTINGS
from .strategies import check_response
from .strategies import http_requests
from .strategies import send

ISSUER = "http://localhost:9000"
ENDPOINTS = [
    ("/api/notes", "GET", []),
    ("/api/notes", "POST", ["text"]),
    ("/api", "GET", []),
    ("/healthz", "GET", []),
    ("/", "GET", []),
]


@pytest.fixture(scope="module")
def key():
    """The fake issuer's signing key."""
    return RSAKey.generate_key(2048, parameters={"kid": "fuzz", "alg": "RS256", "use": "sig"})


@pytest.fixture(scope="module")
def client(tmp_path_factory, key):
    """One API for all examples; the issuer's discovery and JWKS are mocked."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(ISSUER + "/.well-known/openid-configuration",
                 json={"issuer": ISSUER, "jwks_uri": ISSUER + "/.well-known/jwks.json"})
        mock.get(ISSUER + "/.well-known/jwks.json", json={"keys": [key.as_dict(private=False)]})
        path = tmp_path_factory.mktemp("fuzz") / "api.sqlite"
        yield create_app({"DATABASE_URL": f"sqlite:///{path}", "ISSUER": ISSUER}).test_client()


def token(key, **claims):
    """A signed access token, valid unless the claims say otherwise."""
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "alice", "aud": ["urn:my-notes-api"], "exp": now + 600, "iat": now,
            "scope": "read:notes write:notes", "client_id": "notes-web", "jti": "j"}
    body.update(claims)
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, body, key)


def is_api(path):
    """The API's JSON space: /api and everything under /api/."""
    return path == "/api" or path.startswith("/api/")


@FUZZ_SETTINGS
@given(request=http_requests(ENDPOINTS), which=st.integers(0, 3), swap=st.booleans())
def test_notes_api_never_fails_on_any_request(client, key, request, which, swap):
    """Random requests, some carrying real tokens: never a 500, errors as RFC 6750 JSON."""
    method, path, query, form, headers = request
    if swap:
        real = [token(key), token(key, scope="read:notes"), token(key, sub="x" * 300), token(key, exp=1)][which]
        headers = {"Authorization": "Bearer " + real}
    check_response(send(client, (method, path, query, form, headers)), is_api)

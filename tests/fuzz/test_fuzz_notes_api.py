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
from .strategies import FUZZ_TIMEOUT
from .strategies import check_response
from .strategies import http_requests
from .strategies import send

pytestmark = FUZZ_TIMEOUT

ISSUER = "http://localhost:9000"
ENDPOINTS = [
    ("/api/notes", "GET", []),
    ("/api/notes", "POST", ["text"], {"text": "Buy oat milk"}),
    ("/api", "GET", []),
    ("/healthz", "GET", []),
    ("/", "GET", []),
]

# Real tokens the fuzzer swaps in, by the claims that differ from a valid one.
REAL_TOKENS = {"valid": {}, "read-only": {"scope": "read:notes"}, "long-sub": {"sub": "x" * 300}, "expired": {"exp": 1}}


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
@given(request=http_requests(ENDPOINTS), which=st.one_of(st.just("valid"), st.sampled_from([None, *REAL_TOKENS])))
def test_notes_api_never_fails_on_any_request(client, key, request, which):
    """Random requests, most carrying real tokens: never a 500, errors as RFC 6750 JSON.

    Half the requests carry a valid token, so their bodies reach the code that reads them.
    """
    method, path, query, body, headers = request
    if which is not None:
        headers = {"Authorization": "Bearer " + token(key, **REAL_TOKENS[which])}
    check_response(send(client, (method, path, query, body, headers)), is_api)

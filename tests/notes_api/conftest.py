"""Fixtures for the notes API: a signing key, a mocked authorization server, the app, tokens.

The chain: signing_key -> make_auth_server -> auth_server -> settings -> make_app (or app) ->
client -> api, plus make_token (tokens like the authorization server's), assert_bearer_error
and config_from_env.
"""

import importlib.util
import re
import time
import uuid

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import RSAKey

from notes_api import config
from notes_api import create_app
from tests.app_pool import pool_fixture
from tests.app_pool import sqlite_file

ISSUER = "http://localhost:9000"
AUDIENCE = "urn:my-notes-api"
KID = "test-key-1"

# RFC 6750 §3: the characters an error_description may use (no '"' and no '\').
DESCRIPTION_CHARS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


class AuthServer:
    """The authorization server as the API sees it over HTTP, mocked with `responses`.

    Like the real one, its discovery document lists the public ISSUER URLs, whatever
    base URL it is reached at.
    """

    def __init__(self, mock, base):
        self.mock = mock
        self.discovery_url = base + "/.well-known/openid-configuration"
        self.jwks_url = base + "/.well-known/jwks.json"
        self.introspection_url = base + "/oauth/introspect"
        mock.get(self.discovery_url, json={
            "issuer": ISSUER,
            "authorization_endpoint": ISSUER + "/authorize",
            "token_endpoint": ISSUER + "/oauth/token",
            "jwks_uri": ISSUER + "/.well-known/jwks.json",
            "introspection_endpoint": ISSUER + "/oauth/introspect",
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    def publish(self, *keys):
        """Serve these keys' public halves as the JWKS (replacing what was served)."""
        jwks = {"keys": [key.as_dict(private=False) for key in keys]}
        self.mock.upsert(responses.GET, self.jwks_url, json=jwks)

    def calls_to(self, url):
        """How many requests the API made to this URL."""
        return sum(1 for call in self.mock.calls if call.request.url == url)

    @property
    def jwks_calls(self):
        """How many times the API fetched the JWKS."""
        return self.calls_to(self.jwks_url)


@pytest.fixture(scope="session")
def signing_key():
    """The authorization server's RSA signing key (made once: 2048-bit keys are slow)."""
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="session")
def other_key():
    """A second RSA key: an attacker's, or the issuer's next key after a rotation."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-key-2", "use": "sig", "alg": "RS256"})


@pytest.fixture
def http_mock():
    """Every outgoing HTTP request is mocked; an unregistered URL fails to connect."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_auth_server(http_mock, signing_key):
    """Mock the authorization server at a base URL, publishing `signing_key`."""

    def make(base):
        server = AuthServer(http_mock, base)
        server.publish(signing_key)
        return server

    return make


@pytest.fixture
def auth_server(make_auth_server):
    """The authorization server at its public URL, ISSUER."""
    return make_auth_server(ISSUER)


@pytest.fixture(scope="session")
def database_file():
    """The SQLite file of every test's apps, in memory (/dev/shm) where the system has one."""
    with sqlite_file("notes_api.sqlite") as database:
        yield database


app_pool = pool_fixture(create_app)


@pytest.fixture
def settings(database_file):
    """The test defaults, on the SQLite file, emptied first: each test starts from nothing."""
    database_file.empty()
    return {
        "TESTING": True,
        "DATABASE_URL": database_file.url,
        "ISSUER": ISSUER,
        "AUTH_SERVER_INTERNAL_URL": "",
        "AUDIENCE": AUDIENCE,
        "JWKS_URL": "",
    }


@pytest.fixture
def make_app(settings, auth_server):
    """Build the API on the test's SQLite file; keyword arguments override any setting."""

    def make(**overrides):
        return create_app({**settings, **overrides})

    return make


@pytest.fixture
def config_from_env(monkeypatch):
    """Read config.py afresh with these environment variables (None: unset); return its Config."""

    def load(**env):
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        # A separate module object, so the imported notes_api.config stays as it is.
        spec = importlib.util.spec_from_file_location("config_under_test", config.__file__)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Config

    return load


@pytest.fixture
def app(settings, auth_server, app_pool):
    """The API with the test defaults, as make_app() builds it, but built once per module."""
    app = app_pool.get(settings)
    yield app
    app_pool.release(app)


@pytest.fixture
def client(app):
    """A test client for the API."""
    return app.test_client()


@pytest.fixture
def make_token(signing_key):
    """Sign an access token shaped like the authorization server's (RFC 9068).

    Keyword arguments replace claims; a claim set to None is left out. `header`
    changes header fields the same way, and `key` signs with another key.
    """

    def make(header=None, key=None, **claims):
        now = int(time.time())
        token_header = {"alg": "RS256", "typ": "at+jwt", "kid": KID}
        token_header.update(header or {})
        token_claims = {
            "iss": ISSUER,
            "sub": "alice",
            "aud": [AUDIENCE, ISSUER + "/userinfo"],
            "client_id": "notes-web",
            "scope": "openid profile read:notes write:notes",
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        token_claims.update(claims)
        return jwt.encode(
            {name: value for name, value in token_header.items() if value is not None},
            {name: value for name, value in token_claims.items() if value is not None},
            key or signing_key,
            algorithms=[token_header["alg"]],
            default_type=None,
        )

    return make


class NotesAPI:
    """Calls the notes API the way the client app does: a bearer token in the header."""

    def __init__(self, client):
        self.client = client

    @staticmethod
    def headers(token):
        """The Authorization header for a token (none for None)."""
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    def list_notes(self, token, **kwargs):
        """GET /api/notes with this token."""
        return self.client.get("/api/notes", headers=self.headers(token), **kwargs)

    def add_note(self, token, **kwargs):
        """POST /api/notes with this token; pass json= or data= for the body."""
        return self.client.post("/api/notes", headers=self.headers(token), **kwargs)


@pytest.fixture
def api(client):
    """The notes API, called with bearer tokens."""
    return NotesAPI(client)


@pytest.fixture
def assert_bearer_error():
    """Check an RFC 6750 §3 error: the status, the challenge and the JSON body agree."""

    def check(response, status, error, scope=None):
        assert response.status_code == status
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="notes_api", ')
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        assert params["error"] == error
        assert params["error_description"]
        assert DESCRIPTION_CHARS.fullmatch(params["error_description"])
        assert params.get("scope") == scope
        body = response.get_json()
        assert body["error"] == error
        assert body["error_description"] == params["error_description"]
        assert body.get("scope") == scope

    return check

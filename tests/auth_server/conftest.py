"""Fixtures for the authorization server: app -> client -> flow helper."""

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs
from urllib.parse import urlparse

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from auth_server import create_app
from auth_server.config import Config
from tests.app_pool import pool_fixture
from tests.app_pool import sqlite_file

WEB = ("notes-web", "notes-web-secret")
CALLBACK = "http://localhost:3000/callback"
ISSUER = Config.ISSUER
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A relying party of a test's own that authenticates by private_key_jwt (RFC 7523 §2.2),
# its keys given by value; tests register it with a CLIENTS list (rp_with_keys).
JWT_RP = "rp-jwt"


def s256(verifier):
    """RFC 7636 §4.2: the S256 code challenge for a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def csrf_token(html):
    """The CSRF token Flask-WTF put in a form."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="session")
def signing_keys():
    """One key pair per signing alg for the whole session, as keys.py makes them: making them per app is slow."""
    def make(alg):
        parameters = {"use": "sig", "alg": alg}
        if alg == "ES256":
            return ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)
        return RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)
    return [make(alg) for alg in Config.SIGNING_ALGS]


@pytest.fixture(scope="session")
def signing_key(signing_keys):
    """The key of the default alg (SIGNING_ALG): the one notes-web's tokens are signed with."""
    return next(key for key in signing_keys if key.alg == Config.SIGNING_ALG)


@pytest.fixture(scope="session")
def client_keys():
    """A relying party's own key pairs, one per alg it may sign with, made once per session."""
    return {
        "PS256": RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "PS256"}, auto_kid=True),
        "ES256": ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True),
    }


def public_jwks(client_keys):
    """The relying party's public keys as a JWK Set (what it registers as `jwks`)."""
    return {"keys": [key.as_dict(private=False) for key in client_keys.values()]}


def rp_with_keys(client_keys, client_id=JWT_RP, **metadata):
    """Client metadata for a private_key_jwt relying party, as in a clients file."""
    return {
        "client_id": client_id, "client_name": "A test relying party",
        "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": public_jwks(client_keys), "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"], "scope": "openid profile email read:notes write:notes offline_access",
        "require_pushed_authorization_requests": True, **metadata,
    }


def client_assertion(client_id, key, alg=None, header=None, **claims):
    """RFC 7523 §3: a client assertion signed with the client's key; claims override the usual."""
    values = {"iss": client_id, "sub": client_id, "aud": ISSUER, "iat": int(time.time()),
              "exp": int(time.time()) + 60, "jti": secrets.token_urlsafe(16), **claims}
    values = {name: value for name, value in values.items() if value is not None}
    alg = alg or key.alg
    return jwt.encode({"alg": alg, "kid": key.kid, **(header or {})}, values, key, algorithms=[alg])


def jwt_auth(client_id, key, **claims):
    """The form fields of private_key_jwt client authentication."""
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": client_assertion(client_id, key, **claims)}


def b64(data):
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def make_proof(key, htu, htm="POST", nonce=None, header=None, sign_with=None, alg="ES256", **claims):
    """A DPoP proof (RFC 9449 §4.2); keyword arguments replace claims (None leaves one out)."""
    proof_header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    proof_header.update(header or {})
    proof_claims = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time()), "nonce": nonce}
    proof_claims.update(claims)
    proof_claims = {name: value for name, value in proof_claims.items() if value is not None}
    return jwt.encode(proof_header, proof_claims, sign_with or key, algorithms=[alg])


@pytest.fixture(scope="session")
def database_file():
    """The SQLite file of every test's apps, in memory (/dev/shm): writing to disk was much of the tests' time."""
    with sqlite_file("as.sqlite") as database:
        yield database


@pytest.fixture
def test_config(database_file, signing_keys):
    """The settings every test app starts from: the SQLite file, emptied first (each test
    starts from nothing), and the two tests-only shortcuts of config.py (a cheap password
    hash, a ready-made key)."""
    database_file.empty()
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_file.url,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        "TEST_SIGNING_KEYS": signing_keys,
    }


app_pool = pool_fixture(create_app)


@pytest.fixture
def make_app(test_config, app_pool):
    """create_app for the `app` fixtures of test modules: the same app, built once per module and settings."""
    handed_out = []

    def make(settings):
        app = app_pool.get(settings)
        handed_out.append(app)
        return app

    yield make
    for app in handed_out:
        app_pool.release(app)


@pytest.fixture
def app(make_app, test_config):
    """The authorization server create_app(test_config) makes, on a fresh database."""
    return make_app(test_config)


@pytest.fixture
def client(app):
    """A test client: it plays the browser and the back-channel caller alike."""
    return app.test_client()


class Flow:
    """Drives the notes-web client's PAR flow, one step per method."""

    def __init__(self, client):
        self.client = client
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(8)
        self.nonce = secrets.token_urlsafe(8)

    def params(self, **overrides):
        """The authorization request the web client pushes (step 2)."""
        params = {
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": "openid profile email read:notes write:notes offline_access",
            "audience": "urn:my-notes-api",
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": s256(self.verifier),
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def push(self, auth=WEB, **overrides):
        """Step 2: POST /oauth/par with HTTP Basic client authentication."""
        return self.client.post("/oauth/par", auth=auth, data=self.params(**overrides))

    def request_uri(self, **overrides):
        """Steps 2-3: push and return the request_uri."""
        response = self.push(**overrides)
        assert response.status_code == 201, response.json
        return response.json["request_uri"]

    def authorize(self, request_uri, client_id="notes-web", **extra):
        """Step 4: the browser arrives at /authorize."""
        return self.client.get("/authorize", query_string={"client_id": client_id, "request_uri": request_uri, **extra})

    def login(self, login_url, username="alice", password="alice"):
        """Step 5: fill in and post the login form."""
        page = self.client.get(login_url)
        return self.client.post(login_url, data={"csrf_token": csrf_token(page.text),
                                                 "username": username, "password": password})

    def consent(self, consent_url, decision="allow"):
        """Steps 6-7: post the consent form; returns the redirect to the client."""
        page = self.client.get(consent_url)
        return self.client.post(consent_url, data={"csrf_token": csrf_token(page.text), decision: decision.title()})

    def code(self, **overrides):
        """Steps 2-7 in one go: the authorization response's query parameters."""
        login_url = self.authorize(self.request_uri(**overrides)).location
        consent_url = self.login(login_url).location
        response = self.consent(consent_url)
        assert response.status_code == 303
        return {k: v[0] for k, v in parse_qs(urlparse(response.location).query).items()}

    def exchange(self, code, auth=WEB, **overrides):
        """Step 8: redeem the code at the token endpoint."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": self.verifier}
        data.update(overrides)
        return self.client.post("/oauth/token", auth=auth, data={k: v for k, v in data.items() if v is not None})

    def tokens(self, **overrides):
        """Steps 2-10: a fresh token response."""
        response = self.exchange(self.code(**overrides)["code"])
        assert response.status_code == 200, response.json
        return response.json

    def refresh(self, refresh_token, auth=WEB):
        """Refresh grant with the given refresh token."""
        return self.client.post("/oauth/token", auth=auth,
                                data={"grant_type": "refresh_token", "refresh_token": refresh_token})


@pytest.fixture
def flow(client):
    """A PAR flow helper bound to the test client (one browser)."""
    return Flow(client)


@pytest.fixture
def other_browser(app):
    """A second browser: its own cookie jar."""
    return Flow(app.test_client())


@pytest.fixture
def jwks(client):
    """The server's published key set."""
    from joserfc.jwk import KeySet
    return KeySet.import_key_set(client.get("/.well-known/jwks.json").json)

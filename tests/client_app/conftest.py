"""Fixtures for the notes client.

The chain: settings -> app -> client -> http (every outbound call mocked) ->
auth_server / notes_api / flow_trace (fake peers on that mock) -> flow (drives a
browser login).
The fake peers record what the client sent, so tests can assert on the wire.
"""

import base64
import html
import json
import re
import time
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from client_app import create_app
from client_app.models import LoginSession
from client_app.models import db
from tests.app_pool import pool_fixture
from tests.app_pool import sqlite_file

# Fixed test addresses, deliberately not the demo defaults: nothing may hard-code them.
ISSUER = "http://as.test:9000"
NOTES_API = "http://notes-api.test:8000"
CLIENT_ID = "notes-web"
CLIENT_SECRET = "notes-web-secret"
REDIRECT_URI = "http://localhost:3000/callback"
SCOPE = "openid profile email read:notes write:notes offline_access"
KID = "test-key-1"


@pytest.fixture(scope="session")
def signing_key():
    """The fake AS's RSA signing key, generated once per test session."""
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="session")
def other_key():
    """A second RSA key: an attacker's, or the AS's next key after rotation."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-key-2", "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="session")
def database_file():
    """The SQLite file of every test's apps, in memory (/dev/shm) where the system has one."""
    with sqlite_file("client_app.sqlite") as database:
        yield database


@pytest.fixture
def settings(database_file):
    """The test configuration; a test class may override this fixture to change one setting.

    Its SQLite file is emptied first: each test starts from nothing.
    """
    database_file.empty()
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_file.url,
        "ISSUER": ISSUER,
        "AUTH_SERVER_INTERNAL_URL": "",
        # Not fapi2, whose key pairs cost time to make: the tests of that profile add it.
        "PROFILES": ("classic", "par"),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "TOKEN_ENDPOINT_AUTH_METHOD": "client_secret_basic",
        "REDIRECT_URI": REDIRECT_URI,
        "SCOPE": SCOPE,
        "AUDIENCE": "urn:my-notes-api",
        "RESOURCE": "",
        "NOTES_API_URL": NOTES_API,
    }


app_pool = pool_fixture(create_app)


@pytest.fixture
def app(settings, app_pool):
    """A client app as create_app(settings) makes it, on a fresh database."""
    app = app_pool.get(settings)
    yield app
    app_pool.release(app)


@pytest.fixture
def client(app):
    """A test browser for the app."""
    return app.test_client()


@pytest.fixture
def http():
    """Mock every outbound HTTP call; a URL nobody registered is a connection error."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _json_response(status, body, headers=None):
    """A (status, headers, body) triple for a `responses` callback."""
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body)


def unverified_claims(token):
    """A JWT's claims, read without checking its signature (what a fake peer may do)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class FakeAuthServer:
    """The AS's back channel: discovery, PAR, token and JWKS, as auth_server answers them.

    Attributes a test may change: `down`, `par_error`, `par_expires_in`, `token_error`,
    `refresh_error`, `expires_in`, `id_token_claims` (overrides; None deletes a claim),
    `omit_id_token`, `token_extra` (merged into token responses), `id_token_key`, `published_keys`,
    `id_token_alg`, `dpop_nonce` (RFC 9449 §8: the nonce proofs must carry; None: no nonce asked)
    and `par_gives_nonce` (whether PAR answers with it in DPoP-Nonce).
    """

    def __init__(self, http, signing_key, issuer, base):
        self.issuer = issuer
        self.base = base
        self.down = False
        self.par_error = None
        self.par_expires_in = 30
        self.token_error = None
        self.refresh_error = None
        self.expires_in = 3600
        self.id_token_claims = {}
        self.omit_id_token = False
        self.token_extra = {}
        self.id_token_key = signing_key
        self.published_keys = [signing_key]
        self.id_token_alg = "RS256"
        self.dpop_nonce = None
        self.par_gives_nonce = True
        # What the client sent, in order.
        self.discovery_fetches = 0
        self.jwks_fetches = 0
        self.pushes = []
        # The classic profile's request, read from step 4's URL (LoginFlow.start sets it).
        self.sent_in_url = None
        self.token_requests = []
        self.issued = 0
        http.add_callback("GET", f"{base}/.well-known/openid-configuration", self._discovery)
        http.add_callback("POST", f"{base}/oauth/par", self._par)
        http.add_callback("POST", f"{base}/oauth/token", self._token)
        http.add_callback("GET", f"{base}/.well-known/jwks.json", self._jwks)

    def _discovery(self, request):
        """OIDC Discovery: every endpoint under the public issuer (less any trailing "/")."""
        self.discovery_fetches += 1
        if self.down:
            return requests.ConnectionError("connection refused")
        root = self.issuer.rstrip("/")
        return _json_response(200, {
            "issuer": self.issuer,
            "authorization_endpoint": f"{root}/authorize",
            "token_endpoint": f"{root}/oauth/token",
            "pushed_authorization_request_endpoint": f"{root}/oauth/par",
            "require_pushed_authorization_requests": True,
            "userinfo_endpoint": f"{root}/userinfo",
            "jwks_uri": f"{root}/.well-known/jwks.json",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    def _par(self, request):
        """RFC 9126 §2: record the push; 201 with a request_uri."""
        self.pushes.append({"form": dict(parse_qsl(request.body)),
                            "authorization": request.headers.get("Authorization"),
                            "dpop": request.headers.get("DPoP")})
        if self.down:
            return requests.ConnectionError("connection refused")
        if self.par_error:
            return _json_response(*self.par_error)
        nonce = {"DPoP-Nonce": self.dpop_nonce} if self.dpop_nonce and self.par_gives_nonce else {}
        return _json_response(201, {
            "request_uri": f"urn:ietf:params:oauth:request_uri:req-{len(self.pushes)}",
            "expires_in": self.par_expires_in,
        }, nonce)

    def _token(self, request):
        """RFC 6749 §4.1.3 and §6: record the grant; tokens, rotated on every refresh."""
        form = dict(parse_qsl(request.body))
        proof = request.headers.get("DPoP")
        self.token_requests.append({"form": form, "authorization": request.headers.get("Authorization"),
                                    "dpop": proof})
        if self.down:
            return requests.ConnectionError("connection refused")
        if self.dpop_nonce and (not proof or unverified_claims(proof).get("nonce") != self.dpop_nonce):
            return _json_response(400, {"error": "use_dpop_nonce"}, {"DPoP-Nonce": self.dpop_nonce})
        if form.get("grant_type") == "refresh_token" and self.refresh_error:
            return _json_response(*self.refresh_error)
        if form.get("grant_type") == "authorization_code" and self.token_error:
            return _json_response(*self.token_error)
        self.issued += 1
        body = {
            "access_token": f"access-token-{self.issued}",
            "refresh_token": f"refresh-token-{self.issued}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": SCOPE,
        }
        if form.get("grant_type") == "authorization_code" and not self.omit_id_token:
            body["id_token"] = self.mint_id_token(nonce=self.pushed_parameters()["nonce"])
        body.update(self.token_extra)
        return _json_response(200, body)

    def _jwks(self, request):
        """RFC 7517: the public keys."""
        self.jwks_fetches += 1
        return _json_response(200, {"keys": [key.as_dict(private=False) for key in self.published_keys]})

    def mint_id_token(self, nonce):
        """An ID token as the AS signs it (OIDC Core §2), with this test's overrides."""
        issued_at = int(time.time())
        claims = {
            "iss": self.issuer, "sub": "alice", "aud": CLIENT_ID, "azp": CLIENT_ID,
            "exp": issued_at + 3600, "iat": issued_at, "auth_time": issued_at, "nonce": nonce,
            "name": "Alice Liddell", "preferred_username": "alice", "email": "alice@example.com",
        }
        claims.update(self.id_token_claims)
        claims = {name: value for name, value in claims.items() if value is not None}
        header = {"alg": self.id_token_alg, "kid": self.id_token_key.kid}
        return jwt.encode(header, claims, self.id_token_key, algorithms=[self.id_token_alg])

    def pushed_parameters(self):
        """The last authorization request: classic's URL, or the push's form or request object's claims (RFC 9101)."""
        if self.sent_in_url is not None:
            return self.sent_in_url
        form = self.pushes[-1]["form"]
        return unverified_claims(form["request"]) if "request" in form else form

    def refresh_requests(self):
        """The refresh_token grants the client made."""
        return [r for r in self.token_requests if r["form"].get("grant_type") == "refresh_token"]


@pytest.fixture
def auth_server(http, app, signing_key):
    """A fake AS at the app's back-channel base, with the app's public issuer."""
    base = app.config["AUTH_SERVER_INTERNAL_URL"] or app.config["ISSUER"].rstrip("/")
    return FakeAuthServer(http, signing_key, app.config["ISSUER"], base)


class FakeNotesApi:
    """The Notes API: /api/notes GET and POST, checking nothing but recording everything.

    Attributes a test may change: `down` (an exception to raise) and `answers`
    (a list of (status, body, headers) to give, one per call, before behaving normally).
    """

    def __init__(self, http):
        self.notes = [{"id": 1, "text": "Buy milk", "created_at": "2025-01-01T10:00:00Z"}]
        self.down = None
        self.answers = []
        self.requests = []
        # The DPoP header of each request (RFC 9449 §7.1), None where there was none.
        self.proofs = []
        http.add_callback("GET", f"{NOTES_API}/api/notes", self._handle)
        http.add_callback("POST", f"{NOTES_API}/api/notes", self._handle)

    def _handle(self, request):
        """Record the call, then answer it."""
        body = json.loads(request.body) if request.body else None
        self.requests.append({"method": request.method, "authorization": request.headers.get("Authorization"),
                              "json": body})
        self.proofs.append(request.headers.get("DPoP"))
        if self.down is not None:
            return self.down
        if self.answers:
            return _json_response(*self.answers.pop(0))
        if request.method == "POST":
            note = {"id": len(self.notes) + 1, "text": body["text"]}
            self.notes.append(note)
            return _json_response(201, note)
        return _json_response(200, {"notes": self.notes})

    def bearer_tokens(self):
        """The access tokens the client presented, in order."""
        return [r["authorization"] for r in self.requests]


@pytest.fixture
def notes_api(http):
    """A fake Notes API."""
    return FakeNotesApi(http)


class LoginFlow:
    """Drives a browser through the client: forms with CSRF tokens, login, callback."""

    def __init__(self, app, client, auth_server):
        self.app = app
        self.client = client
        self.auth_server = auth_server

    def csrf_token(self, path="/"):
        """The CSRF token from a page's form, as a browser would submit it."""
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def post_form(self, path, data=None, page="/"):
        """Submit a form on `page` to `path`, with its CSRF token."""
        return self.client.post(path, data={"csrf_token": self.csrf_token(page), **(data or {})})

    def start(self, profile=None):
        """Steps 1-4: click "Log in" (with a profile chosen, or the one preselected)."""
        response = self.post_form("/login", {"profile": profile} if profile else None)
        # Classic: the request rides in step 4's URL; the fake AS reads it from there.
        query = dict(parse_qsl(urlsplit(response.headers.get("Location", "")).query))
        self.auth_server.sent_in_url = query if "state" in query else None
        return response

    def pushed(self):
        """The parameters of the client's last push, as the AS received them."""
        return self.auth_server.pushed_parameters()

    def callback(self, **params):
        """Step 7: come back from the AS; a param set to None is left out."""
        query = {"code": "the-code", "state": self.pushed()["state"], "iss": self.auth_server.issuer}
        query.update(params)
        return self.client.get("/callback", query_string={k: v for k, v in query.items() if v is not None})

    def complete(self):
        """A whole successful login; returns the callback's response."""
        self.start()
        response = self.callback()
        assert response.status_code == 303
        assert response.headers["Location"] == "/notes"
        return response

    def rows(self):
        """Every LoginSession row in the database."""
        with self.app.app_context():
            rows = db.session.scalars(select(LoginSession)).all()
            db.session.expunge_all()
            return rows

    def row(self):
        """The one LoginSession row (asserts there is exactly one)."""
        rows = self.rows()
        assert len(rows) == 1
        return rows[0]

    def cookie_session(self):
        """The decoded Flask cookie session (what the browser holds)."""
        cookie = self.client.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        if cookie is None:
            return {}
        return self.app.session_interface.get_signing_serializer(self.app).loads(cookie.value)


@pytest.fixture
def flow(app, client, auth_server, notes_api):
    """A browser-login helper on top of the fake AS and Notes API."""
    return LoginFlow(app, client, auth_server)


@pytest.fixture
def expect_page():
    """Check a response is a readable, blue-labelled client page with a status and texts."""

    def check(response, status, *texts):
        """Assert on the page; returns its unescaped text."""
        page = html.unescape(response.get_data(as_text=True))
        assert response.status_code == status
        assert response.mimetype == "text/html"
        assert "Notes app — the client" in page
        assert "#1f5fbf" in page
        assert "Traceback" not in page
        for text in texts:
            assert text in page, f"{text!r} not on the page"
        return page

    return check


class FakeFlowTrace:
    """The AS's POST /oauth/flow-trace (auth_server/flow_trace.py), answering like it does.

    Attributes a test may change: `down` (an exception), `status` (404 for "no such
    flow"), `token_status` and `failed_check` (a refused token request).
    """

    CHECKS = ("client_authenticated", "grant_type_allowed", "code_present", "code_valid",
              "redirect_uri_matches", "pkce_verified", "user_exists", "tokens_issued")

    def __init__(self, http, base):
        self.down = None
        self.status = 200
        self.token_status = 200
        self.failed_check = None
        self.requests = []
        http.add_callback("POST", f"{base}/oauth/flow-trace", self._handle)

    def _handle(self, request):
        """Record who asked about which flow; answer with the flow's record."""
        form = dict(parse_qsl(request.body))
        self.requests.append({"form": form, "authorization": request.headers.get("Authorization")})
        if self.down is not None:
            return self.down
        if self.status != 200:
            return _json_response(self.status, {"error": "invalid_request", "error_description": "No flow."})
        return _json_response(200, self.report(form.get("request_uri", "")))

    def report(self, request_uri):
        """A flow record as the AS writes it: steps 2-6 served, step 9's checks."""
        at = int(time.time())
        served = [(2, "back", "POST", "/oauth/par", 201, None, "pushed request stored; request_uri issued"),
                  (4, "front", "GET", f"/authorize?client_id={CLIENT_ID}&request_uri={request_uri}", 303,
                   "/interaction/i1/login", "request_uri used up; the pushed parameters are the request"),
                  (5, "front", "GET", "/interaction/i1/login", 200, None, "login page shown"),
                  (5, "front", "POST", "/interaction/i1/login", 303, "/interaction/i1/consent", "user authenticated"),
                  (5, "front", "GET", "/interaction/i1/consent", 200, None, "consent page shown with the pushed scopes"),
                  (6, "front", "POST", "/interaction/i1/consent", 303, REDIRECT_URI + "?code=…&state=…&iss=…",
                   "user allowed; code sent back to the client through the browser (step 7)")]
        requests = [{"step": s, "channel": c, "method": m, "path": p, "status": st, "note": n, "at": at,
                     **({"location": loc} if loc else {})} for s, c, m, p, st, loc, n in served]
        outcome, checks = "passed", []
        for check in self.CHECKS:
            if check == self.failed_check:
                outcome = "failed"
            checks.append({"id": check, "check": check.replace("_", " "), "rule": "RFC 6749",
                           "outcome": outcome, "detail": "the detail" if outcome == "failed" else ""})
            if outcome == "failed":
                outcome = "not reached"
        error = None if self.token_status == 200 else "invalid_grant"
        token_request = {"step": 9, "status": self.token_status, "auth_method": "client_secret_basic",
                         "error": error, "error_description": error and "Invalid 'code' in request.",
                         "checks": checks, "at": at}
        return {"client_id": CLIENT_ID, "request_uri": request_uri, "pushed_at": at, "code_issued": True,
                "requests": requests, "token_requests": [token_request]}


@pytest.fixture
def flow_trace(http, app):
    """A fake flow-trace endpoint at the AS's back-channel base."""
    return FakeFlowTrace(http, app.config["AUTH_SERVER_INTERNAL_URL"] or app.config["ISSUER"])

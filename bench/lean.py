"""The flow's protocol floor: the same twelve requests, each doing only the work its step needs.

Not a server to use or to learn from: the services in auth_server/, client_app/ and
notes_api/ are that. These three apps answer the flow the benchmark's browser plays
(bench/run.py) with the least a persistent, multi-worker PAR flow must do at each step,
and nothing else: no Authlib, no ORM, no inspector or flow trace, no login throttle, no
consent memory, no refresh token, no log line but gunicorn's. What is left:

- the push: client authentication (a SELECT), a per-client rate counter (an upsert),
  the pushed request stored (an INSERT), one commit (RFC 9126 §2);
- /authorize: the request_uri used up and a login started, one commit (§4, §7.3);
- the login and consent pages and forms: the login read, a CSRF token checked,
  the user looked up (no password check: `make bench` times the login POST apart);
- consent: the login closed and a code stored, one commit (RFC 6749 §4.1.2);
- the token request: client authentication, the code claimed in one UPDATE, PKCE
  (RFC 7636 §4.6), an access token and an ID token signed (RS256), the token row
  stored, one commit;
- the client: state, nonce and PKCE kept in its database, the ID token's signature
  and claims checked (OIDC Core §3.1.3.7), the notes page rendered;
- the API: the access token's signature and claims checked (RFC 9068 §4), the notes read.

Keys come from the AS's JWKS over HTTP, once per process, as the real services do.
`make bench` runs these under the same gunicorn settings as the stack
(`run.start_floor_stack`) and reports the flow's latency beside the stack's and the
empty views' (bench/apps.py).
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import requests
from flask import Flask
from flask import abort
from flask import redirect
from flask import request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

CLIENT_ID, CLIENT_SECRET, USER = "lean-client", "lean-secret", "alice"
AUDIENCE, SCOPE = "urn:my-notes-api", "openid read:notes"
PUSH_LIMIT = 10**9  # pushes per client per minute: counted, never reached here


def form_page(csrf_token, fields=""):
    """A page with one form, its CSRF field where the benchmark's browser reads it."""
    return (f'<form method="post">{fields}'
            f'<input type="hidden" name="csrf_token" value="{csrf_token}"></form>')


def s256(verifier):
    """RFC 7636 §4.2: BASE64URL(SHA256(code_verifier))."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class Database:
    """One SQLite file per service, one connection per gunicorn worker (opened after the fork)."""

    def __init__(self, path, schema, rows=()):
        """Create the tables and store `rows` ((statement, values) pairs), on a connection closed
        at once: a SQLite connection must not cross gunicorn's fork into the workers."""
        self.path, self.pid, self._connection = path, None, None
        setup = sqlite3.connect(path)
        try:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.executescript(schema)
            for statement, values in rows:
                setup.execute(statement, values)
            setup.commit()
        finally:
            setup.close()

    def connection(self):
        """This worker's connection, opened on its first request."""
        if self.pid != os.getpid():
            self._connection = sqlite3.connect(self.path, isolation_level=None)  # we say BEGIN ourselves
            self._connection.row_factory = sqlite3.Row  # columns by name or by position
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute("PRAGMA busy_timeout=5000")
            self.pid = os.getpid()
        return self._connection


@contextmanager
def transaction(connection):
    """BEGIN IMMEDIATE, the caller's statements, then COMMIT (ROLLBACK if they raise)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def lean_auth_server():
    """The authorization server's seven requests of one flow.

    Its signing key and CSRF key are made here, once: gunicorn's preload_app (the
    stack's setting, which the floors share) hands the same ones to every worker.
    """
    app = Flask("lean_auth_server")
    issuer, client_url = os.environ["FLOOR_AUTH_SERVER"], os.environ["FLOOR_CLIENT_APP"]
    redirect_uri = client_url + "/callback"
    key = RSAKey.generate_key(2048, parameters={"kid": "lean", "alg": "RS256", "use": "sig"}, private=True)
    csrf_key = secrets.token_bytes(32)
    db = Database(os.environ["FLOOR_DB_DIR"] + "/lean_auth.sqlite", """
        CREATE TABLE IF NOT EXISTS client (client_id TEXT PRIMARY KEY, secret TEXT, redirect_uri TEXT);
        CREATE TABLE IF NOT EXISTS push_rate (client_id TEXT PRIMARY KEY, window INTEGER, pushes INTEGER);
        CREATE TABLE IF NOT EXISTS pushed (ref TEXT PRIMARY KEY, client_id TEXT, params TEXT,
                                           expires_at INTEGER, used INTEGER DEFAULT 0);
        CREATE TABLE IF NOT EXISTS login (id TEXT PRIMARY KEY, browser TEXT, client_id TEXT, params TEXT,
                                          sub TEXT, done INTEGER DEFAULT 0);
        CREATE TABLE IF NOT EXISTS code (code TEXT PRIMARY KEY, client_id TEXT, params TEXT, sub TEXT,
                                         expires_at INTEGER, used INTEGER DEFAULT 0);
        CREATE TABLE IF NOT EXISTS token (jti TEXT PRIMARY KEY, client_id TEXT, sub TEXT, expires_at INTEGER);
        CREATE TABLE IF NOT EXISTS user (username TEXT PRIMARY KEY, sub TEXT);
    """, rows=[("INSERT OR REPLACE INTO client VALUES (?, ?, ?)", (CLIENT_ID, CLIENT_SECRET, redirect_uri)),
               ("INSERT OR REPLACE INTO user VALUES (?, ?)", (USER, USER))])

    def authenticated_client():
        """RFC 6749 §2.3.1: HTTP Basic, checked against the stored secret."""
        auth = request.authorization
        row = auth and db.connection().execute(
            "SELECT secret FROM client WHERE client_id = ?", (auth.username,)).fetchone()
        if not row or not hmac.compare_digest(row[0], auth.password or ""):
            abort(401)
        return auth.username

    def browser_login(login_id):
        """The login this browser started (its cookie), not closed yet."""
        row = db.connection().execute(
            "SELECT client_id, params, sub FROM login WHERE id = ? AND browser = ? AND done = 0",
            (login_id, request.cookies.get("lean_browser", ""))).fetchone()
        if row is None:
            abort(400)
        return row[0], json.loads(row[1]), row[2]

    def csrf_token(login_id):
        """The login's CSRF token: bound to it by an HMAC, so nothing is stored."""
        return hmac.new(csrf_key, login_id.encode(), "sha256").hexdigest()

    def check_csrf(login_id):
        """RFC 6749 §10.12's defence on the login and consent forms."""
        if not hmac.compare_digest(request.form.get("csrf_token", ""), csrf_token(login_id)):
            abort(400)

    @app.get("/.well-known/jwks.json")
    def jwks():
        return {"keys": [key.as_dict(private=False)]}

    @app.post("/par")
    def par():
        client_id = authenticated_client()
        params = request.form.to_dict()
        if (params.get("response_type") != "code" or params.get("redirect_uri") != redirect_uri
                or params.get("code_challenge_method") != "S256" or not params.get("code_challenge")
                or "request_uri" in params):
            return {"error": "invalid_request"}, 400
        ref, at = secrets.token_urlsafe(32), int(time.time())
        with transaction(db.connection()) as connection:
            pushes = connection.execute(
                "INSERT INTO push_rate VALUES (?, ?, 1) ON CONFLICT (client_id) DO UPDATE SET "
                "pushes = CASE WHEN window = excluded.window THEN pushes + 1 ELSE 1 END, window = excluded.window "
                "RETURNING pushes", (client_id, at // 60)).fetchone()[0]
            if pushes > PUSH_LIMIT:
                return {"error": "slow_down"}, 429
            connection.execute("INSERT INTO pushed (ref, client_id, params, expires_at) VALUES (?, ?, ?, ?)",
                               (ref, client_id, json.dumps(params), at + 30))
        return {"request_uri": "urn:ietf:params:oauth:request_uri:" + ref, "expires_in": 30}, 201

    @app.get("/authorize")
    def authorize():
        ref = request.args.get("request_uri", "").removeprefix("urn:ietf:params:oauth:request_uri:")
        login_id, browser = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with transaction(db.connection()) as connection:
            pushed = connection.execute(
                "UPDATE pushed SET used = 1 WHERE ref = ? AND client_id = ? AND used = 0 AND expires_at >= ? "
                "RETURNING params", (ref, request.args.get("client_id"), int(time.time()))).fetchone()
            if pushed is None:
                return "This request_uri is unknown, expired or used.", 400
            connection.execute("INSERT INTO login (id, browser, client_id, params) VALUES (?, ?, ?, ?)",
                               (login_id, browser, request.args["client_id"], pushed[0]))
        response = redirect(f"/login/{login_id}", code=303)
        response.set_cookie("lean_browser", browser, httponly=True, samesite="Lax")
        return response

    @app.route("/login/<login_id>", methods=["GET", "POST"])
    def login(login_id):
        # Any password will do: `make bench` times the login POST (the password check) apart.
        browser_login(login_id)
        if request.method == "GET":
            return form_page(csrf_token(login_id), '<input name="username"><input name="password" type="password">')
        check_csrf(login_id)
        user = db.connection().execute(
            "SELECT sub FROM user WHERE username = ?", (request.form.get("username"),)).fetchone()
        if user is None:
            return "Unknown user.", 400
        with transaction(db.connection()) as connection:
            connection.execute("UPDATE login SET sub = ? WHERE id = ?", (user[0], login_id))
        return redirect(f"/consent/{login_id}", code=303)

    @app.route("/consent/<login_id>", methods=["GET", "POST"])
    def consent(login_id):
        client_id, params, sub = browser_login(login_id)
        if sub is None:
            abort(400)
        if request.method == "GET":
            return form_page(csrf_token(login_id), f"<p>{client_id} asks for {params.get('scope', '')}</p>")
        check_csrf(login_id)
        code = secrets.token_urlsafe(32)
        with transaction(db.connection()) as connection:
            if connection.execute("UPDATE login SET done = 1 WHERE id = ? AND done = 0", (login_id,)).rowcount != 1:
                abort(400)
            connection.execute("INSERT INTO code (code, client_id, params, sub, expires_at) VALUES (?, ?, ?, ?, ?)",
                               (code, client_id, json.dumps(params), sub, int(time.time()) + 60))
        query = urlencode({"code": code, "state": params.get("state", ""), "iss": issuer})
        return redirect(f"{params['redirect_uri']}?{query}", code=303)

    @app.post("/token")
    def token():
        client_id = authenticated_client()
        form, at = request.form, int(time.time())
        if form.get("grant_type") != "authorization_code":
            return {"error": "unsupported_grant_type"}, 400
        with transaction(db.connection()) as connection:
            claimed = connection.execute(
                "UPDATE code SET used = 1 WHERE code = ? AND client_id = ? AND used = 0 AND expires_at >= ? "
                "RETURNING params, sub", (form.get("code"), client_id, at)).fetchone()
            if claimed is None:
                return {"error": "invalid_grant"}, 400
            # The claim commits whatever follows: a code that fails a check below is spent, as on the stack.
            params, sub = json.loads(claimed[0]), claimed[1]
            if (form.get("redirect_uri") != params["redirect_uri"]
                    or s256(form.get("code_verifier", "")) != params["code_challenge"]):
                return {"error": "invalid_grant"}, 400
            jti = secrets.token_urlsafe(16)
            header = {"alg": "RS256", "kid": "lean"}
            access = jwt.encode({**header, "typ": "at+jwt"}, {
                "iss": issuer, "sub": sub, "aud": params.get("audience", AUDIENCE), "client_id": client_id,
                "scope": params["scope"], "jti": jti, "iat": at, "exp": at + 3600}, key)
            id_token = jwt.encode(header, {"iss": issuer, "sub": sub, "aud": client_id, "nonce": params.get("nonce"),
                                           "iat": at, "exp": at + 3600}, key)
            connection.execute("INSERT INTO token VALUES (?, ?, ?, ?)", (jti, client_id, sub, at + 3600))
        return {"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": id_token,
                "scope": params["scope"]}, 200, {"Cache-Control": "no-store"}

    return app


def token_checker(issuer):
    """The AS's public keys, fetched once per process from its JWKS, as the real services do."""
    keys = {}

    def key_set():
        """The AS's key set, fetched by this process's first call."""
        if os.getpid() not in keys:
            keys[os.getpid()] = KeySet.import_key_set(requests.get(issuer + "/.well-known/jwks.json", timeout=5).json())
        return keys[os.getpid()]

    def check(token, typ=None, **expected):
        """The token's claims if its signature, typ, iss, exp and the `expected` claims hold, else None."""
        try:
            decoded = jwt.decode(token, key_set(), algorithms=["RS256"])
            if typ is not None and decoded.header.get("typ", "").lower() != typ:
                return None
            claims = decoded.claims
            jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, exp={"essential": True},
                                  **{name: {"essential": True, "value": value} for name, value in expected.items()}
                                  ).validate(claims)
        except (JoseError, ValueError):
            return None
        return claims

    return check


def lean_client_app():
    """The client's four pages: one push, one token request, one API call."""
    app = Flask("lean_client_app")
    issuer, notes_api = os.environ["FLOOR_AUTH_SERVER"], os.environ["FLOOR_NOTES_API"]
    own_url = os.environ["FLOOR_CLIENT_APP"]
    back_channel = requests.Session()
    back_channel.trust_env = False  # as client_app's back channel (oauth_client.http_session)
    check_token = token_checker(issuer)
    csrf_key = secrets.token_bytes(32)
    db = Database(os.environ["FLOOR_DB_DIR"] + "/lean_client.sqlite", """
        CREATE TABLE IF NOT EXISTS login (id TEXT PRIMARY KEY, state TEXT, nonce TEXT, verifier TEXT,
                                          access_token TEXT);
    """)

    def browser_csrf():
        """This browser's id (its cookie, or a new one) and the CSRF token bound to it."""
        browser = request.cookies.get("lean_client") or secrets.token_urlsafe(16)
        return browser, hmac.new(csrf_key, browser.encode(), "sha256").hexdigest()

    def this_login():
        """The login this browser's cookie names, as stored."""
        login_id = request.cookies.get("lean_login", "")
        login = db.connection().execute("SELECT * FROM login WHERE id = ?", (login_id,)).fetchone()
        if login is None:
            abort(400)
        return login

    @app.get("/")
    def home():
        browser, token = browser_csrf()
        response = app.make_response(form_page(token))
        response.set_cookie("lean_client", browser, httponly=True, samesite="Lax")
        return response

    @app.post("/login")
    def login():
        if not hmac.compare_digest(request.form.get("csrf_token", ""), browser_csrf()[1]):
            abort(400)
        login_id, state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(4))
        pushed = back_channel.post(issuer + "/par", auth=(CLIENT_ID, CLIENT_SECRET), timeout=5, data={
            "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": own_url + "/callback", "scope": SCOPE,
            "audience": AUDIENCE, "state": state, "nonce": nonce, "code_challenge": s256(verifier),
            "code_challenge_method": "S256"})
        if pushed.status_code != 201:
            return "The push was refused.", 502
        with transaction(db.connection()) as connection:
            connection.execute("INSERT INTO login (id, state, nonce, verifier) VALUES (?, ?, ?, ?)",
                               (login_id, state, nonce, verifier))
        query = urlencode({"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]})
        response = redirect(f"{issuer}/authorize?{query}", code=303)
        response.set_cookie("lean_login", login_id, httponly=True, samesite="Lax")
        return response

    @app.get("/callback")
    def callback():
        login = this_login()
        # RFC 6749 §10.12: the state we pushed; RFC 9207 §2.4: the issuer we pushed to.
        if not hmac.compare_digest(request.args.get("state", ""), login["state"]) or request.args.get("iss") != issuer:
            abort(400)
        tokens = back_channel.post(issuer + "/token", auth=(CLIENT_ID, CLIENT_SECRET), timeout=5, data={
            "grant_type": "authorization_code", "code": request.args.get("code", ""),
            "redirect_uri": own_url + "/callback", "code_verifier": login["verifier"]})
        id_token = tokens.json().get("id_token", "") if tokens.status_code == 200 else ""
        if check_token(id_token, aud=CLIENT_ID, nonce=login["nonce"]) is None:  # OIDC Core §3.1.3.7
            return "The token request failed.", 502
        with transaction(db.connection()) as connection:
            connection.execute("UPDATE login SET access_token = ? WHERE id = ?",
                               (tokens.json()["access_token"], login["id"]))
        return redirect("/notes", code=303)

    @app.get("/notes")
    def notes():
        access_token = this_login()["access_token"]
        answer = back_channel.get(notes_api + "/api/notes", headers={"Authorization": f"Bearer {access_token}"},
                                  timeout=5)
        if answer.status_code != 200:
            return "The API refused.", 502
        return "<ul>" + "".join(f"<li>{note['text']}</li>" for note in answer.json()["notes"]) + "</ul>"

    return app


def lean_notes_api():
    """The notes API's one call: the bearer token checked, the caller's notes read."""
    app = Flask("lean_notes_api")
    check_token = token_checker(os.environ["FLOOR_AUTH_SERVER"])
    db = Database(os.environ["FLOOR_DB_DIR"] + "/lean_notes.sqlite", """
        CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, sub TEXT, text TEXT);
        INSERT INTO note (sub, text) SELECT 'alice', 'Alice''s first note' WHERE NOT EXISTS (SELECT 1 FROM note);
    """)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/api/notes")
    def notes():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        # RFC 9068 §4: an access token JWT, for this API.
        claims = check_token(token, typ="at+jwt", aud=AUDIENCE) if scheme == "Bearer" else None
        if claims is None or "read:notes" not in claims.get("scope", "").split():
            return {"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        rows = db.connection().execute("SELECT text FROM note WHERE sub = ?", (claims["sub"],)).fetchall()
        return {"notes": [{"text": text} for (text,) in rows]}

    return app

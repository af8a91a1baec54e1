"""SQLAlchemy models: everything the server remembers lives in the database.

Gunicorn runs several worker processes, so nothing about a flow may live in one
process's memory: pushed requests, logins in progress, codes, tokens and keys are
rows here, and every worker sees the same ones.
"""

import hashlib
import secrets
import time

from authlib.integrations.sqla_oauth2 import OAuth2AuthorizationCodeMixin
from authlib.integrations.sqla_oauth2 import OAuth2ClientMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from . import passwords
from .clients import client_auth_methods

db = SQLAlchemy()

# The databases this server runs on. INSERT ... ON CONFLICT (an upsert) is each one's own
# SQL, so SQLAlchemy builds it from that database's dialect.
DIALECTS = {"sqlite": sqlite, "postgresql": postgresql}


def per_database(build):
    """A statement built once for each database in DIALECTS: {name: build(dialect)}."""
    return {name: build(dialect) for name, dialect in DIALECTS.items()}


def this_database(by_name):
    """The entry of a {database name: ...} mapping for the database the session uses."""
    return by_name[db.session.get_bind().dialect.name]


def now():
    """The current time in whole seconds, as JWT and OAuth count it."""
    return int(time.time())


def keep_loaded_rows():
    """Keep the rows this request loaded across its own commits, rather than read them again.

    For the views that commit as they go (a code claimed, a request_uri used up, a login
    started or closed) and then read again what they loaded (the client, the login, the
    user, the code): nothing changes those rows in between. The session is the current
    request's only, so the setting ends with it.
    """
    db.session().expire_on_commit = False


def sha256(value):
    """Hash a bearer secret (a refresh token) so the database never holds it."""
    return hashlib.sha256(value.encode()).hexdigest()


class User(db.Model):
    """A resource owner who can log in."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(128))

    def set_password(self, password, method):
        """Store a salted hash of the password, never the password (config PASSWORD_HASH_METHOD)."""
        self.password_hash = passwords.hash_password(password, method)

    def check_password(self, password):
        """True if the password matches the stored hash."""
        return passwords.verify_password(self.password_hash, password)

    def get_user_id(self):
        """The `sub` claim: a stable identifier, as Authlib asks of a user."""
        return self.sub

    def claims(self, scope):
        """OIDC Core §5.4: the claims each granted scope releases (ID token, /userinfo)."""
        scopes = scope.split()
        claims = {"sub": self.sub}
        if "profile" in scopes:
            claims.update(name=self.name, preferred_username=self.username)
        if "email" in scopes:
            claims.update(email=self.email, email_verified=True)
        return claims


class Client(db.Model, OAuth2ClientMixin):
    """A registered client; its metadata (RFC 7591 names) is a JSON column."""

    id: Mapped[int] = mapped_column(primary_key=True)

    @property
    def token_endpoint_auth_methods(self):
        """The ways this client may authenticate: RFC 7591's one, or our list (clients.py)."""
        return client_auth_methods(self.client_metadata)

    @property
    def is_fapi(self):
        """True if the client is held to the FAPI 2.0 Security Profile (our `security_profile`)."""
        return self.client_metadata.get("security_profile") == "fapi2"

    @property
    def dpop_bound_access_tokens(self):
        """RFC 9449 §5.2: this client's access tokens must be DPoP-bound."""
        return self.client_metadata.get("dpop_bound_access_tokens", False)

    @property
    def require_signed_request_object(self):
        """RFC 9101 §10.5: this client's authorization requests must be signed request objects."""
        return self.client_metadata.get("require_signed_request_object", False)

    @property
    def jwks(self):
        """RFC 7591 §2: the client's public keys, given by value (else see jwks_uri)."""
        return self.client_metadata.get("jwks")

    @property
    def jwks_uri(self):
        """RFC 7591 §2: where the client publishes its public keys."""
        return self.client_metadata.get("jwks_uri")

    @property
    def require_pushed_authorization_requests(self):
        """RFC 9126 §6: this client's authorization requests must come through PAR (FAPI 2.0 §5.3.2.2: always)."""
        return self.is_fapi or self.client_metadata.get("require_pushed_authorization_requests", False)

    @property
    def require_pkce(self):
        """RFC 9700 §2.1.1: this client must send a PKCE code_challenge (FAPI 2.0 §5.3.2.2: always)."""
        return self.is_fapi or self.client_metadata.get("require_pkce", True)

    @property
    def refresh_token_without_offline_access(self):
        """This client gets a refresh token even without the offline_access scope (seed-cli)."""
        return self.client_metadata.get("refresh_token_without_offline_access", False)

    @property
    def may_introspect_access_tokens(self):
        """RFC 7662 §2.1: a resource server (notes-api) may ask about any client's access tokens."""
        return self.client_metadata.get("may_introspect_access_tokens", False)

    def check_client_secret(self, client_secret):
        """Constant-time comparison, as bytes (secrets.compare_digest refuses non-ASCII str)."""
        if not self.client_secret:
            return False  # a private_key_jwt client has no secret to guess
        return secrets.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        """RFC 9126 §2: the PAR endpoint authenticates clients as the token endpoint does."""
        return method in self.token_endpoint_auth_methods


class PushedRequest(db.Model):
    """RFC 9126 §2: an authorization request pushed by a client, until it is used."""

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(48))
    params: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used_at: Mapped[int | None] = mapped_column(Integer)


class PushRateWindow(db.Model):
    """RFC 9126 §2.3: how many requests a client pushed in its current rate-limit window.

    One row per client, counted up with one UPDATE as each push is stored, so the rate
    limit is shared by every worker and replica without counting pushed requests.
    """

    client_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer)
    pushes: Mapped[int] = mapped_column(Integer)


class Interaction(db.Model):
    """A login in progress: the pushed request lives here once the browser arrives.

    The request_uri only has to survive until the browser reaches /authorize; the
    login and consent that follow may take longer (a slow typist must not fail).
    """

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(48))
    request_uri: Mapped[str] = mapped_column(String(128), index=True)
    params: Mapped[dict] = mapped_column(JSON)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    auth_time: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    completed_at: Mapped[int | None] = mapped_column(Integer)

    @property
    def scopes(self):
        """The scopes the client pushed, in order, for the consent page."""
        return self.params.get("scope", "").split()

    @property
    def user(self):
        """The user who logged in during this interaction, if any yet."""
        return db.session.get(User, self.user_id) if self.user_id else None


class AuthorizationCode(db.Model, OAuth2AuthorizationCodeMixin):
    """An authorization code; kept after use so a replay can be detected."""

    # OIDC Core §15.5.2: every authorization request with a nonce asks whether its
    # client used that nonce before. Codes are kept, so that must not read them all.
    __table_args__ = (Index("ix_authorization_code_client_id_nonce", "client_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    audience: Mapped[list] = mapped_column(JSON, default=list)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used_at: Mapped[int | None] = mapped_column(Integer)
    # RFC 9449 §10: the thumbprint of the DPoP key the code is bound to, if any.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))

    def is_expired(self):
        """RFC 6749 §4.1.2: codes MUST expire shortly after they are issued."""
        return self.expires_at < now()


class Token(db.Model):
    """One issued access token (by its `jti`) and the refresh token issued with it.

    Access tokens are self-contained JWTs; the row lets the server revoke a whole
    family (every token descended from one authorization code) when a code or a
    refresh token is replayed (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(48))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    scope: Mapped[str] = mapped_column(Text)
    audience: Mapped[list] = mapped_column(JSON)
    auth_time: Mapped[int | None] = mapped_column(Integer)
    family: Mapped[int] = mapped_column(ForeignKey("authorization_code.id"), index=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer)
    refresh_expires_at: Mapped[int | None] = mapped_column(Integer)
    refresh_used_at: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer)
    # RFC 9449 §6.1: the DPoP key both tokens are bound to (cnf.jkt), if any.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))

    @property
    def user(self):
        """The user the token was issued for."""
        return db.session.get(User, self.user_id)

    # Authlib's RefreshTokenGrant reads these three.
    def check_client(self, client):
        """True if the token was issued to this client."""
        return self.client_id == client.get_client_id()

    def get_scope(self):
        """The scope granted with the token."""
        return self.scope


class DPoPProof(db.Model):
    """RFC 9449 §11.1: a DPoP proof already used, by its jti's hash, until it is too old anyway."""

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)

class UsedClientAssertion(db.Model):
    """RFC 7523 §3: a client assertion's jti, kept until its exp so it is used only once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48))
    jti: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[int] = mapped_column(Integer, index=True)

    # One row per (client, jti): a second insert fails, so a replay loses even in a race.
    __table_args__ = (Index("ix_used_client_assertion_jti", "client_id", "jti", unique=True),)


class ClientKeySet(db.Model):
    """A client's public keys fetched from its jwks_uri, reused for a short while (config)."""

    client_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    jwks_uri: Mapped[str] = mapped_column(Text)
    jwks: Mapped[dict] = mapped_column(JSON)
    fetched_at: Mapped[int] = mapped_column(Integer)


class SigningKey(db.Model):
    """A key pair for one signing alg (in its JWK), stored so every worker and replica signs with the same key."""

    id: Mapped[int] = mapped_column(primary_key=True)  # higher id = newer key
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(Integer)


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, connection_record):
    """SQLite: WAL lets readers and one writer work at once; wait on locks, don't fail."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        # WAL + NORMAL: no fsync on every commit, still never corrupt (SQLite docs, "WAL").
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def seed_demo_data(config):
    """Create or update the clients and demo users from the config (the source of truth)."""
    # A client no longer in the clients file is no longer registered.
    registered = [data["client_id"] for data in config["CLIENTS"]]
    db.session.execute(db.delete(Client).where(Client.client_id.not_in(registered)))
    for data in config["CLIENTS"]:
        client = db.session.scalar(db.select(Client).filter_by(client_id=data["client_id"]))
        if client is None:
            client = Client(client_id=data["client_id"], client_id_issued_at=now())
            db.session.add(client)
        client.client_secret = data.get("client_secret")
        client.set_client_metadata({k: v for k, v in data.items() if k not in ("client_id", "client_secret")})
    for data in config["USERS"]:
        user = db.session.scalar(db.select(User).filter_by(username=data["username"]))
        if user is None:
            user = User(username=data["username"])
            db.session.add(user)
        user.sub, user.name, user.email = data["sub"], data["name"], data["email"]
        if not user.password_hash or not user.check_password(data["password"]):
            user.set_password(data["password"], config["PASSWORD_HASH_METHOD"])
    db.session.commit()


def registered_clients():
    """Every registered client by its id, detached from the session: no commit expires them.

    The clients file is read only at start, so these cannot change under a running
    process; a changed file takes a restart, as any setting does.
    """
    clients = db.session.scalars(db.select(Client)).all()
    db.session.expunge_all()
    return {client.client_id: client for client in clients}


def hold_startup_lock():
    """Serialise start-up work across replicas sharing one PostgreSQL, until the next commit.

    Replicas may start at the same moment; a transaction-level advisory lock lets
    one create the tables (or the first key), then the next finds them there.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(9126)"))


def init_app(app):
    """Bind the database to the app, create the tables and load the demo data."""
    db.init_app(app)
    with app.app_context():
        hold_startup_lock()
        db.metadata.create_all(db.session.connection())
        # An older database gets the indexes added since its tables were created.
        for table in db.metadata.sorted_tables:
            for index in table.indexes:
                index.create(db.session.connection(), checkfirst=True)
        seed_demo_data(app.config)  # commits, which releases the lock
        # The clients are configuration, as the file they come from: read once here, then
        # every request finds its client in this process's copy (oauth2.query_client).
        app.extensions["auth_server.clients"] = registered_clients()

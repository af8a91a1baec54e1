"""Settings for the authorization server: read from the environment, demo data below.

Every setting names its default. The demo clients and users are plain data so a
learner can see, in one place, exactly what the server knows about each party.
"""

import os


def _env(name, default):
    """Read a setting from the environment, falling back to its documented default."""
    return os.environ.get(name, default)


def database_url(url):
    """An SQLAlchemy URL; plain postgresql:// URLs use the pinned psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def host_names(value):
    """Comma-separated host names as a list, blanks dropped."""
    return [name.strip() for name in value.split(",") if name.strip()]


class Config:
    """Server settings. Every value can be overridden by an environment variable."""

    # The one public URL of this server (front channel). It is the `iss` of every
    # token and the `issuer` in discovery, even inside docker (RFC 8414 §3.3).
    ISSUER = _env("ISSUER", "http://localhost:9000").rstrip("/")
    # Host names this server answers to besides ISSUER's (a comma-separated list).
    # Any other Host header gets 400: a DNS-rebinding page cannot read or drive us.
    # Docker adds the name the other services use to reach us (create_app adds ISSUER's).
    TRUSTED_HOSTS = host_names(_env("TRUSTED_HOSTS", "localhost,127.0.0.1"))

    # Default: a SQLite file in the instance folder, shared by every gunicorn worker.
    # Replicas share one PostgreSQL: DATABASE_URL=postgresql://user:pass@host/db.
    SQLALCHEMY_DATABASE_URI = database_url(_env("DATABASE_URL", ""))

    # How gunicorn.conf.py runs the server: where it listens (docker sets HOST=0.0.0.0
    # to publish the port) and how many worker processes it forks.
    HOST = _env("HOST", "127.0.0.1")
    PORT = int(_env("PORT", "9000"))
    WEB_CONCURRENCY = int(_env("WEB_CONCURRENCY", "2"))
    # The "auth_server" logger's level (INFO shows every protocol step) and the format
    # of every log line (the same default in the three services).
    LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()
    LOG_FORMAT = _env("LOG_FORMAT", "%(asctime)s %(name)s %(levelname)s %(message)s")

    # DEMO ONLY: a fixed key signs the session cookie; set SECRET_KEY in real life.
    SECRET_KEY = _env("SECRET_KEY", "demo-only-auth-server-secret-key")

    # Browsers share cookies across ports on one host: the client app also runs on
    # localhost, so each service needs its own cookie name (default "session").
    SESSION_COOKIE_NAME = "auth_server_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = ISSUER.startswith("https://")

    # Bodies larger than this get 413 (RFC 9126 §2.3 lists it for the PAR endpoint).
    MAX_CONTENT_LENGTH = 64 * 1024

    # RFC 9126 §2.2: the lifetime of a request_uri (the seed shows 30 s). It bounds
    # the browser's arrival at /authorize, not the whole login.
    PAR_EXPIRES_IN = int(_env("PAR_EXPIRES_IN", "30"))
    # RFC 9126 §2.3: a client pushing faster than this gets 429 with Retry-After.
    # With the 30 s lifetime (and purge) this also caps the rows one client can hold.
    PAR_RATE_LIMIT = int(_env("PAR_RATE_LIMIT", "60"))
    PAR_RATE_WINDOW = int(_env("PAR_RATE_WINDOW", "10"))
    # Wrong passwords allowed in one login before it is closed (no brute force).
    MAX_FAILED_LOGINS = int(_env("MAX_FAILED_LOGINS", "5"))
    # How long a user has to log in and consent once the browser has arrived.
    INTERACTION_EXPIRES_IN = int(_env("INTERACTION_EXPIRES_IN", "600"))
    # RFC 9700 §4.2.1 recommends short-lived codes; 60 s is plenty for a back channel.
    AUTHORIZATION_CODE_EXPIRES_IN = int(_env("AUTHORIZATION_CODE_EXPIRES_IN", "60"))
    # The seed's token response shows expires_in 86400.
    ACCESS_TOKEN_EXPIRES_IN = int(_env("ACCESS_TOKEN_EXPIRES_IN", "86400"))
    ID_TOKEN_EXPIRES_IN = int(_env("ID_TOKEN_EXPIRES_IN", "3600"))
    REFRESH_TOKEN_EXPIRES_IN = int(_env("REFRESH_TOKEN_EXPIRES_IN", str(30 * 86400)))

    # RFC 9126 §5: every client must use PAR (default true; "false" leaves it per client).
    REQUIRE_PUSHED_AUTHORIZATION_REQUESTS = _env("REQUIRE_PAR", "true") == "true"

    # Scopes this server knows, with the sentence the consent page shows for each.
    SCOPES = {
        "openid": "Confirm who you are (sign you in)",
        "profile": "See your name and username",
        "email": "See your email address",
        "read:notes": "Read your notes",
        "write:notes": "Add notes on your behalf",
        "offline_access": "Keep access while you are away (a refresh token)",
    }

    # Audiences (RFC 8707 resource indicators, or Auth0's `audience`) tokens may name.
    AUDIENCES = [_env("NOTES_API_AUDIENCE", "urn:my-notes-api")]

    # The demo clients, as registered data.
    CLIENTS = [
        {
            "client_id": "notes-web",
            # DEMO ONLY: a well-known secret; real secrets come from a vault.
            "client_secret": _env("NOTES_WEB_SECRET", "notes-web-secret"),
            "client_name": "Notes app",
            "redirect_uris": [_env("NOTES_WEB_REDIRECT_URI", "http://localhost:3000/callback")],
            "token_endpoint_auth_methods": ["client_secret_basic", "client_secret_post"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid profile email read:notes write:notes offline_access",
            "require_pushed_authorization_requests": True,  # RFC 9126 §6
            "require_pkce": True,  # RFC 9700 §2.1.1: PKCE S256
        },
        {
            # The seed's curl commands, verbatim but for the host.
            "client_id": "seed-cli",
            "client_secret": _env("SEED_CLI_SECRET", "seed-cli-secret"),  # DEMO ONLY
            "client_name": "Seed walkthrough (curl)",
            "redirect_uris": ["https://jwt.io"],
            "token_endpoint_auth_methods": ["client_secret_post"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid profile email read:notes write:notes offline_access",
            "require_pushed_authorization_requests": True,
            # The seed sends no code_challenge, so PKCE stays optional for this client.
            "require_pkce": False,
        },
    ]

    # DEMO ONLY: users and their passwords are shown on the login page.
    USERS = [
        {"sub": "alice", "username": "alice", "password": "alice",
         "name": "Alice Liddell", "email": "alice@example.com"},
        {"sub": "bob", "username": "bob", "password": "bob",
         "name": "Bob Builder", "email": "bob@example.com"},
    ]

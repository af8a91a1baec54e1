"""Settings for the authorization server: read from the environment, demo data below.

Every setting names its default. The demo clients and users are plain data so a
learner can see, in one place, exactly what the server knows about each party.
"""

import os
from urllib.parse import urlsplit

from .clients import load_clients


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


def trusted_hosts(config):
    """The host names the server answers to: ISSUER's, then those in TRUSTED_HOSTS, each once."""
    names = [urlsplit(config["ISSUER"]).hostname, *config["TRUSTED_HOSTS"]]
    return list(dict.fromkeys(name for name in names if name))


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
    # The limit is per client, and a web client pushes for whoever clicks its Log in:
    # so the client bounds its visitors first (client_app: 20 logins per address per
    # 60 s), and this limit leaves room for a classroom of 30 behind one client, every
    # address at its bound within the same 10 s: 30 x 20 = 600. With the 30 s lifetime
    # and the purge's 300 s grace, one client holds at most ~20,000 rows.
    PAR_RATE_LIMIT = int(_env("PAR_RATE_LIMIT", "600"))
    PAR_RATE_WINDOW = int(_env("PAR_RATE_WINDOW", "10"))
    # RFC 6749 §10.10: password guessing is capped across logins (login_throttle.py).
    # Per username: 5 wrong passwords lock it for 5 minutes, for everyone and even
    # for the right password. Its count is forgotten after 15 minutes without a
    # failure, or cleared by a sign-in; while it stands, each further wrong password
    # locks again, so a patient attacker gets one guess per lock. A lock must not
    # outlast the window, or the count would be forgotten while it is locked.
    MAX_FAILED_LOGINS = int(_env("MAX_FAILED_LOGINS", "5"))
    LOGIN_FAILURE_WINDOW = int(_env("LOGIN_FAILURE_WINDOW", "900"))
    LOGIN_LOCK_SECONDS = int(_env("LOGIN_LOCK_SECONDS", "300"))
    # Per source address (request.remote_addr), whatever the usernames: a class of
    # 30 behind one NAT making three typos each stays under 100; one address trying
    # many usernames is locked (the same lock and window), and no one else is.
    # Behind a reverse proxy every request comes from the proxy: trust its
    # X-Forwarded-For first (Werkzeug's ProxyFix), or this locks everyone at once.
    MAX_FAILED_LOGINS_PER_ADDRESS = int(_env("MAX_FAILED_LOGINS_PER_ADDRESS", "100"))
    # How long a user has to log in and consent once the browser has arrived.
    INTERACTION_EXPIRES_IN = int(_env("INTERACTION_EXPIRES_IN", "600"))
    # RFC 9700 §4.2.1 recommends short-lived codes; 60 s is plenty for a back channel.
    AUTHORIZATION_CODE_EXPIRES_IN = int(_env("AUTHORIZATION_CODE_EXPIRES_IN", "60"))
    # The seed's token response shows expires_in 86400.
    ACCESS_TOKEN_EXPIRES_IN = int(_env("ACCESS_TOKEN_EXPIRES_IN", "86400"))
    ID_TOKEN_EXPIRES_IN = int(_env("ID_TOKEN_EXPIRES_IN", "3600"))
    REFRESH_TOKEN_EXPIRES_IN = int(_env("REFRESH_TOKEN_EXPIRES_IN", str(30 * 86400)))

    # RFC 9126 §5: "true" makes every client use PAR. The default, "false", leaves it to
    # each client's registration (RFC 9126 §6): all but notes-classic (the "classic"
    # profile that shows what PAR changes) and the lab's twin of it require it.
    # Discovery says which, truthfully.
    REQUIRE_PUSHED_AUTHORIZATION_REQUESTS = _env("REQUIRE_PAR", "false") == "true"

    # What this server supports, one list each: the policy (oauth2.py, par.py, tokens.py)
    # enforces them and discovery advertises them as they are (RFC 8414 §2), so the two
    # cannot disagree; tests/auth_server/test_capabilities.py checks each against the other.
    # RFC 6749 §2.3.1: how clients authenticate, at the token, PAR (RFC 9126 §2) and
    # flow-trace endpoints alike. No "none": every client here is confidential.
    # private_key_jwt (RFC 7523 §2.2, OIDC Core §9): a JWT signed with the client's key.
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
    # RFC 7518 §3.1: the algs a client may sign its assertions (private_key_jwt) and
    # request objects with; FAPI 2.0 §5.4.1 allows PS256 and ES256 (and EdDSA) only.
    CLIENT_SIGNING_ALGS = ["PS256", "ES256"]
    # RFC 7636 §4.2: PKCE methods. RFC 9700 §2.1.1: S256 only; "plain" is refused.
    CODE_CHALLENGE_METHODS = ["S256"]
    # RFC 7518 §3.1: the alg that signs ID tokens and access tokens (OIDC Core §15.1:
    # RS256 is the one every OpenID provider supports); keys.py makes RSA keys for it.
    SIGNING_ALG = "RS256"
    # Every alg this server signs with; keys.py keeps one key for each (RSA for RS256
    # and PS256, EC P-256 for ES256), and the JWKS publishes them all. A client picks
    # its ID tokens' alg by registering id_token_signed_response_alg (OIDC Registration
    # §2), else SIGNING_ALG.
    SIGNING_ALGS = ["RS256", "PS256", "ES256"]
    # FAPI 2.0 §5.4.1: tokens for a FAPI client are signed with PS256 (or ES256), not RS256.
    FAPI_ACCESS_TOKEN_ALG = "PS256"
    # RFC 6749 §4.1 and §6: the authorization code grant, and refresh tokens.
    GRANT_TYPES = ["authorization_code", "refresh_token"]
    # RFC 6749 §3.1.1: response_type=code only (RFC 9700 §2.1.2: no implicit grant).
    RESPONSE_TYPES = ["code"]
    # OAuth 2.0 Multiple Response Type Encoding Practices §2.1: the code comes back in
    # the redirect's query.
    RESPONSE_MODES = ["query"]
    # RFC 9449 §5.1: the algs a DPoP proof may be signed with (asymmetric only, §4.2).
    DPOP_SIGNING_ALGS = ["ES256", "PS256"]

    # RFC 9449 §4.3 and §11.1: a DPoP proof is accepted this many seconds after its iat
    # (and its jti remembered as long), and at most this far ahead of our clock.
    DPOP_PROOF_MAX_AGE = int(_env("DPOP_PROOF_MAX_AGE", "60"))
    DPOP_PROOF_MAX_FUTURE = int(_env("DPOP_PROOF_MAX_FUTURE", "5"))
    # RFC 9449 §8: the server's DPoP nonce changes every this many seconds (the previous
    # one is still accepted); it is an HMAC of the time window with SECRET_KEY.
    DPOP_NONCE_LIFETIME = int(_env("DPOP_NONCE_LIFETIME", "300"))

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

    # The registered clients: a JSON array of RFC 7591 client metadata (clients.py lists
    # every field, and which are ours), read and validated when the server starts. The
    # default file holds the demo clients; point this at your own to register your own
    # relying party. "${NAME:-default}" in a value reads the environment variable NAME
    # (the DEMO ONLY secrets, and redirect URIs: NOTES_WEB_SECRET, NOTES_WEB_REDIRECT_URI...).
    CLIENTS_FILE = _env("CLIENTS_FILE", os.path.join(os.path.dirname(__file__), "clients.json"))
    CLIENTS = load_clients(CLIENTS_FILE, CLIENT_AUTH_METHODS, SIGNING_ALGS, CLIENT_SIGNING_ALGS)
    # A client's jwks_uri on the client app's public URL is fetched from its internal URL
    # (the back channel: inside docker, http://client_app:3000), as client_app's
    # AUTH_SERVER_INTERNAL_URL does the other way. Default: the public URL itself.
    CLIENT_APP_URL = _env("CLIENT_APP_URL", "http://localhost:3000").rstrip("/")
    CLIENT_APP_INTERNAL_URL = _env("CLIENT_APP_INTERNAL_URL", CLIENT_APP_URL).rstrip("/")
    # How long a client's keys fetched from its jwks_uri are reused before fetching
    # again, and how long one fetch may take.
    CLIENT_JWKS_CACHE_SECONDS = int(_env("CLIENT_JWKS_CACHE_SECONDS", "300"))
    CLIENT_JWKS_TIMEOUT = float(_env("CLIENT_JWKS_TIMEOUT", "5"))

    # How passwords are hashed (passwords.py). Default "argon2id", at OWASP's m=19 MiB,
    # t=2, p=1. A stored hash names its method, so hashes made before (werkzeug's scrypt)
    # still verify, and are made again with this one at the user's next sign-in.
    # TESTS ONLY: tests/auth_server sets a cheap werkzeug method ("pbkdf2:sha256:1") so
    # that create_app takes milliseconds; never lower it for a running service (it is
    # not read from the environment for that reason).
    PASSWORD_HASH_METHOD = "argon2id"

    # TESTS ONLY: ready-made key pairs (joserfc keys, one per alg of SIGNING_ALGS) stored
    # as the first signing keys instead of making them, because making 2048-bit RSA
    # keys per test app is slow. Default None: a running service makes its own keys on
    # first start (keys.py); not read from the environment.
    TEST_SIGNING_KEYS = None

    # DEMO ONLY: users and their passwords are shown on the login page.
    USERS = [
        {"sub": "alice", "username": "alice", "password": "alice",
         "name": "Alice Liddell", "email": "alice@example.com"},
        {"sub": "bob", "username": "bob", "password": "bob",
         "name": "Bob Builder", "email": "bob@example.com"},
        # The attack lab signs in as `lab`, never as a real user, and its brute-force
        # attack guesses at `lab-target`, so a lockout leaves `lab` free for the rest.
        {"sub": "lab", "username": "lab", "password": "lab",
         "name": "Attack Lab", "email": "lab@example.com"},
        {"sub": "lab-target", "username": "lab-target", "password": "lab-target",
         "name": "Brute-force Target", "email": "lab-target@example.com"},
    ]

"""Settings for the notes client: read from the environment, demo defaults below.

Every setting names its default. Together they are what the client knows about the
other two parties: where the authorization server is (front and back channel), how
this client is registered there, and where the Notes API lives.
"""

import os
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlsplit


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


def profile_names(value):
    """Comma-separated profile names as a tuple, blanks dropped."""
    return tuple(name.strip() for name in value.split(",") if name.strip())


def trusted_hosts(config):
    """The host names the client answers to: REDIRECT_URI's and CLIENT_BASE_URL's, then TRUSTED_HOSTS'."""
    urls = (config["REDIRECT_URI"], config["CLIENT_BASE_URL"])
    names = [*(urlsplit(url).hostname for url in urls), *config["TRUSTED_HOSTS"]]
    return list(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True)
class Profile:
    """One way this client logs in: a registration at the AS, and the flow it runs."""

    name: str
    title: str
    client_id: str
    # "" under FAPI 2.0: the client signs assertions instead. Never in a repr (logs, pages).
    client_secret: str = field(repr=False)
    # RFC 9126: the request is pushed; the browser carries only client_id and request_uri.
    pushes: bool
    # FAPI 2.0: private_key_jwt, a signed request object through PAR, DPoP-bound tokens.
    fapi: bool


# The three profiles' names, as pages and tables title them.
PROFILE_TITLES = {"classic": "Classic (no PAR)", "par": "PAR", "fapi2": "FAPI 2.0"}


def profiles(config, lab=False):
    """The three profiles, by name, with this client's registrations (or the lab's twins)."""
    prefix = "LAB_" if lab else ""
    return {
        "classic": Profile("classic", PROFILE_TITLES["classic"], config[prefix + "CLASSIC_CLIENT_ID"],
                           config[prefix + "CLASSIC_CLIENT_SECRET"], pushes=False, fapi=False),
        "par": Profile("par", PROFILE_TITLES["par"], config[prefix + "CLIENT_ID"], config[prefix + "CLIENT_SECRET"],
                       pushes=True, fapi=False),
        "fapi2": Profile("fapi2", PROFILE_TITLES["fapi2"], config[prefix + "FAPI_CLIENT_ID"], "",
                         pushes=True, fapi=True),
    }


class Config:
    """Client settings. Every value can be overridden by an environment variable."""

    # The authorization server's one public URL (its issuer identifier). The browser
    # is sent here, and `iss` in callbacks and ID tokens must equal it exactly, so it
    # is kept exactly as written: ours has no trailing slash, Auth0's has one.
    ISSUER = _env("ISSUER", "http://localhost:9000")
    # Where this process reaches the same server over the back channel (inside
    # docker: http://auth-server:9000). Empty means "the same as ISSUER".
    AUTH_SERVER_INTERNAL_URL = _env("AUTH_SERVER_INTERNAL_URL", "").rstrip("/")

    # The profiles this client offers on its home page, each a registration of its own
    # at the AS (Profile, above): "classic" (every parameter in the browser's URL, no
    # PAR), "par" (the seed's flow) and "fapi2" (the FAPI 2.0 Security Profile:
    # private_key_jwt, a signed request object pushed through PAR, DPoP-bound tokens).
    # A comma-separated list; PROFILE is the one chosen unless the user picks another.
    PROFILES = profile_names(_env("PROFILES", "classic,par,fapi2"))
    PROFILE = _env("PROFILE", "par")

    # How this client is registered at the authorization server, per profile.
    # par: DEMO ONLY, a well-known secret; a real client reads it from a vault.
    CLIENT_ID = _env("CLIENT_ID", "notes-web")
    CLIENT_SECRET = _env("CLIENT_SECRET", "notes-web-secret")
    # classic: the one client the AS lets skip PAR (RFC 9126 §6).
    CLASSIC_CLIENT_ID = _env("CLASSIC_CLIENT_ID", "notes-classic")
    CLASSIC_CLIENT_SECRET = _env("CLASSIC_CLIENT_SECRET", "notes-classic-secret")
    # fapi2: no secret, the client proves itself with its own key (private_key_jwt).
    FAPI_CLIENT_ID = _env("FAPI_CLIENT_ID", "notes-fapi")
    # fapi2: the alg of the key that signs client assertions and request objects
    # (FAPI 2.0 §5.4.1: PS256 or ES256; notes-fapi is registered with PS256).
    CLIENT_SIGNING_ALG = _env("CLIENT_SIGNING_ALG", "PS256")
    # RFC 6749 §2.3.1: "client_secret_basic" (HTTP Basic) or "client_secret_post" (form).
    # Under fapi2 the client authenticates with private_key_jwt instead (the lab still uses this).
    TOKEN_ENDPOINT_AUTH_METHOD = _env("TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_basic")
    # The attack lab pushes as a client of its own (DEMO ONLY, registered at the AS with
    # a 2 s request_uri lifetime), so its attacks spend neither this client's PAR
    # budget nor a worker's time; the defence matrix also uses its classic and FAPI twins.
    LAB_CLIENT_ID = _env("LAB_CLIENT_ID", "notes-lab")
    LAB_CLIENT_SECRET = _env("LAB_CLIENT_SECRET", "notes-lab-secret")
    LAB_CLASSIC_CLIENT_ID = _env("LAB_CLASSIC_CLIENT_ID", "notes-lab-classic")
    LAB_CLASSIC_CLIENT_SECRET = _env("LAB_CLASSIC_CLIENT_SECRET", "notes-lab-classic-secret")
    LAB_FAPI_CLIENT_ID = _env("LAB_FAPI_CLIENT_ID", "notes-lab-fapi")
    REDIRECT_URI = _env("REDIRECT_URI", "http://localhost:3000/callback")
    # offline_access asks for a refresh token (OIDC Core §11).
    SCOPE = _env("SCOPE", "openid profile email read:notes write:notes offline_access")
    # The API the access token is for, in the two ways servers ask for it; each is sent
    # only when set. Auth0 (and our own server, like the seed) read `audience`;
    # servers that follow RFC 8707 (oidc-provider, ...) read `resource`, which is
    # then also sent to the token endpoint (RFC 8707 §2.2). Our server reads both.
    AUDIENCE = _env("AUDIENCE", "urn:my-notes-api")
    RESOURCE = _env("RESOURCE", "")

    # Where the Notes API (the resource server) is, over the back channel.
    NOTES_API_URL = _env("NOTES_API_URL", "http://localhost:8000").rstrip("/")
    # The Notes API's public URL, as the API itself names it: a DPoP proof's htu must be
    # that URL (RFC 9449 §4.3), even when NOTES_API_URL is an internal one (docker).
    # Empty means "the same as NOTES_API_URL".
    NOTES_API_PUBLIC_URL = _env("NOTES_API_PUBLIC_URL", "").rstrip("/")
    # This client's own base URL, where the attack lab sends its forged callbacks.
    CLIENT_BASE_URL = _env("CLIENT_BASE_URL", "http://localhost:3000").rstrip("/")
    # Host names this client answers to besides those of REDIRECT_URI and CLIENT_BASE_URL
    # (a comma-separated list). Any other Host header gets 400, so a DNS-rebinding page
    # cannot read the inspector or drive the flow (create_app adds the URLs' hosts).
    TRUSTED_HOSTS = host_names(_env("TRUSTED_HOSTS", "localhost,127.0.0.1"))

    # Every outbound HTTP call gives up after this many seconds.
    HTTP_TIMEOUT_SECONDS = float(_env("HTTP_TIMEOUT_SECONDS", "5"))
    # How long discovery metadata and the JWKS are reused before being fetched again.
    METADATA_CACHE_SECONDS = int(_env("METADATA_CACHE_SECONDS", "300"))

    # Default: a SQLite file in the instance folder (see create_app); any SQLAlchemy URL.
    SQLALCHEMY_DATABASE_URI = database_url(_env("DATABASE_URL", ""))

    # DEMO ONLY: a fixed key signs the session cookie; set SECRET_KEY in real life.
    SECRET_KEY = _env("SECRET_KEY", "demo-only-client-app-secret-key")
    # Browsers don't separate cookies by port, and the authorization server is on
    # localhost too, so each service needs its own cookie name (default "session").
    SESSION_COOKIE_NAME = "client_app_session"
    SESSION_COOKIE_HTTPONLY = True
    # Lax: the cookie still comes along on the top-level redirect back to /callback.
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = REDIRECT_URI.startswith("https://")

    # Each login pushes at the AS, whose PAR rate limit is per client: without a bound
    # here, one visitor posting /login in a loop would use it up for every user. One
    # browser, and one source address, may start this many logins per LOGIN_RATE_WINDOW
    # seconds; more get a 429 page with Retry-After. A classroom of ~30 behind one
    # client, each address at its bound, fits under the AS's PAR_RATE_LIMIT (600 / 10 s).
    LOGINS_PER_BROWSER = int(_env("LOGINS_PER_BROWSER", "5"))
    LOGINS_PER_ADDRESS = int(_env("LOGINS_PER_ADDRESS", "20"))
    LOGIN_RATE_WINDOW = int(_env("LOGIN_RATE_WINDOW", "60"))

    # A login (its tokens and its inspector messages) is forgotten this many seconds
    # after it started: the user signs in again. One day, the AS's access token
    # lifetime. Without it, every login ever made would stay in the database.
    LOGIN_LIFETIME = int(_env("LOGIN_LIFETIME", "86400"))

    # The flow inspector may show the signed-in user their own tokens (access, refresh,
    # ID token) whole, in their own browser: the lesson of a demo. Off by default: the
    # tokens then stay on this server. The client's own secret is never shown.
    INSPECTOR_SHOWS_TOKENS = _env("INSPECTOR_SHOWS_TOKENS", "false") == "true"

    # Flask refuses a request body larger than this with 413 before reading it (a
    # readable page, errors.py). Every form here is tiny; 64 KiB as at the AS.
    MAX_CONTENT_LENGTH = 64 * 1024

    # How gunicorn.conf.py runs the client: where it listens (docker sets HOST=0.0.0.0
    # to publish the port) and how many worker processes it forks.
    HOST = _env("HOST", "127.0.0.1")
    PORT = int(_env("PORT", "3000"))
    WEB_CONCURRENCY = int(_env("WEB_CONCURRENCY", "2"))
    # The "client_app" logger's level (INFO shows every protocol step) and the format
    # of every log line (the same default in the three services).
    LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()
    LOG_FORMAT = _env("LOG_FORMAT", "%(asctime)s %(name)s %(levelname)s %(message)s")

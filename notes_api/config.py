"""Settings for the notes API (the resource server): read from the environment.

Every setting names its default. The API trusts exactly one issuer and answers to
exactly one audience; everything else it learns from the issuer's discovery document.
"""

import os
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


def trusted_hosts(config):
    """The host names the API answers to: PUBLIC_URL's, then those in TRUSTED_HOSTS, each once."""
    names = [urlsplit(config["PUBLIC_URL"]).hostname, *config["TRUSTED_HOSTS"]]
    return list(dict.fromkeys(name for name in names if name))


class Config:
    """API settings. Every value can be overridden by an environment variable."""

    # The one public URL of the authorization server. Tokens must carry exactly
    # this `iss` (RFC 9068 §4, RFC 8725 §3.8), even when we reach the server by
    # another name inside docker. So it is kept exactly as written: ours has no
    # trailing slash, Auth0's has one.
    ISSUER = _env("ISSUER", "http://localhost:9000")

    # Where this process reaches the authorization server (the back channel), e.g.
    # http://auth-server:9000 in docker. Empty (the default) means "same as ISSUER".
    AUTH_SERVER_INTERNAL_URL = _env("AUTH_SERVER_INTERNAL_URL", "").rstrip("/")

    # Our own name: a token is for us only if its `aud` contains this (RFC 9068 §4).
    AUDIENCE = _env("AUDIENCE", "urn:my-notes-api")
    # Host names this API answers to besides PUBLIC_URL's (a comma-separated list).
    # Any other Host header gets 400, so a DNS-rebinding page cannot call it. Docker
    # adds the name the client uses to reach it (create_app adds PUBLIC_URL's).
    TRUSTED_HOSTS = host_names(_env("TRUSTED_HOSTS", "localhost,127.0.0.1"))

    # Empty (the default): learn the JWKS address from discovery. Set it to skip discovery.
    JWKS_URL = _env("JWKS_URL", "")

    # How a token is checked (default "jwt"):
    # - "jwt": its signature and claims, with the issuer's cached keys (bearer.py). No
    #   call to the authorization server per request, but a token the server revoked
    #   (RFC 7009, or with its family after a replayed code or refresh token) is still
    #   accepted here until it expires (ACCESS_TOKEN_EXPIRES_IN there: a day by default).
    # - "introspection": ask the server about every token (RFC 7662, introspection.py).
    #   One back-channel call per request; a revoked token is refused at once.
    TOKEN_CHECK = _env("TOKEN_CHECK", "jwt")
    # For "introspection": this API is a client of the authorization server (RFC 7662
    # §2.1), registered there as notes-api; the endpoint comes from discovery.
    INTROSPECTION_CLIENT_ID = _env("INTROSPECTION_CLIENT_ID", "notes-api")
    # DEMO ONLY: the server's default NOTES_API_SECRET; real secrets come from a vault.
    INTROSPECTION_CLIENT_SECRET = _env("INTROSPECTION_CLIENT_SECRET", "notes-api-secret")

    # Default: a SQLite file in the instance folder, shared by every gunicorn worker.
    DATABASE_URL = _env("DATABASE_URL", "")

    # How gunicorn.conf.py runs the API: where it listens (docker sets HOST=0.0.0.0
    # to publish the port) and how many worker processes it forks.
    HOST = _env("HOST", "127.0.0.1")
    PORT = int(_env("PORT", "8000"))
    WEB_CONCURRENCY = int(_env("WEB_CONCURRENCY", "2"))
    # The "notes_api" logger's level (INFO shows every protocol step) and the format
    # of every log line (the same default in the three services).
    LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()
    LOG_FORMAT = _env("LOG_FORMAT", "%(asctime)s %(name)s %(levelname)s %(message)s")

    # Keep the issuer's public keys this long before fetching them again (seconds).
    JWKS_CACHE_SECONDS = int(_env("JWKS_CACHE_SECONDS", "300"))
    # How many checked tokens each worker remembers, so a token used again is not
    # checked again until it expires or the issuer stops publishing the key that
    # verified it (bearer.py, VerifiedTokens); 0: check every token on every request.
    VERIFIED_TOKENS_CACHED = int(_env("VERIFIED_TOKENS_CACHED", "1024"))
    # A token with an unknown `kid` triggers a fresh fetch (the issuer may have
    # rotated keys), but never from a copy younger than this, so a flood of made-up
    # kids cannot make us hammer the authorization server.
    JWKS_MIN_REFETCH_SECONDS = int(_env("JWKS_MIN_REFETCH_SECONDS", "10"))
    # How long to wait for the authorization server before answering 503.
    HTTP_TIMEOUT_SECONDS = float(_env("HTTP_TIMEOUT_SECONDS", "5"))

    # This API's public URL, as clients call it. RFC 9449 §4.3: a DPoP proof's htu must
    # be the URL of the request, which behind docker or a proxy the Host header is not.
    PUBLIC_URL = _env("PUBLIC_URL", "http://localhost:8000").rstrip("/")
    # RFC 9449 §5.1: the algs a DPoP proof may be signed with (asymmetric only, §4.2).
    DPOP_SIGNING_ALGS = ["ES256", "PS256"]
    # RFC 9449 §4.3 and §11.1: a DPoP proof is accepted this many seconds after its iat
    # (and its jti remembered as long), and at most this far ahead of our clock.
    DPOP_PROOF_MAX_AGE = int(_env("DPOP_PROOF_MAX_AGE", "60"))
    DPOP_PROOF_MAX_FUTURE = int(_env("DPOP_PROOF_MAX_FUTURE", "5"))

    # RFC 8725 §3.1: we decide the algorithm, not the token. The issuer signs RS256,
    # and PS256 or ES256 for clients under the FAPI 2.0 profile (FAPI 2.0 §5.4.1).
    ALLOWED_ALGORITHMS = ["RS256", "PS256", "ES256"]
    # RFC 7519 §4.1.4/§4.1.5: a little leeway for clocks that disagree (seconds).
    CLOCK_LEEWAY_SECONDS = 30

    # The longest note we accept, in characters.
    NOTE_MAX_LENGTH = 500
    # Bodies larger than this get 413, before anyone reads them (Flask's default: no limit).
    MAX_CONTENT_LENGTH = 64 * 1024

    # DEMO ONLY: notes each demo user finds on first start, so the API has data to show.
    SEED_NOTES = {
        "alice": [
            "Buy oat milk and coffee beans.",
            "PAR: the client pushes the authorization request first (RFC 9126).",
        ],
        "bob": [
            "Call the plumber about the kitchen sink.",
        ],
    }

"""How a secret is shown without giving it away: one policy for the inspector and the attack lab.

- Secret: the values of the parameters and JSON fields in SECRET_FIELDS, wherever they
  appear (a query, a form, a JSON body at any depth); the credentials of an
  Authorization header (its scheme, Basic, Bearer or DPoP, stays visible); the secret
  parameters of a URL in a Location header; any compact JWT in any text.
- Shown: the first SHOWN_CHARACTERS characters and "…", enough to match a value across
  steps; a value too short to be cut that way is shown as "…" alone. A request_uri
  keeps its public URN prefix: only the reference after it is cut.
- Who may ever see one whole (may_reveal): the client's own credentials, no browser,
  ever; the signed-in user's tokens, that user's browser, only where a setting allows
  it (the inspector's INSPECTOR_SHOWS_TOKENS); any other secret, the browser whose
  flow it is, when asked to reveal it.
"""

import re
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import urlsplit

from .oauth_client import REQUEST_URI_PREFIX

# The client's credentials (RFC 6749 §2.3.1; RFC 7521 §4.2's client assertion).
CLIENT_CREDENTIALS = frozenset({"client_secret", "client_assertion"})
# The tokens (RFC 6749 §5.1; OIDC Core §3.1.3.3).
TOKENS = frozenset({"access_token", "refresh_token", "id_token"})
# Parameters and JSON fields whose values are secrets or one-time credentials.
SECRET_FIELDS = CLIENT_CREDENTIALS | TOKENS | frozenset({
    # What ties one flow together: whoever holds them can finish or forge it
    # (RFC 6749 §4.1.2, §10.12; OIDC Core §3.1.2.1; RFC 7636 §4.1; RFC 9126 §2.2).
    "code", "state", "nonce", "code_verifier", "request_uri",
    # What the user types at the login page, and the forms' anti-CSRF token.
    "password", "csrf_token",
})
# What a secret is, which says who may see it whole (may_reveal).
CREDENTIAL = "client credential"
TOKEN = "token"
SECRET = "secret"
# Headers whose value carries credentials after a visible scheme (RFC 7617, RFC 6750 §2.1).
SECRET_HEADERS = frozenset({"authorization"})
# Headers whose value is a URL: its secret query parameters are masked.
URL_HEADERS = frozenset({"location"})
# How much of a secret is shown.
SHOWN_CHARACTERS = 6
# A compact JWS/JWT: three base64url parts, the first a JSON object ('{"' = "eyJ").
JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def field_kind(name):
    """What the value of a parameter or JSON field is: CREDENTIAL, TOKEN, SECRET, or None (public)."""
    if name in CLIENT_CREDENTIALS:
        return CREDENTIAL
    if name in TOKENS:
        return TOKEN
    return SECRET if name in SECRET_FIELDS else None


def credentials_kind(header_value):
    """What an Authorization header carries: the client's credentials (Basic), or a token."""
    # RFC 7617: Basic is how this client authenticates (client_secret_basic); Bearer
    # (RFC 6750 §2.1) and DPoP (RFC 9449 §7.1) carry the user's access token. Anything
    # else: treated as ours.
    scheme = header_value.partition(" ")[0].lower()
    return TOKEN if scheme in ("bearer", "dpop") else CREDENTIAL


def may_reveal(kind, shows_tokens):
    """True if a browser may be sent a secret of this kind whole (never the client's credentials)."""
    return kind == SECRET or (kind == TOKEN and shows_tokens)


def mask(value):
    """A secret as its first SHOWN_CHARACTERS characters and "…"; a short one as "…" alone."""
    # The URN prefix is public, percent-encoded (in a URL) or not; the reference is the secret.
    for prefix in (REQUEST_URI_PREFIX, quote(REQUEST_URI_PREFIX, safe="")):
        if value.startswith(prefix):
            return prefix + mask(value[len(prefix):])
    if len(value) <= 2 * SHOWN_CHARACTERS:
        return "…"
    return value[:SHOWN_CHARACTERS] + "…"


def split_credentials(header_value):
    """An Authorization header as (its visible scheme and a space, its secret credentials)."""
    scheme, _, credentials = header_value.partition(" ")
    return (scheme + " ", credentials) if credentials else ("", header_value)


def mask_header(name, value):
    """A header's value with its credentials, or its URL's secret parameters, masked."""
    if name.lower() in SECRET_HEADERS:
        visible, credentials = split_credentials(value)
        return visible + mask(credentials)
    if name.lower() in URL_HEADERS:
        return mask_url(value)
    return value


def mask_params(pairs):
    """Query or form parameters, (name, value) pairs, with every secret value masked."""
    return [(name, mask(value) if name in SECRET_FIELDS else value) for name, value in pairs]


def mask_url(url):
    """A URL with the secrets in its query masked, shown unencoded for reading."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(f"{name}={value}" for name, value in mask_params(parse_qsl(parts.query)))
    return parts._replace(query=query).geturl()


def mask_json(value):
    """A JSON value with every secret field masked, at any depth."""
    if isinstance(value, dict):
        return {k: mask(v) if k in SECRET_FIELDS and isinstance(v, str) else mask_json(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(item) for item in value]
    return value


def mask_jwts(text):
    """A text with every compact JWT in it masked."""
    return JWT.sub(lambda found: mask(found.group(0)), text)

"""Bearer tokens: who is calling, and may they? (RFC 6750, RFC 9068, RFC 8725)

A request reaches a protected view only after these steps, in this order:

1. Find the token: the Authorization header, "Bearer <token>", and nowhere else.
2. Read the JWT header without trusting it: the algorithm must be on our list and
   the type must say "access token".
3. Take the issuer's public key with the header's `kid` (fetched from the issuer's
   JWKS and cached) and check the signature.
4. Check the claims: iss, aud, exp, nbf, iat, sub.
5. Check that the token's scope covers what the view needs.

Steps 2 to 4 give the same answer every time for the same token, until it expires or
the issuer's keys change: VerifiedTokens remembers the tokens that passed them, so a
client calling the API again with its token costs no second signature check.

Every failure becomes an RFC 6750 §3 response: a status code, a WWW-Authenticate
challenge, and the same error as JSON. If we cannot fetch the issuer's keys at all
we cannot judge any token, and say so with a 503.

With TOKEN_CHECK=introspection (config.py), steps 2 to 4 ask the issuer instead
(introspection.py, RFC 7662), so a revoked token is refused at once.

A DPoP-bound token (RFC 9449) comes as "DPoP <token>" with a proof of its key;
dpop.py checks that proof after step 4, and refuses such a token sent as Bearer.
"""

import functools
import json
import logging
import re
import time

import requests
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from joserfc import jws
from joserfc import jwt
from joserfc.errors import ClaimError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import dpop
from . import introspection

log = logging.getLogger("notes_api")

# The realm in our challenges (RFC 6750 §3: any string naming the protected space).
REALM = "notes_api"
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# The bodies Werkzeug reads as a form (RFC 6750 §2.2 names the first).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# RFC 9068 §4: the two spellings of the JWT access-token type, compared case-insensitively.
ACCESS_TOKEN_TYPES = {"at+jwt", "application/at+jwt"}


class BearerError(Exception):
    """A request that breaks a bearer-token rule; becomes an RFC 6750 §3 response."""

    def __init__(self, status, error, description, scope=None):
        super().__init__(description)
        self.status = status
        self.error = error  # an RFC 6750 §3.1 error code, or None for "no token at all"
        # Our own words only, never text from the token: it goes into a header, where
        # RFC 6750 §3 allows no '"' or '\', and attacker text has no place there.
        self.description = description
        self.scope = scope


class AuthServerUnavailable(Exception):
    """We could not fetch the issuer's keys, so we cannot judge any token (503)."""


def invalid_request(description):
    """RFC 6750 §3.1: a malformed request -> 400 invalid_request."""
    return BearerError(400, "invalid_request", description)


def invalid_token(description):
    """RFC 6750 §3.1: expired, revoked, malformed or otherwise bad token -> 401 invalid_token."""
    return BearerError(401, "invalid_token", description)


def require_token(scope):
    """Decorate a view so it runs only for a valid access token that grants `scope`.

    The view finds the token's claims in `flask.g.token`.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            g.token = validate_request(scope)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def validate_request(scope):
    """Run steps 1 to 5 on the current request; return the token's claims."""
    # RFC 9449 §7.1: a DPoP-bound token comes as "Authorization: DPoP <token>".
    dpop_token = dpop.token_from_request()
    token = dpop_token or bearer_token_from_request()
    if token is None:
        # RFC 6750 §3.1: a request with no authentication information gets a bare
        # challenge, without an error code; the client may simply not know yet
        # that this resource needs a token.
        description = "This API needs an access token: send 'Authorization: Bearer <token>'."
        raise BearerError(401, None, description)
    if current_app.config["TOKEN_CHECK"] == "introspection":
        claims = introspection.active_token_claims(token)
    else:
        claims = verified_tokens().claims_of(token)
        if claims is None:
            claims, key = validate_access_token(token)
            verified_tokens().remember(token, claims, key)
    # RFC 9449 §7: a DPoP token's proof, and no DPoP-bound token as a bearer token.
    dpop.check_binding(claims, dpop_token)

    # Step 5. RFC 9068 §2.2.3: `scope` is a space-separated string (RFC 6749 §3.3).
    granted = claims.get("scope", "")
    if not isinstance(granted, str):
        raise invalid_token("The token's scope claim is not a string.")
    if scope not in granted.split():
        # RFC 6750 §3.1: a good token without the needed scope -> 403 insufficient_scope.
        raise BearerError(403, "insufficient_scope", f"This needs the scope {scope}.", scope=scope)

    # At DEBUG: the view's own line names the caller (sub, client_id, jti), so a
    # request writes one INFO line, not two.
    log.debug(
        "[%s] token ok sub=%s client_id=%s jti=%s scope=%r",
        g.request_id, claims["sub"], claims.get("client_id"), claims.get("jti"), granted,
    )
    return claims


def bearer_token_from_request():
    """Step 1: the token from "Authorization: Bearer <token>" (RFC 6750 §2.1), or None."""
    # RFC 6750 §2.2 and §2.3 allow a form field or a query parameter too, but URLs
    # end up in logs, history and Referer headers (RFC 6750 §5.3, RFC 9700 §4.3.2).
    # We refuse both loudly instead of ignoring them (§3.1: "unsupported parameter").
    # (Werkzeug parses a form only of these two types: no other body can hold one, and a
    # request without a query or a form, nearly all of them, parses nothing here.)
    in_query = bool(request.query_string) and "access_token" in request.args
    in_form = request.mimetype in FORM_TYPES and "access_token" in request.form
    if in_query or in_form:
        raise invalid_request(
            "Send the access token in the Authorization header, not in the URL or the body."
        )

    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        # RFC 6750 §3.1: another scheme (say Basic) is "an unsupported authentication
        # method", which counts as no authentication information at all.
        return None
    parts = credentials.split()
    if len(parts) != 1 or not B64TOKEN.fullmatch(parts[0]):
        raise invalid_request("The Authorization header must be 'Bearer' followed by exactly one token.")
    return parts[0]


def validate_access_token(token):
    """Steps 2 to 4: check a JWT access token (RFC 9068 §4); return its claims and the key that verified it."""
    config = current_app.config

    # Step 2. Read the header without trusting it: nothing is verified yet. The token
    # is parsed once, here; step 3 checks the signature of this same parsed token.
    try:
        parsed = jws.extract_compact(token.encode())
        header = parsed.headers()
    except JoseError:
        header = None
    if not isinstance(header, dict):
        raise invalid_token("The access token is not a well-formed JWT.")

    # RFC 8725 §3.1: we pick the algorithm, not the token, and we check it before
    # touching any key. So "none" (RFC 8725 §2.1) and HS256 "signed" with our RSA
    # public key as the HMAC secret (algorithm confusion) never get a chance.
    if header.get("alg") not in config["ALLOWED_ALGORITHMS"]:
        raise invalid_token("The token's alg is not allowed here (only RS256).")

    # RFC 9068 §4 and RFC 8725 §3.11 (explicit typing): only an access token will do,
    # so an ID token signed by the same key cannot be replayed here.
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise invalid_token("The token's typ must be at+jwt (RFC 9068).")

    # Step 3. The key comes from the issuer's JWKS, picked by kid, and nowhere else:
    # we never follow a jku or x5u URL from the token (RFC 8725 §3.10).
    key = issuer_keys().key_for(header.get("kid"))
    try:
        verified = jws.validate_compact(parsed, key, algorithms=config["ALLOWED_ALGORITHMS"])
    except JoseError:
        verified = False
    if not verified:
        raise invalid_token("The token's signature does not verify.")
    # RFC 7519 §7.2 step 10: the payload is the claims, a JSON object.
    try:
        claims = json.loads(parsed.payload)
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise invalid_token("The token's claims are not a JSON object.")

    check_claims(claims)
    return claims, key


def check_claims(claims):
    """Step 4: the claims say the token is from our issuer, for us, and current."""
    config = current_app.config
    # RFC 9068 §4: iss is exactly our issuer, aud contains us, exp is in the
    # future; nbf and iat, when present, are not in the future (RFC 7519 §4.1).
    rules = jwt.JWTClaimsRegistry(
        leeway=config["CLOCK_LEEWAY_SECONDS"],
        iss={"essential": True, "value": config["ISSUER"]},
        aud={"essential": True, "value": config["AUDIENCE"]},
        exp={"essential": True},
        sub={"essential": True},  # whose notes? (RFC 9068 §2.2)
    )
    try:
        rules.validate(claims)
    except ClaimError as error:
        raise invalid_token(f"{error.description}.") from None


def issuer_keys():
    """This app's cache of the issuer's public keys."""
    return current_app.extensions["notes_api.issuer_keys"]


def verified_tokens():
    """This app's cache of the tokens that passed steps 2 to 4."""
    return current_app.extensions["notes_api.verified_tokens"]


class VerifiedTokens:
    """Access tokens this process has checked (steps 2 to 4), with their claims.

    A cache, not state, like IssuerKeys: each worker keeps its own, and losing it costs
    one signature check per token. Only a token that passed every check is kept, so
    made-up tokens cannot fill it. An entry counts only while
    - the token is unexpired (exp plus the leeway, as step 4 allows), and
    - the key that verified it is still in the issuer's current, unexpired key set:
      when the cached JWKS is due, the next token is checked in full (which fetches it
      again), and a key the issuer withdrew or replaced stops its tokens as before. A
      fetch that brings the same keys back keeps them (IssuerKeys.refresh), and so
      keeps the tokens they verified.
    At most `size` tokens are kept, the least recently used dropped first; 0 turns it off.
    """

    def __init__(self, size, leeway, keys):
        self.size, self.leeway, self.keys = size, leeway, keys
        self.entries = {}  # token -> (claims, the key that verified it); oldest use first

    def claims_of(self, token):
        """The claims of a token checked before and still good; else None."""
        entry = self.entries.pop(token, None)
        if entry is None:
            return None
        claims, key = entry
        if self.keys.age() > self.keys.lifetime or self.keys.keys.get(key.kid) is not key:
            return None  # the key set is due, or no longer holds this key: check it again
        if time.time() > claims["exp"] + self.leeway:
            return None
        self.entries[token] = entry  # back in, now the most recently used
        return claims

    def remember(self, token, claims, key):
        """Keep a token that has just passed steps 2 to 4, with the key that verified it."""
        if self.size <= 0 or not isinstance(claims.get("exp"), (int, float)):
            return
        while len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)), None)  # the least recently used
        self.entries[token] = (claims, key)


class IssuerKeys:
    """The issuer's public signing keys, fetched over HTTP and cached in this process.

    This is a cache, not state: each gunicorn worker keeps its own copy, and losing
    it costs one fetch.
    """

    def __init__(self, config):
        self.issuer = config["ISSUER"]  # compared exactly, never trimmed
        # OIDC Discovery §4.1: URLs are built on the issuer without its trailing "/".
        self.public_base = self.issuer.rstrip("/")
        self.internal_base = (config["AUTH_SERVER_INTERNAL_URL"] or self.public_base).rstrip("/")
        self.jwks_url = config["JWKS_URL"] or None  # None: learn it from discovery
        self.lifetime = config["JWKS_CACHE_SECONDS"]
        self.min_refetch = config["JWKS_MIN_REFETCH_SECONDS"]
        self.timeout = config["HTTP_TIMEOUT_SECONDS"]
        self.keys = None  # {kid: parsed public key}, ready to verify with
        self.fetched_at = 0.0  # time.monotonic() of the last successful fetch

    def key_for(self, kid):
        """The issuer's key with this kid, fetching the JWKS again once if it is new to us."""
        if not isinstance(kid, str):
            raise invalid_token("The token's header has no kid.")
        if self.keys is None or self.age() > self.lifetime:
            self.refresh()
        key = self.keys.get(kid)
        if key is None and self.age() >= self.min_refetch:
            # The issuer may have rotated its keys since our last fetch. The age check
            # stops a flood of made-up kids from turning into a flood of fetches.
            log.info("[%s] unknown kid %.40r: fetching the JWKS again", g.request_id, kid)
            self.refresh()
            key = self.keys.get(kid)
        if key is None:
            raise invalid_token("The token's kid names no key the issuer publishes (unknown kid).")
        return key

    def age(self):
        """Seconds since the last successful fetch."""
        return time.monotonic() - self.fetched_at

    def refresh(self):
        """Fetch the JWKS (after discovery, the first time) and replace the cached keys."""
        if self.jwks_url is None:
            self.jwks_url = self.discover("jwks_uri")
        document = self.get_json(self.jwks_url)
        try:
            # Parsed once per fetch, not per request: each token only looks its kid up.
            keys = {key.kid: key for key in KeySet.import_key_set(document)}
        except (JoseError, LookupError, TypeError, ValueError) as error:
            # A malformed key set can fail in many ways; all of them mean "no keys".
            raise AuthServerUnavailable(f"{self.jwks_url} is not a usable JWK set ({error}).") from None
        # A key published again unchanged stays the same object, so the tokens it
        # verified stay verified (VerifiedTokens); a new or changed key is a new object.
        previous = self.keys or {}
        for kid, key in keys.items():
            if kid in previous and previous[kid].as_dict() == key.as_dict():
                keys[kid] = previous[kid]
        self.keys, self.fetched_at = keys, time.monotonic()
        log.info("fetched JWKS from %s: kids=%s", self.jwks_url, list(self.keys))

    def discover(self, name):
        """Read one URL (jwks_uri, ...) from the issuer's metadata (RFC 8414 §3), for the back channel."""
        url = self.internal_base + "/.well-known/openid-configuration"
        metadata = self.get_json(url)
        # RFC 8414 §3.3 (OIDC Discovery §4.3): it must name exactly the issuer we trust.
        if metadata.get("issuer") != self.issuer:
            issuer = metadata.get("issuer")
            raise AuthServerUnavailable(f"{url} names issuer {issuer!r}, expected {self.issuer!r}.")
        if not isinstance(metadata.get(name), str):
            raise AuthServerUnavailable(f"{url} has no {name}.")
        found = self.back_channel(metadata[name])
        log.info("discovery at %s: %s %s -> using %s", url, name, metadata[name], found)
        return found

    def back_channel(self, url):
        """Rewrite a public issuer URL to the internal base this process can reach.

        Discovery lists the issuer's public URLs (http://localhost:9000/...). Inside
        docker, "localhost" is this container, not the authorization server: the
        classic docker OAuth breakage. So server-to-server calls such as the JWKS
        fetch go to the internal base (http://auth_server:9000/...), while the
        tokens' `iss` stays the public URL.
        """
        if url == self.public_base or url.startswith(self.public_base + "/"):
            return self.internal_base + url[len(self.public_base):]
        return url

    def get_json(self, url):
        """GET a JSON object from the authorization server, or raise AuthServerUnavailable."""
        try:
            response = requests.get(url, timeout=self.timeout)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise AuthServerUnavailable(f"GET {url} failed: {error}") from None
        if not isinstance(document, dict):
            raise AuthServerUnavailable(f"GET {url} did not return a JSON object.")
        return document


def bearer_error_response(error):
    """RFC 6750 §3: the status, a WWW-Authenticate challenge, and the same error as JSON."""
    log.info("[%s] %s %s: %s", g.request_id, error.status, error.error or "no token", error.description)
    challenge = [f'realm="{REALM}"']
    body = {}
    if error.error is not None:
        challenge.append(f'error="{error.error}"')
        challenge.append(f'error_description="{error.description}"')
        body["error"] = error.error
    if error.scope is not None:
        challenge.append(f'scope="{error.scope}"')
        body["scope"] = error.scope
    body["error_description"] = error.description
    response = jsonify(body)
    response.status_code = error.status
    response.headers["WWW-Authenticate"] = dpop.challenge_scheme(error) + ", ".join(challenge)
    return response


def unavailable_response(error):
    """503: the authorization server (its keys, or its introspection) is out of reach."""
    # The details (URLs, the network error) go to our log, not to the caller.
    log.error("[%s] cannot check tokens: %s", g.request_id, error)
    response = jsonify(
        error="temporarily_unavailable",
        error_description="Cannot check access tokens right now: the authorization server "
        "could not be reached. Try again shortly.",
    )
    response.status_code = 503
    response.headers["Retry-After"] = "10"
    return response


def init_app(app):
    """Give the app its key cache (or introspection) and its RFC 6750 error responses."""
    if app.config["TOKEN_CHECK"] not in ("jwt", "introspection"):
        raise ValueError(f"TOKEN_CHECK must be 'jwt' or 'introspection', not {app.config['TOKEN_CHECK']!r}.")
    keys = app.extensions["notes_api.issuer_keys"] = IssuerKeys(app.config)
    app.extensions["notes_api.verified_tokens"] = VerifiedTokens(
        app.config["VERIFIED_TOKENS_CACHED"], app.config["CLOCK_LEEWAY_SECONDS"], keys)
    app.extensions["notes_api.introspection"] = introspection.Introspection(app.config)
    app.register_error_handler(BearerError, bearer_error_response)
    app.register_error_handler(dpop.DPoPError, bearer_error_response)
    app.register_error_handler(AuthServerUnavailable, unavailable_response)

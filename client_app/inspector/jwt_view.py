"""JWTs taken apart for the inspector: header, claims (each explained), signature check.

The ID token and the access token of step 10 are JWTs: three base64url parts, the
header, the claims and an RS256 signature (RFC 7519, RFC 7515). Anyone can read the
first two; only the signature, checked against the authorization server's published
keys (its JWKS, fetched over the back channel), says the token is genuine.
"""

import base64
import json
from datetime import datetime
from datetime import timezone

from joserfc import jws
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError

# What each header field means (RFC 7515 §4.1, RFC 9068 §2.1).
HEADER_FIELDS = {
    "alg": "The signing algorithm: RS256 is an RSA signature over a SHA-256 hash.",
    "typ": "The token's type: at+jwt marks an access token (RFC 9068), so it cannot pass for an ID token.",
    "kid": "Key ID: which of the server's published keys (its JWKS) verifies the signature.",
}

# What each claim means, in one sentence (RFC 7519 §4.1, RFC 9068 §2.2, OIDC Core §2, §5.1).
CLAIMS = {
    "iss": "Issuer: the authorization server that made and signed this token.",
    "sub": "Subject: the user the token is about, a stable identifier at the issuer.",
    "aud": "Audience: who the token is for (the client for an ID token, the API for an access "
           "token); anyone else must refuse it.",
    "exp": "Expiry: after this moment the token must be refused.",
    "iat": "Issued at: when the token was made.",
    "nbf": "Not before: the token must be refused before this moment.",
    "jti": "JWT ID: a unique id for this token, so it can be recognised (or revoked).",
    "client_id": "The client the access token was issued to (RFC 9068 §2.2).",
    "scope": "The permissions granted, space-separated: what the API lets the client do.",
    "auth_time": "When the user last typed their password at the authorization server.",
    "nonce": "The random value the client pushed in step 2, echoed back: it ties this ID token "
             "to that login, so an old or stolen one cannot be replayed.",
    "azp": "Authorized party: the client the ID token was issued to.",
    "at_hash": "Half of the access token's SHA-256 hash: binds this ID token to the access token "
               "issued with it.",
    "sid": "Session ID: the user's login session at the authorization server.",
    "name": "The user's full name (released by the profile scope).",
    "preferred_username": "The user's username (released by the profile scope).",
    "email": "The user's email address (released by the email scope).",
    "email_verified": "Whether the authorization server has checked that the email address is theirs.",
}
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")


def decode_part(part):
    """One base64url JSON part of a JWT, as a dict."""
    padded = part + "=" * (-len(part) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict):
        raise ValueError("a JWT part must be a JSON object")
    return value


def explain(token, keys, refetch=None, now=None):
    """Header, explained claims and the signature check of a JWT; None if it is not one.

    `keys` is the JWKS as a KeySet (None: it could not be fetched); `refetch` returns a
    fresh one, for a kid the cached JWKS does not know yet (the server may have rotated).
    """
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        header, claims = decode_part(parts[0]), decode_part(parts[1])
    except (ValueError, UnicodeDecodeError):
        return None
    return {
        "header": [{"name": k, "value": json.dumps(v), "explanation": HEADER_FIELDS.get(k, "")}
                   for k, v in header.items()],
        "claims": [_claim(k, v, now) for k, v in claims.items()],
        "signature": check_signature(token, keys, refetch, header.get("kid")) if keys is not None else {
            "outcome": "unchecked", "detail": "the authorization server's JWKS could not be fetched"},
        "header_raw": header,
        "claims_raw": claims,
    }


def check_signature(token, keys, refetch=None, kid=None):
    """{"outcome": "passed" | "failed", "detail": why} for the token's RS256 signature."""
    try:
        try:
            jws.deserialize_compact(token, keys, algorithms=["RS256"])
        except InvalidKeyIdError:
            if refetch is None:
                raise
            jws.deserialize_compact(token, refetch(), algorithms=["RS256"])
    except InvalidKeyIdError:
        return {"outcome": "failed", "detail": f"no key with kid {kid!r} in the authorization server's JWKS"}
    except JoseError as e:
        return {"outcome": "failed", "detail": f"the signature does not verify ({e.error})"}
    return {"outcome": "passed",
            "detail": f"RS256 signature verified with the JWKS key {kid!r}"}


def _claim(name, value, now):
    """One claim: its value, its explanation, and a readable time for the time claims."""
    item = {"name": name, "value": json.dumps(value), "explanation": CLAIMS.get(
        name, "A claim this inspector has no explanation for."), "when": ""}
    if name in TIME_CLAIMS and isinstance(value, (int, float)):
        item["when"] = readable_time(value, now)
    return item


def readable_time(timestamp, now=None):
    """A Unix time as UTC, with how far it is from now ("in 24 h", "3 s ago")."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    if now is None:
        return moment
    delta = int(timestamp - now)
    span = abs(delta)
    amount = f"{span // 3600} h {span % 3600 // 60} min" if span >= 3600 else (
        f"{span // 60} min {span % 60} s" if span >= 60 else f"{span} s")
    return f"{moment} ({'in ' + amount if delta > 0 else amount + ' ago' if delta < 0 else 'now'})"

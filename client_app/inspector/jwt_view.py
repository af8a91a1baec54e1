"""JWTs taken apart for the inspector: header, claims (each explained), signature check.

The ID token and the access token of step 10 are JWTs: three base64url parts, the
header, the claims and a signature (RFC 7519, RFC 7515). Anyone can read the first
two; only the signature, checked against the signer's public keys, says the token
is genuine. The AS's tokens are checked with its JWKS (fetched over the back channel).
Under FAPI 2.0 the client signs JWTs too: its client assertions and its request
object (checked with the client's own JWKS), and DPoP proofs (checked with the
public key each one carries in its header).
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
    "alg": "The signing algorithm: RS256 and PS256 are RSA signatures over a SHA-256 hash, "
           "ES256 an elliptic-curve one (P-256).",
    "typ": "The JWT's type, so no JWT passes for another: at+jwt an access token (RFC 9068), "
           "dpop+jwt a DPoP proof (RFC 9449 §4.2), oauth-authz-req+jwt a request object (RFC 9101 §10.8).",
    "kid": "Key ID: which of the signer's published keys (its JWKS) verifies the signature.",
    "jwk": "The public key that verifies this DPoP proof, carried in the proof itself; its "
           "thumbprint is what the tokens are bound to (RFC 9449 §4.2).",
}

# The algs the AS and the client sign with (RS256 by default; PS256 or ES256 under FAPI 2.0).
ALGORITHMS = ["RS256", "PS256", "ES256"]

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
    "client_id": "The client this JWT is about: the one the access token was issued to (RFC 9068 "
                 "§2.2), or the one making the request (RFC 9101 §4).",
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
    # DPoP (RFC 9449 §4.2, §6.1).
    "htm": "HTTP method: the proof is good for a request with this method only (RFC 9449 §4.2).",
    "htu": "HTTP URL: the proof is good for this URL only, as the receiver knows itself (RFC 9449 §4.2).",
    "ath": "Access token hash: base64url(SHA-256) of the token sent with this proof, so the "
           "proof cannot be used with another token (RFC 9449 §4.2).",
    "cnf": "Confirmation: jkt is the thumbprint of the client's DPoP key; the token is refused "
           "without a proof signed by that key (RFC 9449 §6.1).",
    # The authorization request, signed as a request object (RFC 9101 §4, RFC 6749 §4.1.1).
    "response_type": "What the client asks for: code, an authorization code (RFC 6749 §4.1.1).",
    "redirect_uri": "Where the authorization server sends the browser back with the code.",
    "state": "The client's random value tying the callback to this browser (CSRF defence, RFC 6749 §10.12).",
    "code_challenge": "The hash of the client's PKCE code_verifier, which only the client knows (RFC 7636 §4.2).",
    "code_challenge_method": "How the code_challenge was made: S256, a SHA-256 hash (RFC 7636 §4.2).",
    "audience": "The API the access token is for.",
    "resource": "The API the access token is for (RFC 8707 §2).",
    "dpop_jkt": "The thumbprint of the client's DPoP key: the code will only be exchanged with "
                "a proof by that key (RFC 9449 §10).",
}

# Where a claim means something else in one kind of JWT (the kinds: walkthrough.py).
CLAIMS_BY_KIND = {
    "client_assertion": {
        "iss": "Issuer: the client itself, which signed this assertion with its own key (RFC 7523 §3).",
        "sub": "Subject: the client again: the assertion says \"I am this client\" (RFC 7523 §2.2).",
        "aud": "Audience: the authorization server's issuer identifier; no one else may accept it "
               "(FAPI 2.0 §5.3.2.1).",
        "exp": "Expiry: an assertion lives a minute; it is a credential, used once.",
        "jti": "JWT ID: the server remembers it until exp, so the assertion cannot be replayed (RFC 7523 §3).",
    },
    "request_object": {
        "iss": "Issuer: the client that signed this request (RFC 9101 §4).",
        "aud": "Audience: the authorization server the request is for (RFC 9101 §4).",
        "nonce": "The random value the ID token must echo back: it ties the ID token to this login.",
        "exp": "Expiry: at most 60 minutes after nbf (FAPI 2.0 §5.3.2.1).",
    },
    "dpop_proof": {
        "jti": "JWT ID: each proof is used once; the receiver remembers it (RFC 9449 §11.1).",
        "iat": "Issued at: a proof is accepted only for a short while after it (RFC 9449 §4.3).",
        "nonce": "The authorization server's nonce, from its DPoP-Nonce header: a proof made "
                 "earlier cannot carry it (RFC 9449 §8).",
    },
}
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")


def decode_part(part):
    """One base64url JSON part of a JWT, as a dict."""
    padded = part + "=" * (-len(part) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict):
        raise ValueError("a JWT part must be a JSON object")
    return value


def explain(token, keys, refetch=None, now=None, kind=None, signer="the authorization server's JWKS"):
    """Header, explained claims and the signature check of a JWT; None if it is not one.

    `keys` is the JWKS as a KeySet (None: it could not be fetched); `refetch` returns a
    fresh one, for a kid the cached JWKS does not know yet (the server may have rotated).
    `kind` (a CLAIMS_BY_KIND key) picks the claims' explanations; `signer` names the keys.
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
        "claims": [_claim(k, v, now, CLAIMS_BY_KIND.get(kind, {})) for k, v in claims.items()],
        "signature": check_signature(token, keys, refetch, header.get("kid"), signer) if keys is not None else {
            "outcome": "unchecked", "detail": f"{signer} could not be fetched"},
        "header_raw": header,
        "claims_raw": claims,
    }


def check_signature(token, keys, refetch=None, kid=None, signer="the authorization server's JWKS"):
    """{"outcome": "passed" | "failed", "detail": why} for the token's signature (RS256, PS256 or ES256)."""
    try:
        try:
            verified = jws.deserialize_compact(token, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError:
            if refetch is None:
                raise
            verified = jws.deserialize_compact(token, refetch(), algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        return {"outcome": "failed", "detail": f"no key with kid {kid!r} in {signer}"}
    except JoseError as e:
        return {"outcome": "failed", "detail": f"the signature does not verify ({e.error})"}
    alg = verified.headers()["alg"]
    if kid is None:
        return {"outcome": "passed", "detail": f"{alg} signature verified with {signer}"}
    return {"outcome": "passed", "detail": f"{alg} signature verified with the JWKS key {kid!r}"}


def _claim(name, value, now, explanations):
    """One claim: its value, its explanation, and a readable time for the time claims."""
    explanation = explanations.get(name) or CLAIMS.get(name, "A claim this inspector has no explanation for.")
    item = {"name": name, "value": json.dumps(value), "explanation": explanation, "when": ""}
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

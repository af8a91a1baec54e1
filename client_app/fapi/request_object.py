"""A signed request object (RFC 9101), pushed through PAR (RFC 9126 §3).

The authorization parameters travel as the claims of a JWT signed with the client's
key, so the AS knows they came from this client unchanged. Only the signed claims
count at the AS: nothing sent beside it can alter the request.
"""

import secrets

from joserfc import jwt

from ..models import now
from . import keys

# FAPI 2.0 §5.3.2.1: exp at most 60 minutes after nbf; ours lives five (PAR uses it at once).
LIFETIME_SECONDS = 300


def request_object(parameters, client_id, issuer):
    """The parameters signed as a JWT: iss = client_id, aud = the issuer (RFC 9101 §4)."""
    key = keys.signing_key()
    alg = key.alg
    issued_at = now()
    claims = {
        **parameters,
        "iss": client_id,
        "aud": issuer,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16),
    }
    # RFC 9101 §10.8: typ "oauth-authz-req+jwt" says what this JWT is.
    header = {"alg": alg, "kid": key.kid, "typ": "oauth-authz-req+jwt"}
    return jwt.encode(header, claims, key, algorithms=[alg])

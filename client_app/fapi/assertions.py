"""private_key_jwt (RFC 7523 §2.2, OIDC Core §9): the client authenticates with a signed JWT.

Instead of a secret the AS also knows, the client signs a short-lived assertion with
its own key; the AS checks it with the public key it fetched from our jwks_uri. An
assertion is a credential while it lives: it is masked like the client secret.
"""

import secrets

from joserfc import jwt

from ..models import now
from . import keys

# RFC 7521 §4.2 and RFC 7523 §2.2: how the form names the assertion's type.
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# RFC 7523 §3: the AS bounds exp; ours lives one minute (the AS takes at most five).
LIFETIME_SECONDS = 60


def client_assertion(client_id, issuer):
    """A fresh assertion: iss = sub = client_id, aud = the issuer identifier (FAPI 2.0 §5.3.2.1)."""
    key = keys.signing_key()
    alg = key.alg
    issued_at = now()
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": issuer,
        # RFC 7523 §3: the AS remembers the jti until exp, so the assertion works once.
        "jti": secrets.token_urlsafe(24),
        "iat": issued_at,
        "exp": issued_at + LIFETIME_SECONDS,
    }
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def authentication_form(client_id, issuer):
    """The form fields that authenticate this client (RFC 7521 §4.2)."""
    return {"client_id": client_id, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(client_id, issuer)}

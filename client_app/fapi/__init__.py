"""The client's FAPI 2.0 pieces (the fapi2 profile), one module per protocol piece.

  keys            the client's two key pairs, kept in its database; GET /.well-known/jwks.json
  assertions      private_key_jwt: a signed JWT instead of a client secret (RFC 7523 §2.2)
  request_object  the authorization request as a signed JWT, pushed through PAR (RFC 9101)
  dpop            DPoP proofs (RFC 9449) and the AS's nonce, kept per login
"""

from . import dpop  # noqa: F401  (its table)
from . import keys


def enabled(config):
    """True when this client offers the FAPI 2.0 profile (PROFILES)."""
    return "fapi2" in config["PROFILES"]


def init_app(app):
    """With fapi2 offered: make the key pairs at first start, and publish the signing key."""
    if not enabled(app.config):
        return
    keys.init_app(app)

"""The client's key pairs: made at first start, kept in the database, the public half published.

Two keys, two jobs (FAPI 2.0 §5.4.1: PS256 or ES256):
- "signing" signs client assertions and request objects; the AS fetches its public
  half from our jwks_uri (RFC 7591 §2), GET /.well-known/jwks.json here.
- "dpop" signs DPoP proofs (ES256); it is not published: each proof carries it (RFC 9449 §4.2).
The private keys stay in this client's database, like its other secrets, so every
worker and every restart uses the same ones.
"""

from flask import Blueprint
from joserfc.jwk import ECKey
from joserfc.jwk import JWKRegistry
from joserfc.jwk import RSAKey
from sqlalchemy import JSON
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..models import db
from ..models import now

SIGNING = "signing"
DPOP = "dpop"
# DPoP proofs are ES256: small keys, small proofs (RFC 9449 §4.2, asymmetric only).
DPOP_ALG = "ES256"
SIGNING_ALGS = ("PS256", "ES256")

jwks = Blueprint("jwks", __name__)


class ClientKey(db.Model):
    """One of the client's key pairs, private half included, as a JWK (RFC 7517)."""

    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # SIGNING or DPOP
    jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(Integer, default=now)


def generate(alg):
    """A new key pair for `alg`; its kid is its RFC 7638 thumbprint."""
    parameters = {"alg": alg, "use": "sig"}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)
    return RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)


def ensure(name, alg):
    """Make the key `name` unless the database has one for `alg`; a race with another worker is lost calmly."""
    row = db.session.get(ClientKey, name)
    if row is not None and row.jwk.get("alg") == alg:
        return
    key = generate(alg).as_dict(private=True)
    if row is None:
        db.session.add(ClientKey(name=name, jwk=key))
    else:
        # The configured alg changed: a new key replaces the old one (the AS sees it when
        # its cached copy of our JWKS runs out).
        row.jwk, row.created_at = key, now()
    try:
        db.session.commit()
    except IntegrityError:
        # Another process made it first: use theirs.
        db.session.rollback()


# Parsed keys by kid (each key's RFC 7638 thumbprint): a cache of immutable rows, not
# state; any worker can rebuild it. Parsing a private RSA key costs tens of milliseconds.
_parsed = {}


def load(name):
    """The key pair `name`, from the database (parsed once per process)."""
    jwk = db.session.get(ClientKey, name).jwk
    if jwk["kid"] not in _parsed:
        _parsed[jwk["kid"]] = JWKRegistry.import_key(jwk)
    return _parsed[jwk["kid"]]


def signing_key():
    """The key that signs client assertions and request objects."""
    return load(SIGNING)


def dpop_key():
    """The key that signs DPoP proofs."""
    return load(DPOP)


def public_jwks():
    """The JWK Set the AS reads: the signing key's public half only."""
    return {"keys": [signing_key().as_dict(private=False)]}


@jwks.get("/.well-known/jwks.json")
def jwks_document():
    """RFC 7517 §5: this client's public keys, at the jwks_uri it is registered with."""
    return public_jwks(), 200, {"Cache-Control": "max-age=300"}


def init_app(app):
    """Make the key pairs at first start (kept in the database), and serve the JWKS."""
    alg = app.config["CLIENT_SIGNING_ALG"]
    if alg not in SIGNING_ALGS:
        raise ValueError(f"CLIENT_SIGNING_ALG must be one of {SIGNING_ALGS}")
    with app.app_context():
        ensure(SIGNING, alg)
        ensure(DPOP, DPOP_ALG)
        db.engine.dispose()
    app.register_blueprint(jwks)

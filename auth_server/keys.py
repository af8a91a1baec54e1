"""Signing keys: generated on first start, stored in the database, published as a JWKS.

Keys live in the database (not a file in one container, not one process's memory) so
every gunicorn worker and every replica signs with the same key, and a restart keeps
old tokens verifiable. The newest key signs; every stored key stays in the JWKS so
tokens signed before a rotation still verify until they expire.
"""

from joserfc.jwk import RSAKey
from sqlalchemy.exc import IntegrityError

from .models import SigningKey
from .models import db
from .models import now

# Parsed keys by kid. A cache of immutable rows, not state: any worker can rebuild it.
_parsed = {}


def _load(row):
    """Parse a stored key once per process (parsing RSA keys is not free)."""
    if row.kid not in _parsed:
        _parsed[row.kid] = RSAKey.import_key(row.private_jwk)
    return _parsed[row.kid]


def generate_signing_key():
    """Make a new RS256 key pair and store it; it becomes the signing key."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    db.session.add(SigningKey(kid=key.kid, private_jwk=key.as_dict(private=True), created_at=now()))
    db.session.commit()
    return key


def ensure_signing_key():
    """Generate the first key pair on first start; workers racing here agree on one."""
    if db.session.scalar(db.select(SigningKey.kid).limit(1)) is None:
        try:
            generate_signing_key()
        except IntegrityError:  # another process stored one first
            db.session.rollback()


def current_signing_key():
    """The newest key: the one that signs new tokens."""
    row = db.session.scalar(db.select(SigningKey).order_by(SigningKey.id.desc()).limit(1))
    return _load(row)


def public_jwks():
    """RFC 7517 §5: every stored key's public half, for resource servers and clients."""
    rows = db.session.scalars(db.select(SigningKey).order_by(SigningKey.id.desc()))
    return {"keys": [_load(row).as_dict(private=False) for row in rows]}

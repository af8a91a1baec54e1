"""Signing keys: generated on first start, stored in the database, published as a JWKS.

Rotate with `flask --app auth_server rotate-keys` (any one replica; they share the table).

Keys live in the database (not a file in one container, not one process's memory) so
every gunicorn worker and every replica signs with the same key, and a restart keeps
old tokens verifiable. The newest key signs; every stored key stays in the JWKS so
tokens signed before a rotation still verify until they expire.
"""

import click
from flask import current_app
from flask.cli import with_appcontext
from joserfc.jwk import RSAKey
from .models import SigningKey
from .models import db
from .models import hold_startup_lock
from .models import now

# Parsed keys by kid. A cache of immutable rows, not state: any worker can rebuild it.
_parsed = {}


def _load(row):
    """Parse a stored key once per process (parsing RSA keys is not free)."""
    if row.kid not in _parsed:
        _parsed[row.kid] = RSAKey.import_key(row.private_jwk)
    return _parsed[row.kid]


def generate_signing_key():
    """Make a new RSA key pair for the signing alg and store it; it becomes the signing key."""
    parameters = {"use": "sig", "alg": current_app.config["SIGNING_ALG"]}
    key = RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)
    return store_signing_key(key)


def store_signing_key(key):
    """Store a key pair; being the newest, it signs from now on."""
    db.session.add(SigningKey(kid=key.kid, private_jwk=key.as_dict(private=True), created_at=now()))
    db.session.commit()
    return key


def ensure_signing_key():
    """Generate the first key pair on first start; replicas starting together agree on one."""
    hold_startup_lock()
    if db.session.scalar(db.select(SigningKey.kid).limit(1)) is None:
        test_key = current_app.config["TEST_SIGNING_KEY"]
        if test_key:
            store_signing_key(test_key)  # tests only (config.py)
        else:
            generate_signing_key()
    db.session.commit()


def current_signing_key():
    """The newest key: the one that signs new tokens."""
    row = db.session.scalar(db.select(SigningKey).order_by(SigningKey.id.desc()).limit(1))
    return _load(row)


def public_jwks():
    """RFC 7517 §5: every stored key's public half, for resource servers and clients."""
    rows = db.session.scalars(db.select(SigningKey).order_by(SigningKey.id.desc()))
    return {"keys": [_load(row).as_dict(private=False) for row in rows]}


def rotate_signing_keys():
    """A new key signs from now on; keys retired longer ago than any token lives are dropped.

    Returns (the new key, the kids removed).
    """
    new_key = generate_signing_key()
    config = current_app.config
    longest_life = max(config["ACCESS_TOKEN_EXPIRES_IN"], config["ID_TOKEN_EXPIRES_IN"])
    rows = db.session.scalars(db.select(SigningKey).order_by(SigningKey.id)).all()
    # A key retires when its successor is made; its tokens live at most longest_life more.
    removable = [old.kid for old, successor in zip(rows, rows[1:])
                 if successor.created_at < now() - longest_life]
    db.session.execute(db.delete(SigningKey).where(SigningKey.kid.in_(removable)))
    db.session.commit()
    return new_key, removable


@click.command("rotate-keys")
@with_appcontext
def rotate_keys_command():
    """Make a new signing key; old tokens stay valid until they expire."""
    new_key, removed = rotate_signing_keys()
    click.echo(f"New signing key {new_key.kid}; removed {len(removed)} retired key(s).")


def init_app(app):
    """Register the rotate-keys command."""
    app.cli.add_command(rotate_keys_command)

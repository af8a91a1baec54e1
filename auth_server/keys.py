"""Signing keys: generated on first start, stored in the database, published as a JWKS.

Rotate with `flask --app auth_server rotate-keys` (any one replica; they share the table).

Keys live in the database (not a file in one container, not one process's memory) so
every gunicorn worker and every replica signs with the same key, and a restart keeps
old tokens verifiable. There is one key per alg this server signs with (config
SIGNING_ALGS: RSA for RS256 and PS256, EC P-256 for ES256), rotated together. The
newest key of an alg signs; every stored key stays in the JWKS so tokens signed before
a rotation still verify until they expire.
"""

import click
from flask import current_app
from flask import g
from flask.cli import with_appcontext
from joserfc.jwk import ECKey
from joserfc.jwk import JWKRegistry
from joserfc.jwk import RSAKey
from sqlalchemy import bindparam

from .models import SigningKey
from .models import db
from .models import hold_startup_lock
from .models import now

# Parsed keys by kid. A cache of immutable rows, not state: any worker can rebuild it.
_parsed = {}
# Built once, not on every request. The kids alone are what a request needs to read:
# a key's row never changes, so each is read and parsed once per process.
# Core on the table: a column's values need no ORM (whose SELECT costs more).
signing_keys = SigningKey.__table__
KIDS_NEWEST_FIRST = db.select(signing_keys.c.kid).order_by(signing_keys.c.id.desc())
PRIVATE_JWKS_OF = db.select(signing_keys.c.kid, signing_keys.c.private_jwk).where(
    signing_keys.c.kid.in_(bindparam("kids", expanding=True)))


def stored_keys():
    """Every stored key, newest first, read from the database once per request.

    A code exchange signs twice (access token, ID token) and names a kid in between:
    one SELECT of the kids serves them all (and one more, once, for a key this process
    has not seen yet). A rotation, by any worker or replica, shows from the next request on.
    """
    if "signing_keys" not in g:
        kids = db.session.scalars(KIDS_NEWEST_FIRST).all()
        new_kids = [kid for kid in kids if kid not in _parsed]
        if new_kids:  # parsing RSA keys is not free: once per key and process
            for kid, private_jwk in db.session.execute(PRIVATE_JWKS_OF, {"kids": new_kids}):
                _parsed[kid] = JWKRegistry.import_key(private_jwk)
        # (A key deleted by a rotation between the two reads is left out.)
        g.signing_keys = [_parsed[kid] for kid in kids if kid in _parsed]
    return g.signing_keys


def generate_signing_key(alg):
    """Make a new key pair for one alg and store it; it becomes that alg's signing key."""
    parameters = {"use": "sig", "alg": alg}
    if alg == "ES256":  # RFC 7518 §3.4: ECDSA with P-256
        key = ECKey.generate_key("P-256", parameters=parameters, auto_kid=True)
    else:  # RS256 and PS256 (RFC 7518 §3.3, §3.5): a 2048-bit RSA key
        key = RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)
    return store_signing_key(key)


def store_signing_key(key):
    """Store a key pair; being the newest of its alg, it signs from now on."""
    db.session.add(SigningKey(kid=key.kid, private_jwk=key.as_dict(private=True), created_at=now()))
    db.session.commit()
    g.pop("signing_keys", None)  # read them again, this one included
    return key


def stored_algs():
    """The algs that have a stored key."""
    rows = db.session.scalars(db.select(SigningKey))
    return {row.private_jwk.get("alg") for row in rows}


def ensure_signing_key():
    """Generate a key for each alg that has none; replicas starting together agree on one."""
    hold_startup_lock()
    have = stored_algs()
    test_keys = {key.alg: key for key in current_app.config["TEST_SIGNING_KEYS"] or []}
    for alg in current_app.config["SIGNING_ALGS"]:
        if alg not in have:
            if alg in test_keys:
                store_signing_key(test_keys[alg])  # tests only (config.py)
            else:
                generate_signing_key(alg)
    db.session.commit()


def current_signing_key(alg=None):
    """The newest key for an alg (default config SIGNING_ALG): the one that signs new tokens."""
    alg = alg or current_app.config["SIGNING_ALG"]
    return next(key for key in stored_keys() if key.alg == alg)


def public_jwks():
    """RFC 7517 §5: every stored key's public half, for resource servers and clients."""
    return {"keys": [key.as_dict(private=False) for key in stored_keys()]}


def rotate_signing_keys():
    """New keys sign from now on, one per alg; keys retired longer ago than any token lives are dropped.

    Returns (the new keys, the kids removed).
    """
    new_keys = [generate_signing_key(alg) for alg in current_app.config["SIGNING_ALGS"]]
    config = current_app.config
    longest_life = max(config["ACCESS_TOKEN_EXPIRES_IN"], config["ID_TOKEN_EXPIRES_IN"])
    rows = db.session.scalars(db.select(SigningKey).order_by(SigningKey.id)).all()
    removable = []
    for alg in config["SIGNING_ALGS"]:
        same_alg = [row for row in rows if row.private_jwk.get("alg") == alg]
        # A key retires when its successor is made; its tokens live at most longest_life more.
        removable += [old.kid for old, successor in zip(same_alg, same_alg[1:])
                      if successor.created_at < now() - longest_life]
    db.session.execute(db.delete(SigningKey).where(SigningKey.kid.in_(removable)))
    db.session.commit()
    g.pop("signing_keys", None)
    return new_keys, removable


@click.command("rotate-keys")
@with_appcontext
def rotate_keys_command():
    """Make new signing keys; old tokens stay valid until they expire."""
    new_keys, removed = rotate_signing_keys()
    kids = ", ".join(f"{key.alg} {key.kid}" for key in new_keys)
    click.echo(f"New signing keys {kids}; removed {len(removed)} retired key(s).")


def init_app(app):
    """Register the rotate-keys command."""
    app.cli.add_command(rotate_keys_command)

"""DPoP (RFC 9449): proofs signed with the client's DPoP key, and the AS's nonce per login.

Each request that uses a DPoP-bound token (and each token request) carries a proof:
a small JWT naming the method and URL, signed by the key the tokens are bound to.
A stolen token is then useless without the key. The AS may ask for its nonce in
proofs (§8): it sends one in DPoP-Nonce, and we keep the latest one with the login.
"""

import base64
import hashlib
import secrets

from joserfc import jwt
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..models import LoginSession
from ..models import db
from ..models import now
from . import keys

# §4.2: the proof's explicit type.
PROOF_TYPE = "dpop+jwt"


class DPoPNonce(db.Model):
    """The last nonce the AS gave this login in a DPoP-Nonce header (§8)."""

    login_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[int] = mapped_column(Integer, default=now)


def proof(method, url, nonce=None, access_token=None):
    """§4.2: a proof for one request; with a token, its hash (ath); with the AS's nonce, that."""
    key = keys.dpop_key()
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": now()}
    if nonce:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = token_hash(access_token)
    header = {"typ": PROOF_TYPE, "alg": keys.DPOP_ALG, "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=[keys.DPOP_ALG])


def token_hash(access_token):
    """§4.2: ath, base64url(SHA-256(the access token))."""
    return base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()


def thumbprint():
    """§10: the DPoP key's RFC 7638 thumbprint, sent as dpop_jkt at PAR to bind the code."""
    return keys.dpop_key().thumbprint()


def nonce_for(login):
    """The AS's last nonce for this login, or None."""
    row = db.session.get(DPoPNonce, login.id)
    return row.nonce if row is not None else None


def remember_nonce(login, response):
    """§8.2: keep the nonce the AS sent with an answer (the caller commits)."""
    nonce = response.headers.get("DPoP-Nonce")
    if not nonce:
        return
    row = db.session.get(DPoPNonce, login.id)
    if row is None:
        db.session.add(DPoPNonce(login_id=login.id, nonce=nonce))
    else:
        row.nonce, row.received_at = nonce, now()


@event.listens_for(LoginSession, "after_delete")
def _forget_with_login(mapper, connection, target):
    """A login's nonce is deleted with it."""
    connection.execute(delete(DPoPNonce).where(DPoPNonce.login_id == target.id))

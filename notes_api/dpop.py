"""DPoP (RFC 9449) at the notes API: a DPoP-bound token comes with a proof by its key.

The client sends `Authorization: DPoP <token>` and a `DPoP` header: a small JWT it
signed with its own key for this very request (§4.2). We check the proof (§4.3),
that it names this token (`ath`) and that its key is the one the token is bound
to (`cnf.jkt`, §6.1). A stolen DPoP-bound token is useless without the key, and
is never accepted as a plain bearer token (§7.2).
"""

import base64
import hashlib
import re
import time
from urllib.parse import urlsplit

from flask import current_app
from flask import request
from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from sqlalchemy.exc import IntegrityError

from .models import DPoPProof
from .models import db

# RFC 9449 §4.2: the explicit type of a proof, so no other JWT passes for one.
PROOF_TYPE = "dpop+jwt"
# The key types of a proof's jwk: asymmetric keys only (RFC 7518 §6, RFC 8037 §2).
ASYMMETRIC_KEY_TYPES = ("EC", "RSA", "OKP")
# RFC 9449 §7.1: the DPoP credentials are a token68, as a bearer token is.
TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class DPoPError(Exception):
    """A request that breaks a DPoP rule: 401 with a DPoP challenge (RFC 9449 §7.1)."""

    def __init__(self, error, description):
        super().__init__(description)
        self.status = 401
        self.error = error  # invalid_dpop_proof or invalid_token
        self.description = description  # our own words only: it goes into a header
        self.scope = None


def invalid_proof(description):
    """§7.1: the proof is missing or wrong -> invalid_dpop_proof."""
    return DPoPError("invalid_dpop_proof", description)


def used_dpop_scheme():
    """True if the request sent its token with the DPoP scheme."""
    return request.headers.get("Authorization", "").partition(" ")[0].lower() == "dpop"


def challenge_scheme(error):
    """§7.1: DPoP requests and DPoP errors get a DPoP challenge naming our algs; others Bearer."""
    if isinstance(error, DPoPError) or used_dpop_scheme():
        return f'DPoP algs="{" ".join(current_app.config["DPOP_SIGNING_ALGS"])}", '
    return "Bearer "


def token_from_request():
    """The token from "Authorization: DPoP <token>" (§7.1), or None for another scheme."""
    if not used_dpop_scheme():
        return None
    parts = request.headers["Authorization"].split()
    if len(parts) != 2 or not TOKEN68.fullmatch(parts[1]):
        raise DPoPError("invalid_token", "The Authorization header must be 'DPoP' followed by exactly one token.")
    return parts[1]


def check_binding(claims, dpop_token):
    """§7: a DPoP token needs a proof by its key; a DPoP-bound token is never a bearer token."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if dpop_token is None:
        if jkt is not None:
            # §7.2: sent as Bearer, a DPoP-bound token would lose its protection.
            raise DPoPError("invalid_token", "This token is bound to a DPoP key: send it as 'Authorization: DPoP' with a proof.")
        return
    if not isinstance(jkt, str):
        raise DPoPError("invalid_token", "This token is not bound to a DPoP key: send it as 'Authorization: Bearer'.")
    if check_proof(dpop_token) != jkt:
        raise invalid_proof("The DPoP proof's key is not the key the token is bound to (cnf.jkt).")


def check_proof(token):
    """RFC 9449 §4.3: check the request's proof for this token; return its key's thumbprint."""
    proofs = request.headers.getlist("DPoP")
    if len(proofs) != 1:
        raise invalid_proof("Send exactly one DPoP header with a DPoP token.")
    config = current_app.config
    # joserfc's default 512-byte header limit is too small for an RSA jwk (PS256).
    registry = jws.JWSRegistry(algorithms=config["DPOP_SIGNING_ALGS"])
    registry.max_header_length = 2048
    try:
        header = jws.extract_compact(proofs[0].encode(), registry=registry).headers()
    except (JoseError, ValueError):
        header = None
    if not isinstance(header, dict):
        raise invalid_proof("The DPoP proof is not a well-formed JWT.")
    if header.get("typ") != PROOF_TYPE:
        raise invalid_proof(f"The DPoP proof's typ must be {PROOF_TYPE}.")
    # §4.3 check 5: an asymmetric alg we support; never "none", never a MAC (HS256).
    if header.get("alg") not in config["DPOP_SIGNING_ALGS"]:
        raise invalid_proof(f"The DPoP proof's alg must be one of: {', '.join(config['DPOP_SIGNING_ALGS'])}.")
    # §4.2: the jwk is an asymmetric key (RFC 7518 §6, RFC 8037), never a shared secret.
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") not in ASYMMETRIC_KEY_TYPES:
        raise invalid_proof("The DPoP proof's jwk must be an EC, RSA or OKP public key.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, LookupError, TypeError, ValueError):
        raise invalid_proof("The DPoP proof's jwk is not a usable public key.") from None
    # §4.3 check 7: a public key; a private one was leaked by its sender.
    if key.is_private:
        raise invalid_proof("The DPoP proof's jwk must not hold a private key.")
    try:
        claims = jwt.decode(proofs[0], key, algorithms=[header["alg"]], registry=registry).claims
    except (JoseError, ValueError):
        raise invalid_proof("The DPoP proof's signature does not verify with its jwk.") from None
    check_claims(claims, token)
    remember_jti(claims)
    return key.thumbprint()


def check_claims(claims, token):
    """§4.3 checks 8-12: this method, this URL, a recent iat, a jti, and this token's hash."""
    config = current_app.config
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise invalid_proof("The DPoP proof has no jti.")
    if claims.get("htm") != request.method:
        raise invalid_proof("The DPoP proof's htm is not this request's method.")
    # Our public URL, not the Host header: behind docker or a proxy the Host differs.
    if without_query(claims.get("htu")) != config["PUBLIC_URL"] + request.path:
        raise invalid_proof("The DPoP proof's htu is not this resource's URL.")
    iat = claims.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise invalid_proof("The DPoP proof has no iat.")
    now = int(time.time())
    if iat < now - config["DPOP_PROOF_MAX_AGE"] or iat > now + config["DPOP_PROOF_MAX_FUTURE"]:
        raise invalid_proof("The DPoP proof's iat is too old or in the future.")
    # §4.3 check 12: ath, base64url(SHA-256(token)), ties the proof to this token.
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    if claims.get("ath") != ath:
        raise invalid_proof("The DPoP proof's ath is not the hash of this access token.")


def without_query(url):
    """§4.3 check 9: the htu without its query and fragment; None if it is not a URL."""
    try:
        return urlsplit(url)._replace(query="", fragment="").geturl() if isinstance(url, str) else None
    except ValueError:
        return None


def remember_jti(claims):
    """§11.1: a proof is used once; its jti is kept until its iat is too old anyway."""
    now = int(time.time())
    db.session.execute(db.delete(DPoPProof).where(DPoPProof.expires_at < now))
    jti_hash = hashlib.sha256(claims["jti"].encode()).hexdigest()
    db.session.add(DPoPProof(jti_hash=jti_hash, expires_at=claims["iat"] + current_app.config["DPOP_PROOF_MAX_AGE"]))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise invalid_proof("This DPoP proof was already used (its jti is not new).") from None

"""DPoP (RFC 9449) at the authorization server: proofs, nonces and key-bound tokens.

A DPoP client signs a small JWT, the proof, for every request with a key pair of its
own and sends it in the `DPoP` header. The server checks the proof (§4.3), binds
what it issues to the key's thumbprint (RFC 7638) and, at PAR (§10), binds the
authorization code too. A stolen token or code is then useless without the key.
"""

import base64
import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import current_app
from flask import request
from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from sqlalchemy.exc import IntegrityError

from .models import DPoPProof
from .models import db
from .models import now
from .models import sha256

log = logging.getLogger("auth_server")

# RFC 9449 §4.2: the explicit type of a proof, so no other JWT passes for one.
PROOF_TYPE = "dpop+jwt"
# The key types of a proof's jwk: asymmetric keys only (RFC 7518 §6, RFC 8037 §2).
ASYMMETRIC_KEY_TYPES = ("EC", "RSA", "OKP")


def proof_registry():
    """joserfc's JWS rules for proofs: a header with an RSA jwk (PS256) exceeds its 512 bytes."""
    registry = jws.JWSRegistry(algorithms=current_app.config["DPOP_SIGNING_ALGS"])
    registry.max_header_length = 2048
    return registry


class InvalidDPoPProofError(OAuth2Error):
    """RFC 9449 §5: the DPoP proof is missing, malformed or does not fit the request."""

    error = "invalid_dpop_proof"


class UseDPoPNonceError(OAuth2Error):
    """RFC 9449 §8: the proof must carry the nonce this server gives in DPoP-Nonce."""

    error = "use_dpop_nonce"

    def __init__(self):
        super().__init__("Sign a new DPoP proof with the nonce in the DPoP-Nonce header.")

    def get_headers(self):
        """§8: the nonce to use comes with the error."""
        return [*super().get_headers(), ("DPoP-Nonce", current_nonce())]


class DPoPResourceError(OAuth2Error):
    """RFC 9449 §7.1: a request to /userinfo refused, with a DPoP challenge (401)."""

    status_code = 401

    def __init__(self, error, description):
        super().__init__(description)
        self.error = error  # invalid_token, invalid_dpop_proof or use_dpop_nonce

    def get_headers(self):
        """§7.1: the DPoP scheme, our algs and the error; §9: the nonce to use."""
        algs = " ".join(current_app.config["DPOP_SIGNING_ALGS"])
        challenge = f'DPoP algs="{algs}", error="{self.error}", error_description="{self.description}"'
        return [*super().get_headers(), ("WWW-Authenticate", challenge), ("DPoP-Nonce", current_nonce())]


def nonce_for_window(window):
    """An HMAC of a time window with the SECRET_KEY: every worker and replica makes the
    same nonce without sharing memory, and no one else can make it."""
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), f"dpop-nonce:{window}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def current_nonce():
    """§8: the nonce clients should put in their next proofs."""
    return nonce_for_window(now() // current_app.config["DPOP_NONCE_LIFETIME"])


def is_current_nonce(nonce):
    """The nonce of this window or the one before, so a nonce never dies the moment it is given."""
    window = now() // current_app.config["DPOP_NONCE_LIFETIME"]
    return isinstance(nonce, str) and any(
        hmac.compare_digest(nonce, nonce_for_window(w)) for w in (window, window - 1))


def proof_from_request():
    """The request's one DPoP header, or None without one (§4.3, check 1: not two)."""
    proofs = request.headers.getlist("DPoP")
    if len(proofs) > 1:
        raise InvalidDPoPProofError("Send one DPoP header, not several.")
    return proofs[0] if proofs else None


def check_proof(proof, access_token=None):
    """RFC 9449 §4.3: check a proof for this request (and token); return its key's thumbprint (§6.1)."""
    config = current_app.config
    registry = proof_registry()
    try:
        header = jws.extract_compact(proof.encode(), registry=registry).headers()
    except (JoseError, ValueError):
        header = None
    if not isinstance(header, dict):
        raise InvalidDPoPProofError("The DPoP proof is not a well-formed JWT.")
    if header.get("typ") != PROOF_TYPE:
        raise InvalidDPoPProofError(f"The DPoP proof's typ must be {PROOF_TYPE}.")
    # §4.3 check 5: an asymmetric alg we support; never "none", never a MAC (HS256).
    if header.get("alg") not in config["DPOP_SIGNING_ALGS"]:
        raise InvalidDPoPProofError(f"The DPoP proof's alg must be one of: {', '.join(config['DPOP_SIGNING_ALGS'])}.")
    # §4.2: the jwk is an asymmetric key (RFC 7518 §6, RFC 8037), never a shared secret.
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kty") not in ASYMMETRIC_KEY_TYPES:
        raise InvalidDPoPProofError("The DPoP proof's jwk must be an EC, RSA or OKP public key.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, LookupError, TypeError, ValueError):
        raise InvalidDPoPProofError("The DPoP proof's jwk is not a usable public key.") from None
    # §4.3 check 7: the jwk is a public key; a private one was leaked by its sender.
    if key.is_private:
        raise InvalidDPoPProofError("The DPoP proof's jwk must not hold a private key.")
    try:
        claims = jwt.decode(proof, key, algorithms=[header["alg"]], registry=registry).claims
    except (JoseError, ValueError):
        raise InvalidDPoPProofError("The DPoP proof's signature does not verify with its jwk.") from None
    check_claims(claims)
    # §4.3 check 12: at a resource, ath ties the proof to the token sent with it.
    if access_token is not None and claims.get("ath") != token_hash(access_token):
        raise InvalidDPoPProofError("The DPoP proof's ath is not the hash of this access token.")
    remember_jti(claims)
    return key.thumbprint()


def check_claims(claims):
    """§4.3 checks 8-11: this method, this URL, a recent iat, a unique jti, our nonce."""
    config = current_app.config
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise InvalidDPoPProofError("The DPoP proof has no jti.")
    if claims.get("htm") != request.method:
        raise InvalidDPoPProofError("The DPoP proof's htm is not this request's method.")
    # Our own public URL, not the Host header: behind docker or a proxy the Host differs.
    if without_query(claims.get("htu")) != config["ISSUER"] + request.path:
        raise InvalidDPoPProofError("The DPoP proof's htu is not this endpoint's URL.")
    iat = claims.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise InvalidDPoPProofError("The DPoP proof has no iat.")
    if iat < now() - config["DPOP_PROOF_MAX_AGE"] or iat > now() + config["DPOP_PROOF_MAX_FUTURE"]:
        raise InvalidDPoPProofError("The DPoP proof's iat is too old or in the future.")
    # §8: a proof without our current nonce is answered with a fresh one.
    if not is_current_nonce(claims.get("nonce")):
        raise UseDPoPNonceError()


def token_hash(access_token):
    """§4.2: ath, base64url(SHA-256(access token))."""
    return base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()


def without_query(url):
    """§4.3 check 9: the htu without its query and fragment; None if it is not a URL."""
    try:
        return urlsplit(url)._replace(query="", fragment="").geturl() if isinstance(url, str) else None
    except ValueError:
        return None


def remember_jti(claims):
    """§11.1: a proof is used once; its jti is kept until its iat is too old anyway."""
    db.session.execute(db.delete(DPoPProof).where(DPoPProof.expires_at < now()))
    db.session.add(DPoPProof(jti_hash=sha256(claims["jti"]),
                             expires_at=claims["iat"] + current_app.config["DPOP_PROOF_MAX_AGE"]))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise InvalidDPoPProofError("This DPoP proof was already used (its jti is not new).") from None


def jkt_for_push(params):
    """§10: the key a pushed request binds its code to: `dpop_jkt`, or the push's own proof."""
    proof = proof_from_request()
    if proof is None:
        return params.get("dpop_jkt")
    jkt = check_proof(proof)
    # §10.1: with both, they must name the same key.
    if params.get("dpop_jkt", jkt) != jkt:
        raise InvalidDPoPProofError("The dpop_jkt does not match the DPoP proof's key.")
    return jkt


def jkt_for_token_request(client):
    """At the token endpoint: the proof's thumbprint, or None for a Bearer client."""
    proof = proof_from_request()
    if proof is None:
        # RFC 9449 §5.2: a client registered with dpop_bound_access_tokens must send one.
        if client.dpop_bound_access_tokens:
            raise InvalidDPoPProofError("This client must send a DPoP proof.")
        return None
    jkt = check_proof(proof)
    log.info("dpop: proof ok client=%s jkt=%s", client.client_id, jkt)
    return jkt


def check_binding(bound_jkt, proof_jkt, what):
    """A code (§10) or refresh token (§5) bound to a key needs a proof by that key."""
    if bound_jkt and bound_jkt != proof_jkt:
        raise InvalidDPoPProofError(f"The {what} is bound to another DPoP key.")


def code_binding(grant):
    """Code-grant extension (registered in oauth2.py): the code's key must sign the proof."""
    grant.register_hook("after_validate_token_request", _check_code_binding)


def _check_code_binding(grant, result):
    """§10: compare the code's dpop_jkt with the token request's proof."""
    check_binding(grant.request.authorization_code.dpop_jkt, grant.request.dpop_jkt, "authorization code")


def check_resource_request(claims, access_token, scheme):
    """§7 at /userinfo: a DPoP-bound token only with the DPoP scheme and a proof by its key."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if scheme == "bearer":
        if jkt is not None:
            # §7.2: sent as Bearer, a DPoP-bound token would lose its protection.
            raise DPoPResourceError("invalid_token", "This token is bound to a DPoP key: send it as DPoP with a proof.")
        return
    if jkt is None:
        raise DPoPResourceError("invalid_token", "This token is not bound to a DPoP key: send it as Bearer.")
    try:
        proof = proof_from_request()
        if proof is None:
            raise InvalidDPoPProofError("Send a DPoP proof with a DPoP token.")
        proof_jkt = check_proof(proof, access_token)
    except (InvalidDPoPProofError, UseDPoPNonceError) as error:
        raise DPoPResourceError(error.error, error.description) from None
    if proof_jkt != jkt:
        raise DPoPResourceError("invalid_dpop_proof", "The DPoP proof's key is not the key the token is bound to.")


def add_nonce_header(response):
    """§8.2: every answer of an endpoint that checks proofs carries the next nonce."""
    if request.path in ("/oauth/par", "/oauth/token", "/userinfo"):
        response.headers["DPoP-Nonce"] = current_nonce()
    return response


def init_app(app):
    """Give clients a nonce on every PAR, token and userinfo response."""
    app.after_request(add_nonce_header)

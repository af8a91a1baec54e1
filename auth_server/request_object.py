"""Signed request objects pushed to the PAR endpoint (RFC 9101, with RFC 9126 §3).

The client signs its authorization request as a JWT with its own key and pushes it as
`request`. Its claims, and only they, are the request: a parameter sent beside it in
the form is ignored, so nothing unsigned can change what the client signed. Authlib's
JWTAuthenticationRequest works at /authorize; here the request arrives at the PAR
endpoint, so this module checks it with joserfc directly.
"""

import logging

from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError

from .client_keys import ClientKeysError
from .client_keys import client_key_set
from .models import now

log = logging.getLogger("auth_server")

# FAPI 2.0 §5.3.2.1: nbf no more than 60 minutes in the past, exp no more than 60 minutes after nbf.
MAX_REQUEST_OBJECT_LIFETIME = 3600
# Clock skew allowed between the client and us.
LEEWAY = 60
# JWT claims that say who signed the request and for whom, not authorization parameters.
JWT_CLAIMS = ("iss", "aud", "exp", "nbf", "iat", "jti")


def request_parameters(request_object, client):
    """Verify a pushed request object; return its authorization parameters (RFC 9101 §4)."""
    try:
        key_set = client_key_set(client)
    except ClientKeysError as error:
        raise InvalidRequestObjectError(description=str(error)) from None
    algs = current_app.config["CLIENT_SIGNING_ALGS"]
    try:
        # RFC 9101 §6.1: signed by the client, by an alg we accept ("none" is never one).
        token = jwt.decode(request_object, key_set, algorithms=algs)
    except (JoseError, ValueError) as error:
        description = getattr(error, "description", None) or type(error).__name__
        raise InvalidRequestObjectError(description=f"The request object does not verify: {description}") from None
    check_claims(token.claims, client)
    params = {name: value for name, value in token.claims.items() if name not in JWT_CLAIMS}
    for name, value in params.items():
        # RFC 9126 §2.1 and RFC 9101 §4: no request_uri, no request object within one.
        if name in ("request", "request_uri"):
            raise InvalidRequestObjectError(description=f"A request object must not hold '{name}'.")
        if not isinstance(value, str):
            raise InvalidRequestObjectError(description=f"The request object's '{name}' must be a string.")
    params["client_id"] = client.client_id
    log.info("par: signed request object verified client=%s alg=%s", client.client_id, token.header["alg"])
    return params


def check_claims(claims, client):
    """iss is the client, aud our issuer, and exp and nbf bound a short life (FAPI 2.0 §5.3.2.1)."""
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        # RFC 9101 §4: iss is the client_id, aud the issuer identifier of this server.
        iss={"essential": True, "value": client.client_id},
        aud={"essential": True, "value": current_app.config["ISSUER"]},
        exp={"essential": True},
        nbf={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise InvalidRequestObjectError(description=f"The request object's claims: {error.description}") from None
    if claims.get("client_id", client.client_id) != client.client_id:
        raise InvalidRequestObjectError(description="The request object's 'client_id' is not the client's.")
    if not isinstance(claims["exp"], int) or not isinstance(claims["nbf"], int):
        raise InvalidRequestObjectError(description="The request object's exp and nbf must be numbers.")
    if claims["nbf"] < now() - MAX_REQUEST_OBJECT_LIFETIME:
        raise InvalidRequestObjectError(description="The request object's nbf is more than 60 minutes old.")
    if claims["exp"] - claims["nbf"] > MAX_REQUEST_OBJECT_LIFETIME:
        raise InvalidRequestObjectError(description="The request object may live at most 60 minutes (exp - nbf).")

"""Tokens: JWT access tokens (RFC 9068), refresh tokens, and revoking a token family."""

import logging
import secrets

from flask import current_app
from joserfc import jwt

from . import keys
from .models import Token
from .models import db
from .models import now
from .models import sha256

log = logging.getLogger("auth_server")


def requested_audience(params, known_audiences):
    """The audiences a request asks for: Auth0's `audience` or RFC 8707's `resource`.

    Returns (audiences, None) or (None, reason) when one is not a known resource.
    """
    asked = [params[name] for name in ("audience", "resource") if params.get(name)]
    unknown = [value for value in asked if value not in known_audiences]
    if unknown:
        return None, f"Unknown audience/resource: {unknown[0]!r}."
    # RFC 9068 §3: without a resource indicator, the server uses a default audience.
    return list(dict.fromkeys(asked)) or known_audiences[:1], None


def issue_tokens(client, user, scope, audience, auth_time, family, include_refresh_token):
    """Sign an access token, make a refresh token, and add their row to the session.

    The caller commits (Authlib calls the server's save_token right after).
    """
    config = current_app.config
    issued_at = now()
    jti = secrets.token_urlsafe(16)
    # Auth0 style: when `openid` was granted the token is also good at /userinfo.
    aud = list(audience)
    if "openid" in scope.split():
        aud.append(config["ISSUER"] + "/userinfo")
    claims = {
        "iss": config["ISSUER"],
        "sub": user.sub,
        "aud": aud,
        "client_id": client.client_id,
        "scope": scope,
        "iat": issued_at,
        "exp": issued_at + config["ACCESS_TOKEN_EXPIRES_IN"],
        "jti": jti,
    }
    if auth_time:
        claims["auth_time"] = auth_time
    key = keys.current_signing_key()
    # RFC 9068 §2.1: the header's typ is "at+jwt", so no other JWT passes for one.
    header = {"alg": config["SIGNING_ALG"], "typ": "at+jwt", "kid": key.kid}
    token = {
        "access_token": jwt.encode(header, claims, key),
        "token_type": "Bearer",
        "expires_in": config["ACCESS_TOKEN_EXPIRES_IN"],
        "scope": scope,
    }
    row = Token(
        jti=jti, client_id=client.client_id, user_id=user.id, scope=scope,
        audience=list(audience), auth_time=auth_time, family=family,
        issued_at=issued_at, expires_at=claims["exp"],
    )
    if include_refresh_token:
        token["refresh_token"] = secrets.token_urlsafe(32)
        row.refresh_token_hash = sha256(token["refresh_token"])
        row.refresh_expires_at = issued_at + config["REFRESH_TOKEN_EXPIRES_IN"]
    db.session.add(row)
    log.info("tokens issued client=%s sub=%s jti=%s scope=%r", client.client_id, user.sub, jti, scope)
    return token


def revoke_family(family, reason):
    """Revoke every token descended from one authorization code (RFC 9700 §4.14.2)."""
    revoked = db.session.execute(
        db.update(Token).where(Token.family == family, Token.revoked_at.is_(None)).values(revoked_at=now())
    ).rowcount
    db.session.commit()
    log.warning("token family %s revoked (%s): %d token(s)", family, reason, revoked)
    return revoked


def is_revoked(jti):
    """True if the access token with this jti was revoked (checked at /userinfo)."""
    return db.session.scalar(db.select(Token.revoked_at).filter_by(jti=jti)) is not None

"""Tokens: JWT access tokens (RFC 9068), refresh tokens, and revoking a token family."""

import logging
import secrets
from dataclasses import dataclass

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import keys
from .error_text import quoted
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
        return None, f"Unknown audience/resource: '{quoted(unknown[0])}'."
    # RFC 9068 §3: without a resource indicator, the server uses a default audience.
    return list(dict.fromkeys(asked)) or known_audiences[:1], None


def issues_refresh_token(client, scope):
    """True if tokens for this client and scope include a refresh token.

    OIDC Core §11: a refresh token is consent to offline access, so it comes only with
    the offline_access scope (our consent page always asks, as §11's prompt=consent
    requires), unless the client is registered otherwise (seed-cli, for the seed).
    """
    if not client.check_grant_type("refresh_token"):
        return False
    return "offline_access" in scope.split() or client.refresh_token_without_offline_access


def access_token_audience(audience, scope):
    """An access token's `aud`: the audiences asked for, and /userinfo when openid was granted.

    Auth0 style: with `openid` the token is also good at /userinfo.
    """
    aud = list(audience)
    if "openid" in scope.split():
        aud.append(current_app.config["ISSUER"] + "/userinfo")
    return aud


def access_token_alg(client):
    """FAPI 2.0 §5.4.1: a FAPI client's access tokens are signed with PS256; others with SIGNING_ALG."""
    config = current_app.config
    return config["FAPI_ACCESS_TOKEN_ALG"] if client.is_fapi else config["SIGNING_ALG"]


# Built once. Nothing reads the new row back in this request, so it is written
# straight into the table, without an ORM object to track and flush.
STORE_TOKEN = db.insert(Token.__table__)


def issue_tokens(client, user, scope, audience, auth_time, family, include_refresh_token, dpop_jkt=None):
    """Sign an access token, make a refresh token, and store their row.

    With a DPoP key (RFC 9449 §6.1), the access token names its thumbprint in cnf.jkt.

    The row is written in the request's transaction; the caller commits (Authlib calls
    the server's save_token right after).
    """
    config = current_app.config
    issued_at = now()
    jti = secrets.token_urlsafe(16)
    claims = {
        "iss": config["ISSUER"],
        "sub": user.sub,
        "aud": access_token_audience(audience, scope),
        "client_id": client.client_id,
        "scope": scope,
        "iat": issued_at,
        "exp": issued_at + config["ACCESS_TOKEN_EXPIRES_IN"],
        "jti": jti,
    }
    if auth_time:
        claims["auth_time"] = auth_time
    if dpop_jkt:
        claims["cnf"] = {"jkt": dpop_jkt}
    alg = access_token_alg(client)
    key = keys.current_signing_key(alg)
    # RFC 9068 §2.1: the header's typ is "at+jwt", so no other JWT passes for one.
    header = {"alg": alg, "typ": "at+jwt", "kid": key.kid}
    token = {
        "access_token": jwt.encode(header, claims, key, algorithms=[alg]),
        "token_type": "DPoP" if dpop_jkt else "Bearer",  # RFC 9449 §5
        "expires_in": config["ACCESS_TOKEN_EXPIRES_IN"],
        "scope": scope,
    }
    row = {
        "jti": jti, "client_id": client.client_id, "user_id": user.id, "scope": scope,
        "audience": list(audience), "auth_time": auth_time, "family": family,
        "issued_at": issued_at, "expires_at": claims["exp"], "dpop_jkt": dpop_jkt,
        "refresh_token_hash": None, "refresh_expires_at": None,
    }
    if include_refresh_token and issues_refresh_token(client, scope):
        token["refresh_token"] = secrets.token_urlsafe(32)
        row["refresh_token_hash"] = sha256(token["refresh_token"])
        row["refresh_expires_at"] = issued_at + config["REFRESH_TOKEN_EXPIRES_IN"]
    db.session.execute(STORE_TOKEN, row)
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


@dataclass
class PresentedToken:
    """A token a client sent to be revoked or introspected: its row, and which of the row's two."""

    row: Token
    token_type: str  # "access_token" or "refresh_token", as RFC 7009 §2.1 names them

    def check_client(self, client):
        """True if the token was issued to this client."""
        return self.row.check_client(client)

    def is_revoked(self):
        """Revoked with its family; or, for a refresh token, already used (rotated away)."""
        used = self.token_type == "refresh_token" and self.row.refresh_used_at is not None
        return self.row.revoked_at is not None or used

    def is_expired(self):
        """Past the lifetime of this one of the row's tokens."""
        expires_at = self.row.expires_at if self.token_type == "access_token" else self.row.refresh_expires_at
        return expires_at < now()


def find_token(token_string):
    """The access token (a JWT we signed) or refresh token with this value, or None.

    The two look nothing alike, so no token_type_hint is needed to find either
    (RFC 7009 §2.1 and RFC 7662 §2.1 make the hint optional).
    """
    row = db.session.scalar(db.select(Token).filter_by(refresh_token_hash=sha256(token_string)))
    if row is not None:
        return PresentedToken(row, "refresh_token")
    try:
        token = jwt.decode(token_string, KeySet.import_key_set(keys.public_jwks()),
                           algorithms=current_app.config["SIGNING_ALGS"])
    except (JoseError, ValueError):
        return None  # not a JWT, or not signed by any key of ours
    # RFC 9068 §2.1: only an access token (typ at+jwt), not an ID token signed by the same key.
    if token.header.get("typ") != "at+jwt":
        return None
    row = db.session.scalar(db.select(Token).filter_by(jti=token.claims.get("jti")))
    return PresentedToken(row, "access_token") if row is not None else None

"""private_key_jwt (RFC 7523 §2.2, OIDC Core §9): the client signs a JWT with its own key.

Authlib's JWTBearerClientAssertion does the RFC 7523 §3 checks (iss = sub = client_id,
aud, exp, signature); we add what FAPI 2.0 §5.3.2.1 and RFC 7523 §3 leave to the server:
the aud is our issuer identifier only, the alg one we accept, the assertion short-lived
and used once (its jti is remembered until its exp).
"""

import logging

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError

from .client_keys import ClientKeysError
from .client_keys import client_key_set
from .models import UsedClientAssertion
from .models import db
from .models import now

log = logging.getLogger("auth_server")

# An assertion may live at most this long from now (RFC 7523 §3 lets the server bound it).
MAX_ASSERTION_LIFETIME = 300


class PrivateKeyJWT(JWTBearerClientAssertion):
    """Client authentication by a JWT signed with a key the client registered."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __call__(self, query_client, request):
        """Authlib's checks; a failed assertion is 401 invalid_client (RFC 6749 §5.2)."""
        try:
            client = super().__call__(query_client, request)
            if client is not None:
                self.check_registered_alg(client, request.form["client_assertion"])
            return client
        except InvalidClientError as error:
            log.warning("private_key_jwt refused: %s", error.description)
            error.status_code = 401
            raise

    def check_registered_alg(self, client, assertion):
        """OIDC Registration §2: a client that registered token_endpoint_auth_signing_alg signs with it only."""
        registered = client.client_metadata.get("token_endpoint_auth_signing_alg")
        headers, _ = self.extract_assertion(assertion)
        if registered and headers.get("alg") != registered:
            raise InvalidClientError(description=f"This client signs its assertions with {registered} only.")

    def get_audiences(self):
        """FAPI 2.0 §5.3.2.1: the aud is the issuer identifier (a string, or a list holding it)."""
        return [current_app.config["ISSUER"]]

    def process_assertion_claims(self, assertion, resolve_key):
        """Verify the signature by an alg we accept (config CLIENT_SIGNING_ALGS), then the claims."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=current_app.config["CLIENT_SIGNING_ALGS"])
        except JoseError as error:
            raise InvalidClientError(description=f"Invalid client assertion: {error.description}") from None
        self.verify_claims(token.claims)
        return token.claims

    def resolve_client_public_key(self, client):
        """The client's registered keys (jwks, or jwks_uri fetched and cached)."""
        try:
            return client_key_set(client)
        except ClientKeysError as error:
            raise InvalidClientError(description=str(error)) from None

    def verify_claims(self, claims):
        """Refuse an assertion meant to live too long, then Authlib's checks (and the jti's)."""
        exp = claims.get("exp")
        if isinstance(exp, int) and exp > now() + MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(
                description=f"The client assertion must expire within {MAX_ASSERTION_LIFETIME} seconds.")
        super().verify_claims(claims)

    def validate_jti(self, claims, jti):
        """RFC 7523 §3: remember the jti until exp (and the leeway); a second use is refused."""
        if not isinstance(jti, str) or not 0 < len(jti) <= 256:
            return False
        db.session.execute(db.delete(UsedClientAssertion).where(UsedClientAssertion.expires_at < now()))
        expires_at = int(claims["exp"]) + self.leeway
        db.session.add(UsedClientAssertion(client_id=claims["sub"], jti=jti, expires_at=expires_at))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        return True

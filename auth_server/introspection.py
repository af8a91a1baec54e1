"""RFC 7662, Token Introspection: POST /oauth/introspect, on Authlib's IntrospectionEndpoint.

A resource server that asks here on every request learns at once that a token was
revoked (by the client, RFC 7009, or with its family after a replayed code or
refresh token), where checking the JWT's signature alone accepts it until it expires.
"""

from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import current_app

from . import tokens


class TokenIntrospectionEndpoint(IntrospectionEndpoint):
    """POST /oauth/introspect: is this token active, and what does it grant?"""

    def __init__(self, client_auth_methods):
        super().__init__()
        # RFC 7662 §2.1: the endpoint MUST require authorization; clients authenticate
        # as at the token endpoint, with the methods config.py lists.
        self.CLIENT_AUTH_METHODS = client_auth_methods

    def query_token(self, token_string, token_type_hint):
        """The token with this value, or None (then the answer is {"active": false})."""
        return tokens.find_token(token_string)

    def check_permission(self, token, client, request):
        """RFC 7662 §4: who may learn about a token; anyone else is told {"active": false}.

        The token's own client may ask about either of its tokens. A resource server
        registered for it (notes-api) may ask about access tokens only: a refresh
        token is never sent to a resource server (RFC 6749 §1.5), so it is never
        active there.
        """
        if token.check_client(client):
            return True
        return token.token_type == "access_token" and client.may_introspect_access_tokens

    def introspect_token(self, token):
        """RFC 7662 §2.2: the claims of an active token (Authlib answers inactive ones)."""
        row = token.row
        body = {
            "active": True,
            "iss": current_app.config["ISSUER"],
            "sub": row.user.sub,
            "username": row.user.username,
            "client_id": row.client_id,
            "scope": row.scope,
            "iat": row.issued_at,
        }
        if token.token_type == "refresh_token":
            return {**body, "exp": row.refresh_expires_at}
        # An access token: the same claims as its JWT (RFC 9068 §2.2), and its type.
        body.update(exp=row.expires_at, aud=tokens.access_token_audience(row.audience, row.scope),
                    jti=row.jti, token_type="Bearer")
        if row.dpop_jkt:
            # RFC 9449 §6.2: a DPoP-bound token says so, and names its key.
            body.update(token_type="DPoP", cnf={"jkt": row.dpop_jkt})
        return body

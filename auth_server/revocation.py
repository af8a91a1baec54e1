"""RFC 7009, Token Revocation: POST /oauth/revoke, on Authlib's RevocationEndpoint.

A client that is done with a token (the user signed out) tells the server. Our
access tokens are JWTs that a resource server checks on its own, so revoking one
reaches an API only if the API asks the server (introspection.py, RFC 7662).
"""

import logging

from authlib.oauth2.rfc7009 import RevocationEndpoint

from . import tokens

log = logging.getLogger("auth_server")


class TokenRevocationEndpoint(RevocationEndpoint):
    """POST /oauth/revoke: a client revokes a token issued to it, and the token's family."""

    def __init__(self, client_auth_methods):
        super().__init__()
        # RFC 7009 §2.1: clients authenticate as at the token endpoint (config.py's list).
        self.CLIENT_AUTH_METHODS = client_auth_methods

    def query_token(self, token_string, token_type_hint):
        """The token with this value; Authlib then refuses another client's (§2.1)."""
        return tokens.find_token(token_string)

    def revoke_token(self, token, request):
        """Revoke the token's whole family: every token from the same authorization code.

        RFC 7009 §2.1: revoking a refresh token SHOULD revoke the access tokens of the
        same grant, and revoking an access token MAY revoke its refresh token; we do both,
        so "revoke" always means "this grant is over".
        """
        revoked = tokens.revoke_family(token.row.family, f"{token.token_type} revoked by its client (RFC 7009)")
        log.info("revocation: client=%s revoked a %s, %d token(s) in its family",
                 request.client.client_id, token.token_type, revoked)

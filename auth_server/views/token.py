"""The client-authenticated back channel: PAR, token, revocation and introspection endpoints."""

from flask import Blueprint

from ..models import keep_loaded_rows
from ..oauth2 import authorization_server

bp = Blueprint("token", __name__)


@bp.post("/oauth/par")
def pushed_authorization_request():
    """Steps 2-3: the client pushes its authorization request and gets a request_uri."""
    return authorization_server().create_endpoint_response("pushed_authorization")


@bp.post("/oauth/token")
def token():
    """Steps 8-10: the client exchanges a code (or a refresh token) for tokens."""
    # The grant commits as it goes (the code claimed, then the token row), then reads the
    # client, the code and the user again (the ID token, the flow trace).
    keep_loaded_rows()
    return authorization_server().create_token_response()


@bp.post("/oauth/revoke")
def revoke():
    """RFC 7009: a client revokes a token it holds, and with it the token's family."""
    return authorization_server().create_endpoint_response("revocation")


@bp.post("/oauth/introspect")
def introspect():
    """RFC 7662: the notes API (or the token's own client) asks whether a token is active."""
    return authorization_server().create_endpoint_response("introspection")

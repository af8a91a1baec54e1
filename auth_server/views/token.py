"""The client-authenticated back channel: the PAR endpoint and the token endpoint."""

from flask import Blueprint

from ..oauth2 import authorization_server

bp = Blueprint("token", __name__)


@bp.post("/oauth/par")
def pushed_authorization_request():
    """Steps 2-3: the client pushes its authorization request and gets a request_uri."""
    return authorization_server().create_endpoint_response("pushed_authorization")


@bp.post("/oauth/token")
def token():
    """Steps 8-10: the client exchanges a code (or a refresh token) for tokens."""
    return authorization_server().create_token_response()

"""Discovery (RFC 8414, OIDC Discovery), the JWKS, and the server's home page."""

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import render_template

from .. import keys

bp = Blueprint("discovery", __name__)


def server_metadata():
    """What a client needs to know about this server, as one dictionary."""
    config = current_app.config
    issuer = config["ISSUER"]
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/oauth/token",
        "pushed_authorization_request_endpoint": issuer + "/oauth/par",
        # RFC 9126 §5: this server takes plain requests only from clients that allow them.
        "require_pushed_authorization_requests": config["REQUIRE_PUSHED_AUTHORIZATION_REQUESTS"],
        "userinfo_endpoint": issuer + "/userinfo",
        # RFC 8414 §2: RFC 7009 revocation and RFC 7662 introspection, client-authenticated.
        "revocation_endpoint": issuer + "/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": config["CLIENT_AUTH_METHODS"],
        "revocation_endpoint_auth_signing_alg_values_supported": config["CLIENT_SIGNING_ALGS"],
        "introspection_endpoint": issuer + "/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": config["CLIENT_AUTH_METHODS"],
        "introspection_endpoint_auth_signing_alg_values_supported": config["CLIENT_SIGNING_ALGS"],
        "jwks_uri": issuer + "/.well-known/jwks.json",
        # What the server supports: the very lists oauth2.py and par.py enforce (config.py).
        "scopes_supported": list(config["SCOPES"]),
        "response_types_supported": config["RESPONSE_TYPES"],
        "response_modes_supported": config["RESPONSE_MODES"],
        "grant_types_supported": config["GRANT_TYPES"],
        "token_endpoint_auth_methods_supported": config["CLIENT_AUTH_METHODS"],
        # RFC 8414 §2: the algs a private_key_jwt assertion may be signed with.
        "token_endpoint_auth_signing_alg_values_supported": config["CLIENT_SIGNING_ALGS"],
        "code_challenge_methods_supported": config["CODE_CHALLENGE_METHODS"],
        # RFC 9449 §5.1: the algs DPoP proofs may use.
        "dpop_signing_alg_values_supported": config["DPOP_SIGNING_ALGS"],
        # RFC 9101 §10.5 with RFC 9126 §3: signed request objects, pushed to the PAR endpoint.
        "request_object_signing_alg_values_supported": config["CLIENT_SIGNING_ALGS"],
        # RFC 9207: every authorization response carries iss.
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        # The algs keys.py keeps a key for; a client picks one (id_token_signed_response_alg).
        "id_token_signing_alg_values_supported": config["SIGNING_ALGS"],
        "claims_supported": ["sub", "name", "preferred_username", "email", "email_verified",
                             "auth_time", "nonce", "iss", "aud", "azp", "exp", "iat"],
    }


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    """Server metadata: endpoints, PAR, and what the server supports."""
    return jsonify(server_metadata())


@bp.get("/.well-known/jwks.json")
def jwks():
    """The public keys that verify our tokens (every stored key, newest first)."""
    response = jsonify(keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/")
def index():
    """A page saying which party this is, with links to what it publishes."""
    return render_template("index.html", metadata=server_metadata())

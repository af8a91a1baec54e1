"""Authlib policy: every OAuth decision this server makes is configured here.

Grant classes override only the hooks Authlib asks for; `config_oauth(app)` then
switches each capability on, one commented line each.
"""

import base64
import binascii
import json
import logging
from urllib.parse import unquote_plus

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2.errors import raise_http_exception
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749 import UnsupportedGrantTypeError
from authlib.oauth2.rfc6749 import UnsupportedResponseTypeError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oauth2.rfc9068.claims import JWTAccessTokenClaims
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import grants as oidc_grants
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam

from . import dpop
from . import fapi
from . import flow_trace
from . import keys
from . import tokens
from .client_assertion import PrivateKeyJWT
from .error_text import quoted
from .introspection import TokenIntrospectionEndpoint
from .models import AuthorizationCode
from .models import Token
from .models import User
from .models import db
from .models import now
from .models import sha256
from .par import PushedAuthorizationEndpoint
from .par import PushedAuthorizationRequests
from .revocation import TokenRevocationEndpoint

log = logging.getLogger("auth_server")


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource (audience) is not one this server knows."""

    error = "invalid_target"


class AuthorizationServer(FlaskAuthorizationServer):
    """Authlib's Flask server, able to resume a login from its stored parameters."""

    def get_authorization_grant(self, request):
        """Authlib's grant lookup, after refusing a response_type it could not quote.

        Authlib repeats the response_type in its error description, which must be
        printable ASCII without '"' or '\\' (RFC 6749 §5.2); tests/fuzz sends any characters.
        """
        response_type = request.payload.response_type or ""
        if invalid_error_characters(response_type):
            raise UnsupportedResponseTypeError(
                quoted(response_type), description=f"The response type '{quoted(response_type)}' is not supported.")
        return super().get_authorization_grant(request)

    def get_token_grant(self, request):
        """RFC 6749 §5.2: only the grant types this server offers (config GRANT_TYPES)."""
        if request.payload.grant_type not in current_app.config["GRANT_TYPES"]:
            raise UnsupportedGrantTypeError(request.payload.grant_type)
        return super().get_token_grant(request)

    def create_oauth2_request(self, request):
        """Use a request rebuilt from a login in progress as it is; else read Flask's."""
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)


class PKCE(CodeChallenge):
    """RFC 7636, with RFC 9700 §2.1.1's rules: the configured methods only (S256),
    required where the client says."""

    def __init__(self, methods):
        super().__init__()
        # The methods this server accepts (config CODE_CHALLENGE_METHODS).
        self.SUPPORTED_CODE_CHALLENGE_METHOD = methods

    def validate_code_challenge(self, grant, redirect_uri):
        """Refuse a missing challenge (for clients that need one) and any other method."""
        params = grant.request.payload.data
        if grant.request.client.require_pkce and not params.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge.")
        # RFC 7636 §4.3: a missing method means "plain".
        method = params.get("code_challenge_method", self.DEFAULT_CODE_CHALLENGE_METHOD)
        # FAPI 2.0 §5.3.2.2: S256, whatever else the server may accept.
        if grant.request.client.is_fapi and method != "S256":
            raise InvalidRequestError("A FAPI 2.0 client must use code_challenge_method=S256.")
        if params.get("code_challenge") and method not in self.SUPPORTED_CODE_CHALLENGE_METHOD:
            accepted = ", ".join(self.SUPPORTED_CODE_CHALLENGE_METHOD)
            raise InvalidRequestError(f"Only code_challenge_method={accepted} is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        """RFC 7636 §4.6: the code_verifier must match the stored challenge."""
        grant.current_check = "pkce_verified"
        super().validate_code_verifier(grant, result)


class OpenIDCode(oidc_grants.OpenIDCode):
    """OpenID Connect on the code grant: an ID token signed with our current key."""

    def resolve_client_private_key(self, client):
        """The key that signs the client's ID tokens: the newest one of its alg."""
        return keys.current_signing_key(self.get_client_algorithm(client))

    def get_client_algorithm(self, client):
        """OIDC Registration §2: the client's id_token_signed_response_alg, else config SIGNING_ALG."""
        return client.client_metadata.get("id_token_signed_response_alg") or current_app.config["SIGNING_ALG"]

    def get_encode_header(self, client):
        """The alg with the kid, so clients can pick the key from the JWKS."""
        return {"alg": self.get_client_algorithm(client), "typ": "JWT", "kid": self.resolve_client_private_key(client).kid}

    def get_client_claims(self, client):
        """OIDC Core §2: iss, aud and exp; azp names the client that asked."""
        config = current_app.config
        return {
            "iss": config["ISSUER"],
            "aud": [client.client_id],
            "azp": client.client_id,
            "exp": now() + config["ID_TOKEN_EXPIRES_IN"],
        }

    def exists_nonce(self, nonce, request):
        """OIDC Core §15.5.2: refuse a nonce this client already used."""
        return db.session.scalar(NONCE_USED, {"client_id": request.payload.client_id, "nonce": nonce}) is not None

    def generate_user_info(self, user, scope):
        """The profile claims the granted scopes release."""
        return user.claims(scope)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """The code grant: codes in the database, single use, bound to client and PKCE.

    At the token endpoint (step 9) each check names itself in `current_check` as it
    starts, so when one refuses the request the flow trace (a teaching aid) knows which.
    """

    # The step 9 check now running, by its id in flow_trace.CHECKS.
    current_check = None

    @classmethod
    def check_authorization_endpoint(cls, request):
        """This grant answers response_type=code, if the server offers it (config RESPONSE_TYPES)."""
        return (super().check_authorization_endpoint(request)
                and request.payload.response_type in current_app.config["RESPONSE_TYPES"])

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """RFC 6749 §3.1.2.3: the redirect_uri must be one the client registered.

        Authlib quotes a refused redirect_uri as it came, and a 500 follows when it
        holds what RFC 6749 §5.2 forbids in an error_description (found by a fuzzer).
        """
        redirect_uri = request.payload.redirect_uri
        if redirect_uri and not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError(f"Redirect URI {quoted(redirect_uri)} is not registered for this client.")
        return grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)

    def validate_authorization_request(self):
        """Authlib's checks, then the response mode and the audience (RFC 8707)."""
        redirect_uri = super().validate_authorization_request()
        config = current_app.config
        # OAuth 2.0 Multiple Response Type Encoding Practices §2.1: only the modes offered.
        if self.request.payload.data.get("response_mode", "query") not in config["RESPONSE_MODES"]:
            raise InvalidRequestError(
                f"Unsupported 'response_mode'; this server answers in: {', '.join(config['RESPONSE_MODES'])}.",
                redirect_uri=redirect_uri)
        audience, reason = tokens.requested_audience(self.request.payload.data, config["AUDIENCES"])
        if reason:
            raise InvalidTargetError(reason, redirect_uri=redirect_uri)
        self.request.audience = audience
        return redirect_uri

    def authenticate_token_endpoint_client(self):
        """RFC 6749 §3.2.1: the client authenticates by a method this server offers."""
        self.current_check = "client_authenticated"
        client = self.server.authenticate_client(self.request, current_app.config["CLIENT_AUTH_METHODS"])
        # Authlib keeps the client on the request once every check passed; keep it now.
        self.request.client = client
        # RFC 9449 §5: a DPoP proof is checked before the code is used up.
        self.request.dpop_jkt = dpop.jkt_for_token_request(client)
        # Authlib checks next that the client may use this grant, then that a code was sent.
        self.current_check = "grant_type_allowed"
        return client

    def save_authorization_code(self, code, request):
        """Store the code with everything the token request will be checked against."""
        params = request.payload.data
        db.session.execute(STORE_CODE, {
            "code": code,
            "client_id": request.client.client_id,
            "user_id": request.user.id,
            "redirect_uri": params.get("redirect_uri", ""),
            "response_type": params.get("response_type"),
            "scope": request.scope,
            "nonce": params.get("nonce"),
            "auth_time": request.interaction.auth_time,
            "code_challenge": params.get("code_challenge"),
            "code_challenge_method": params.get("code_challenge_method"),
            "audience": request.audience,
            "dpop_jkt": params.get("dpop_jkt"),  # RFC 9449 §10
            "expires_at": now() + fapi.code_lifetime(request.client, current_app.config["AUTHORIZATION_CODE_EXPIRES_IN"]),
        })
        db.session.commit()

    def query_authorization_code(self, code, client):
        """Use up the code in one UPDATE; a second use revokes what the first issued."""
        self.current_check = "code_valid"
        found = {"the_code": code, "the_client": client.client_id, "now": now()}
        claimed = db.session.scalar(CLAIM_CODE, found)
        db.session.commit()
        if claimed is not None:
            # Authlib compares the redirect_uri with the code's next.
            self.current_check = "redirect_uri_matches"
            return claimed
        item = db.session.scalar(CODE_OF_CLIENT, found)
        if item is not None and item.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens it issued.
            tokens.revoke_family(item.id, "authorization code replayed")
        return None

    def delete_authorization_code(self, authorization_code):
        """Nothing to do: the code was marked used when it was claimed, and is kept
        (not deleted) so that a replay is recognised as one."""

    def authenticate_user(self, authorization_code):
        """The user who consented when the code was issued."""
        self.current_check = "user_exists"
        return db.session.get(User, authorization_code.user_id)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        """Issue tokens for the code's audience; the code starts a new token family."""
        self.current_check = "tokens_issued"
        code = self.request.authorization_code
        return tokens.issue_tokens(self.client, user, scope, code.audience, code.auth_time,
                                   family=code.id, include_refresh_token=include_refresh_token,
                                   dpop_jkt=self.request.dpop_jkt)


# Built once, not on every request: building a statement costs more than running it.
# OIDC Core §15.5.2: a nonce this client used before (an index answers it).
# Core on the table where no object is read back: an ORM SELECT costs more (round nine).
codes = AuthorizationCode.__table__
NONCE_USED = db.select(codes.c.id).where(codes.c.client_id == bindparam("client_id"),
                                         codes.c.nonce == bindparam("nonce")).limit(1)
# RFC 6749 §4.1.2: a code is used once; one UPDATE checks and marks it, so two
# workers racing with the same code cannot both win. The winner gets the code's row
# back from the same statement (RETURNING); the session holds no copy to refresh.
CLAIM_CODE = (db.update(AuthorizationCode)
              .where(AuthorizationCode.code == bindparam("the_code"), AuthorizationCode.client_id == bindparam("the_client"),
                     AuthorizationCode.used_at.is_(None), AuthorizationCode.expires_at >= bindparam("now"))
              .values(used_at=bindparam("now"))
              .returning(AuthorizationCode)
              .execution_options(synchronize_session=False))
# The code's row, written without an ORM object: nothing reads it back in this request.
STORE_CODE = codes.insert()
CODE_OF_CLIENT = db.select(AuthorizationCode).where(
    AuthorizationCode.code == bindparam("the_code"), AuthorizationCode.client_id == bindparam("the_client"))


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh tokens, rotated on every use, with reuse detection (RFC 9700 §4.14.2).

    FAPI 2.0 §5.3.2.1: a FAPI client's refresh token is not rotated; it is bound to the
    client (Authlib checks it is the client's) and stays the same until it expires.
    """

    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new one

    def authenticate_token_endpoint_client(self):
        """RFC 6749 §3.2.1: the client authenticates by a method this server offers."""
        client = self.server.authenticate_client(self.request, current_app.config["CLIENT_AUTH_METHODS"])
        self.request.dpop_jkt = dpop.jkt_for_token_request(client)  # RFC 9449 §5
        return client

    def authenticate_refresh_token(self, refresh_token):
        """Find the refresh token, unrevoked and unexpired; it is used up only once checked."""
        row = db.session.scalar(db.select(Token).filter_by(refresh_token_hash=sha256(refresh_token)))
        if row is None or row.revoked_at is not None or row.refresh_expires_at < now():
            return None
        return row

    def validate_token_request(self):
        """Authlib's checks first, then use up the refresh token; using one twice revokes its family.

        RFC 6749 §6: the token must be this client's (else invalid_grant) and the scope
        within the grant (else invalid_scope). Only a request that passes both may use
        the token up, so another client, or a wider scope, cannot burn it.
        """
        super().validate_token_request()
        if self.request.client.is_fapi:
            return  # not rotated, so not used up (FAPI 2.0 §5.3.2.1)
        row = self.request.refresh_token
        # RFC 9449 §5 binds a public client's refresh token to its DPoP key; ours too.
        dpop.check_binding(row.dpop_jkt, self.request.dpop_jkt, "refresh token")
        claimed = db.session.execute(
            db.update(Token).where(Token.id == row.id, Token.refresh_used_at.is_(None))
            .values(refresh_used_at=now())
        ).rowcount
        db.session.commit()
        if claimed != 1:
            # RFC 9700 §4.14.2: a rotated refresh token came back; someone has a copy.
            tokens.revoke_family(row.family, "refresh token reused")
            raise InvalidGrantError()

    def authenticate_user(self, refresh_token):
        """The user the refresh token was issued for."""
        return refresh_token.user

    def revoke_old_credential(self, refresh_token):
        """Nothing more to do: the old refresh token was used up when it was claimed."""

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        """Issue tokens for the same audience and family as the refresh token."""
        old = self.request.refresh_token
        # A FAPI client keeps the refresh token it has; others get a new one.
        rotate = include_refresh_token and not self.client.is_fapi
        return tokens.issue_tokens(self.client, user, scope, old.audience, old.auth_time,
                                   family=old.family, include_refresh_token=rotate,
                                   dpop_jkt=self.request.dpop_jkt)


class IssuerInResponse(IssuerParameter):
    """RFC 9207: `iss` in every authorization response, so clients can spot a mix-up."""

    def __init__(self, issuer):
        self.issuer = issuer

    def get_issuer(self):
        """Our issuer identifier."""
        return self.issuer


class AccessTokenValidator(JWTBearerTokenValidator):
    """Validates our own access tokens where we are the resource server (/userinfo)."""

    def get_jwks(self):
        """Our published keys."""
        return KeySet.import_key_set(keys.public_jwks())

    def authenticate_token(self, token_string):
        """RFC 9068 §4: Authlib's claim rules, the signature by one of our algs, and not revoked.

        Authlib decodes with joserfc's default algs, which leave out PS256 (what a FAPI
        client's tokens are signed with), so the token is decoded here with config SIGNING_ALGS.
        """
        try:
            token = jwt.decode(token_string, self.get_jwks(), algorithms=current_app.config["SIGNING_ALGS"])
        except JoseError as error:
            raise InvalidTokenError(realm=self.realm, extra_attributes=self.extra_attributes) from error
        claims = JWTAccessTokenClaims(token.claims, token.header, {
            "iss": {"essential": True, "validate": self.validate_iss},
            "aud": {"essential": True, "value": self.resource_server},
            **{name: {"essential": True} for name in ("exp", "sub", "client_id", "iat", "jti")},
        })
        if tokens.is_revoked(claims.get("jti")):
            raise InvalidTokenError(description="The token was revoked.", realm=self.realm)
        # RFC 9449 §7: a DPoP-bound token comes only as DPoP, with a proof by its key.
        dpop.check_resource_request(claims, token_string, self.TOKEN_TYPE)
        return claims


class DPoPAccessTokenValidator(AccessTokenValidator):
    """RFC 9449 §7.1: the same tokens, sent as "Authorization: DPoP <token>" with a proof."""

    TOKEN_TYPE = "dpop"


def query_client(client_id):
    """A registered client by its id (RFC 6749 §2.2), or None: read at start (models.registered_clients)."""
    return current_app.extensions["auth_server.clients"].get(client_id)


def authenticate_client_secret_basic(query_client, request):
    """RFC 6749 §2.3.1: HTTP Basic, the id and secret each form-urlencoded (Appendix B).

    Authlib decodes them with unquote(), which leaves "+" alone; in form encoding "+"
    is a space, and a secret may contain spaces (VSCHAR, Appendix A.2). openid-client
    (tests/interop), for one, sends "a b" as "a+b", as the RFC says.
    """
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        return None
    client = query_client(unquote_plus(client_id))
    if client is not None and client.check_client_secret(unquote_plus(client_secret)):
        return client
    return None


def save_token(token, request):
    """Commit the token row that tokens.issue_tokens wrote."""
    db.session.commit()


class BearerProtector(ResourceProtector):
    """Authlib's resource protector, with RFC 6750 §3's exact challenges."""

    def raise_error_response(self, error):
        """RFC 6750 §3.1: with no bearer token at all, the challenge carries no error code."""
        if error.error in ("missing_authorization", "unsupported_token_type"):
            body = {"error": "invalid_request", "error_description": "Send an access token: Authorization: Bearer <token>."}
            raise_http_exception(401, json.dumps(body), [("WWW-Authenticate", 'Bearer realm="userinfo"'),
                                                         ("Content-Type", "application/json")])
        super().raise_error_response(error)


# Protects /userinfo; its validator is registered in config_oauth.
require_oauth = BearerProtector()


def config_oauth(app):
    """Build this app's authorization server and switch each capability on."""
    config = app.config
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    # The scopes the server knows; anything else is invalid_scope.
    server.scopes_supported = list(config["SCOPES"])
    # RFC 6749 §2.3.1: client_secret_basic decodes the id and secret as form data.
    server.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
    # RFC 7523 §2.2: private_key_jwt, a JWT signed with the client's key (client_assertion.py).
    server.register_client_auth_method("private_key_jwt", PrivateKeyJWT())
    # The authorization code grant, with OpenID Connect, PKCE (the methods in config:
    # S256), DPoP's binding of the code to a key (RFC 9449 §10), and the flow trace's
    # watch on its checks (a teaching aid: see the end).
    server.register_grant(AuthorizationCodeGrant, [OpenIDCode(require_nonce=False),
                                                   PKCE(config["CODE_CHALLENGE_METHODS"]),
                                                   dpop.code_binding,
                                                   flow_trace.watch_token_checks])
    # Refresh tokens, rotated on every use (FAPI 2.0 clients keep theirs, §5.3.2.1).
    server.register_grant(RefreshTokenGrant)
    # RFC 9126: the PAR endpoint, and request_uri resolution at /authorize.
    server.register_endpoint(PushedAuthorizationEndpoint(
        config["CLIENT_AUTH_METHODS"], config["PAR_EXPIRES_IN"], config["PAR_RATE_LIMIT"], config["PAR_RATE_WINDOW"]))
    server.register_extension(PushedAuthorizationRequests(config["REQUIRE_PUSHED_AUTHORIZATION_REQUESTS"]))
    # RFC 7009: clients revoke their tokens at /oauth/revoke (the whole family goes).
    server.register_endpoint(TokenRevocationEndpoint(config["CLIENT_AUTH_METHODS"]))
    # RFC 7662: the notes API (or a token's own client) asks at /oauth/introspect
    # whether a token is still active, so revocation reaches the API at once.
    server.register_endpoint(TokenIntrospectionEndpoint(config["CLIENT_AUTH_METHODS"]))
    # RFC 9449 §8: a DPoP nonce on every PAR, token and userinfo response.
    dpop.init_app(app)
    # RFC 9207: iss in every authorization response.
    server.register_extension(IssuerInResponse(config["ISSUER"]))
    # Our access tokens are accepted at /userinfo (Auth0 does the same).
    require_oauth.register_token_validator(AccessTokenValidator(config["ISSUER"], config["ISSUER"] + "/userinfo"))
    require_oauth.register_token_validator(DPoPAccessTokenValidator(config["ISSUER"], config["ISSUER"] + "/userinfo"))
    # A teaching aid, not policy: flow_trace.py records what this server did in each
    # flow (the requests of steps 2-7, and step 9's checks through the code grant's
    # watch above) and tells it, at POST /oauth/flow-trace, to the client that owns the
    # flow. It only watches; it decides nothing.
    flow_trace.init_app(app, server)
    app.extensions["authorization_server"] = server


def authorization_server():
    """The current app's authorization server, for the views."""
    return current_app.extensions["authorization_server"]

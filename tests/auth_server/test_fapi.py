"""notes-fapi under the FAPI 2.0 Security Profile: the whole flow, and each rule refused when broken."""

import time
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
from joserfc import jwt

from auth_server import create_app
from auth_server import dpop
from auth_server import fapi
from auth_server.config import Config
from auth_server.models import AuthorizationCode
from auth_server.models import db

from .conftest import ISSUER
from .conftest import Flow
from .conftest import jwt_auth
from .conftest import make_proof
from .conftest import public_jwks

FAPI = "notes-fapi"


@pytest.fixture
def app(make_app, test_config, client_keys):
    """The demo clients, notes-fapi with its keys by value (no client app to fetch them from)."""
    clients = []
    for client in Config.CLIENTS:
        if client["client_id"] == FAPI:
            client = {k: v for k, v in client.items() if k != "jwks_uri"} | {"jwks": public_jwks(client_keys)}
        clients.append(client)
    return make_app({**test_config, "CLIENTS": clients})


def signed_request(flow, key, **params):
    """The flow's request as a request object signed by notes-fapi (RFC 9101 §4)."""
    claims = {"iss": FAPI, "aud": ISSUER, "nbf": int(time.time()), "exp": int(time.time()) + 300,
              "client_id": FAPI, **flow.params(**params)}
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": key.alg, "kid": key.kid}, claims, key, algorithms=[key.alg])


def push(flow, client_keys, **params):
    """Step 2 as a FAPI client: a signed request object, authenticated by private_key_jwt."""
    data = {"client_id": FAPI, "request": signed_request(flow, client_keys["PS256"], **params),
            **jwt_auth(FAPI, client_keys["PS256"])}
    return flow.client.post("/oauth/par", data=data)


def authorization_response(flow, client_keys, **params):
    """Steps 2-7: the query the browser brings back to the callback."""
    pushed = push(flow, client_keys, **params)
    assert pushed.status_code == 201, pushed.json
    consent_url = flow.login(flow.authorize(pushed.json["request_uri"], client_id=FAPI).location).location
    return {k: v[0] for k, v in parse_qs(urlparse(flow.consent(consent_url).location).query).items()}


def dpop_proof(flow, client_keys):
    """notes-fapi gets DPoP-bound tokens only (RFC 9449 §5.2): a token-endpoint proof
    with the server's current nonce, signed by the client's ES256 key."""
    nonce = flow.client.post("/oauth/token").headers["DPoP-Nonce"]
    return make_proof(client_keys["ES256"], ISSUER + "/oauth/token", nonce=nonce)


def exchange(flow, client_keys, code):
    """Step 8, authenticated by private_key_jwt, with a DPoP proof."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.params()["redirect_uri"],
            "code_verifier": flow.verifier, **jwt_auth(FAPI, client_keys["PS256"])}
    return flow.client.post("/oauth/token", data=data, headers={"DPoP": dpop_proof(flow, client_keys)})


def refresh(flow, client_keys, refresh_token):
    """A refresh grant, authenticated by private_key_jwt, with a DPoP proof."""
    return flow.client.post("/oauth/token", headers={"DPoP": dpop_proof(flow, client_keys)}, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, **jwt_auth(FAPI, client_keys["PS256"])})


def test_the_fapi_flow_end_to_end(flow, client_keys, jwks):
    """PAR + signed request + private_key_jwt + PKCE: iss in the response, PS256 tokens."""
    response = authorization_response(flow, client_keys)
    assert response["iss"] == ISSUER  # RFC 9207, FAPI 2.0 §5.3.2.2
    tokens = exchange(flow, client_keys, response["code"])
    assert tokens.status_code == 200, tokens.json
    id_token = jwt.decode(tokens.json["id_token"], jwks, algorithms=Config.SIGNING_ALGS)
    access_token = jwt.decode(tokens.json["access_token"], jwks, algorithms=Config.SIGNING_ALGS)
    fapi_client = next(client for client in Config.CLIENTS if client["client_id"] == FAPI)
    assert id_token.header["alg"] == fapi_client["id_token_signed_response_alg"]
    assert access_token.header["alg"] == Config.FAPI_ACCESS_TOKEN_ALG
    assert id_token.claims["aud"] == [FAPI]
    assert access_token.claims["client_id"] == FAPI


def test_other_clients_keep_rs256(flow, jwks):
    """notes-web's tokens are still signed with SIGNING_ALG."""
    tokens = flow.tokens()
    for name in ("id_token", "access_token"):
        assert jwt.decode(tokens[name], jwks).header["alg"] == Config.SIGNING_ALG


def test_the_code_lives_at_most_60_seconds(app, test_config, client_keys):
    """FAPI 2.0 §5.3.2.1, even when the server's own code lifetime is longer."""
    app = create_app({**test_config, "CLIENTS": app.config["CLIENTS"], "AUTHORIZATION_CODE_EXPIRES_IN": 300})
    flow = Flow(app.test_client())
    code = authorization_response(flow, client_keys)["code"]
    with app.app_context():
        row = db.session.scalar(db.select(AuthorizationCode).filter_by(code=code))
        assert row.expires_at - int(time.time()) <= fapi.MAX_CODE_LIFETIME


def test_the_request_uri_lives_under_600_seconds(app, test_config, client_keys):
    """FAPI 2.0 §5.3.2.2: expires_in < 600 for the FAPI client, whatever PAR_EXPIRES_IN says."""
    app = create_app({**test_config, "CLIENTS": app.config["CLIENTS"], "PAR_EXPIRES_IN": 900})
    flow = Flow(app.test_client())
    assert push(flow, client_keys).json["expires_in"] < 600
    assert flow.push().json["expires_in"] == 900  # notes-web: the server's lifetime


def test_the_refresh_token_is_bound_to_the_client_and_not_rotated(flow, client_keys):
    """FAPI 2.0 §5.3.2.1: the same refresh token works again; no new one is issued."""
    tokens = exchange(flow, client_keys, authorization_response(flow, client_keys)["code"]).json
    first = refresh(flow, client_keys, tokens["refresh_token"])
    second = refresh(flow, client_keys, tokens["refresh_token"])
    assert first.status_code == second.status_code == 200, (first.json, second.json)
    assert "refresh_token" not in first.json and "refresh_token" not in second.json
    assert first.json["access_token"] != second.json["access_token"]
    stolen = flow.refresh(tokens["refresh_token"])  # presented by notes-web
    assert stolen.status_code == 400
    assert stolen.json["error"] == "invalid_grant"


def test_notes_web_still_rotates(flow):
    """Existing clients keep rotation: a used refresh token is refused the second time."""
    refresh_token = flow.tokens()["refresh_token"]
    assert "refresh_token" in flow.refresh(refresh_token).json
    assert flow.refresh(refresh_token).json["error"] == "invalid_grant"


def test_a_front_channel_request_is_refused(flow, client_keys, test_config, app):
    """FAPI 2.0 §5.3.2.2: PAR only, even on a server that lets other clients skip it."""
    # Neither the server nor the registration says "PAR required": the profile alone does.
    clients = [{k: v for k, v in client.items() if k != "require_pushed_authorization_requests"}
               for client in app.config["CLIENTS"]]
    app = create_app({**test_config, "CLIENTS": clients, "REQUIRE_PUSHED_AUTHORIZATION_REQUESTS": False})
    response = Flow(app.test_client()).client.get("/authorize", query_string={"client_id": FAPI, **flow.params()})
    assert response.status_code == 400
    assert "must push its authorization request" in response.text


@pytest.mark.parametrize(("params", "words"), [
    ({"code_challenge": None, "code_challenge_method": None}, "PKCE is required"),
    ({"code_challenge_method": "plain"}, "S256"),
])
def test_pkce_s256_is_required(flow, client_keys, params, words):
    """FAPI 2.0 §5.3.2.2: no PKCE, or plain PKCE, is invalid_request at the push."""
    if params.get("code_challenge_method") == "plain":
        params["code_challenge"] = flow.verifier
    response = push(flow, client_keys, **params)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert words in response.json["error_description"]


def test_plain_pkce_is_refused_for_fapi_even_if_the_server_offered_it(app, test_config, client_keys):
    """The FAPI rule holds on its own: CODE_CHALLENGE_METHODS with plain does not open it."""
    app = create_app({**test_config, "CLIENTS": app.config["CLIENTS"], "CODE_CHALLENGE_METHODS": ["S256", "plain"]})
    flow = Flow(app.test_client())
    response = push(flow, client_keys, code_challenge=flow.verifier, code_challenge_method="plain")
    assert response.status_code == 400
    assert "FAPI" in response.json["error_description"]


def test_an_unsigned_push_is_refused(flow, client_keys):
    """require_signed_request_object: form parameters alone are invalid_request_object."""
    response = flow.client.post("/oauth/par", data={**flow.params(), **jwt_auth(FAPI, client_keys["PS256"])})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request_object"


def test_the_registered_assertion_alg_is_the_only_one(flow, client_keys):
    """token_endpoint_auth_signing_alg PS256: an ES256 assertion, though a key the client has, is refused."""
    data = {"client_id": FAPI, "request": signed_request(flow, client_keys["PS256"]),
            **jwt_auth(FAPI, client_keys["ES256"])}
    response = flow.client.post("/oauth/par", data=data)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_the_flow_trace_takes_private_key_jwt(flow, client_keys):
    """The flow trace authenticates clients as the token endpoint does (CLIENT_AUTH_METHODS)."""
    request_uri = push(flow, client_keys).json["request_uri"]
    trace = flow.client.post("/oauth/flow-trace", data={"request_uri": request_uri, **jwt_auth(FAPI, client_keys["PS256"])})
    assert trace.status_code == 200, trace.json


def test_a_ps256_access_token_works_at_userinfo(flow, client_keys):
    """Our own resource server (/userinfo) accepts the PS256, DPoP-bound access token of a FAPI client."""
    tokens = exchange(flow, client_keys, authorization_response(flow, client_keys)["code"]).json
    assert tokens["token_type"] == "DPoP"
    nonce = flow.client.post("/oauth/token").headers["DPoP-Nonce"]
    proof = make_proof(client_keys["ES256"], ISSUER + "/userinfo", htm="GET", nonce=nonce,
                       ath=dpop.token_hash(tokens["access_token"]))
    response = flow.client.get("/userinfo", headers={"Authorization": "DPoP " + tokens["access_token"], "DPoP": proof})
    assert response.status_code == 200, response.json
    assert response.json["sub"] == "alice"

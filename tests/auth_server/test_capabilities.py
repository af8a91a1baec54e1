"""What discovery advertises is what the server enforces: config.py's lists of what it supports."""

import secrets
import time
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from auth_server import create_app
from auth_server.config import Config

from .conftest import JWT_RP
from .conftest import WEB
from .conftest import Flow
from .conftest import jwt_auth
from .conftest import rp_with_keys
from .conftest import s256

TOKEN_ENDPOINT = "http://localhost:9000/oauth/token"


def credentials(method, client_keys=None):
    """How notes-web (or, for private_key_jwt, rp-jwt) proves who it is: (Basic auth, form)."""
    client_id, secret = WEB
    if method == "private_key_jwt":  # RFC 7523 §2.2: a JWT signed with the client's own key
        return None, jwt_auth(JWT_RP, client_keys["PS256"])
    if method == "client_secret_basic":  # RFC 6749 §2.3.1
        return WEB, {}
    if method == "client_secret_post":  # RFC 6749 §2.3.1
        return None, {"client_id": client_id, "client_secret": secret}
    if method == "none":  # RFC 7591 §2: a public client sends its id only
        return None, {"client_id": client_id}
    if method == "client_secret_jwt":  # OIDC Core §9, RFC 7523 §2.2: a JWT signed with the secret
        claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_ENDPOINT,
                  "exp": int(time.time()) + 60, "jti": secrets.token_urlsafe(8)}
        assertion = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))
        return None, {"client_id": client_id, "client_assertion": assertion,
                      "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    raise AssertionError(f"no way to send {method} in this test yet")


def code_challenge(method, verifier):
    """RFC 7636 §4.2: the code_challenge for a verifier by one PKCE method."""
    if method == "S256":
        return s256(verifier)
    if method == "plain":
        return verifier
    raise AssertionError(f"no way to make a {method} challenge in this test yet")


def code_for(flow, request_uri, client_id="notes-web"):
    """Steps 4-7 for a pushed request: the code the browser brings back."""
    consent_url = flow.login(flow.authorize(request_uri, client_id).location).location
    response = flow.consent(consent_url)
    return parse_qs(urlparse(response.location).query)["code"][0]


@pytest.fixture
def metadata(client):
    """What the server advertises (RFC 8414 §2)."""
    return client.get("/.well-known/oauth-authorization-server").json


def test_every_advertised_client_auth_method_works_at_par_and_token(test_config, client_keys):
    """RFC 8414 token_endpoint_auth_methods_supported: each one authenticates at both endpoints."""
    client = create_app({**test_config, "CLIENTS": [*Config.CLIENTS, rp_with_keys(client_keys)]}).test_client()
    metadata = client.get("/.well-known/oauth-authorization-server").json
    for method in metadata["token_endpoint_auth_methods_supported"]:
        flow = Flow(client)
        auth, form = credentials(method, client_keys)
        pushed = client.post("/oauth/par", auth=auth, data={**flow.params(), **form})
        assert pushed.status_code == 201, (method, pushed.json)
        code = code_for(flow, pushed.json["request_uri"], JWT_RP if method == "private_key_jwt" else "notes-web")
        auth, form = credentials(method, client_keys)  # a new assertion: each is single-use
        tokens = flow.exchange(code, auth=auth, **form)
        assert tokens.status_code == 200, (method, tokens.json)


@pytest.mark.parametrize("method", ["none", "client_secret_jwt"])
def test_a_client_auth_method_not_advertised_is_refused(client, flow, metadata, method):
    """RFC 6749 §5.2: a method the server does not offer is 401 invalid_client, at PAR and token."""
    assert method not in metadata["token_endpoint_auth_methods_supported"]
    auth, form = credentials(method)
    pushed = client.post("/oauth/par", auth=auth, data={**flow.params(), **form})
    assert pushed.status_code == 401
    assert pushed.json["error"] == "invalid_client"
    tokens = flow.exchange(flow.code()["code"], auth=auth, **form)
    assert tokens.status_code == 401
    assert tokens.json["error"] == "invalid_client"


def test_every_advertised_pkce_method_works(client, metadata):
    """RFC 8414 code_challenge_methods_supported: each one is accepted and verified."""
    for method in metadata["code_challenge_methods_supported"]:
        flow = Flow(client)
        challenge = code_challenge(method, flow.verifier)
        tokens = flow.exchange(flow.code(code_challenge=challenge, code_challenge_method=method)["code"])
        assert tokens.status_code == 200, (method, tokens.json)


def test_plain_pkce_is_not_advertised_and_is_refused(flow, metadata):
    """RFC 9700 §2.1.1: "plain" is neither advertised nor accepted."""
    assert "plain" not in metadata["code_challenge_methods_supported"]
    response = flow.push(code_challenge=flow.verifier, code_challenge_method="plain")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_every_advertised_grant_type_works(flow, metadata):
    """RFC 8414 grant_types_supported: the code grant and refresh both issue tokens."""
    tokens = None
    for grant_type in metadata["grant_types_supported"]:
        if grant_type == "authorization_code":
            tokens = flow.tokens()
        elif grant_type == "refresh_token":
            refresh_token = (tokens or flow.tokens())["refresh_token"]
            response = flow.refresh(refresh_token)
            assert response.status_code == 200, response.json
        else:
            raise AssertionError(f"no way to use grant_type={grant_type} in this test yet")


@pytest.mark.parametrize("grant_type", ["client_credentials", "password", "implicit"])
def test_a_grant_type_not_advertised_is_refused(client, metadata, grant_type):
    """RFC 6749 §5.2: unsupported_grant_type."""
    assert grant_type not in metadata["grant_types_supported"]
    response = client.post("/oauth/token", auth=WEB, data={"grant_type": grant_type, "scope": "openid"})
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"


def test_every_advertised_response_type_and_mode_works(flow, metadata):
    """RFC 8414 response_types_supported and response_modes_supported: each is accepted."""
    for response_type in metadata["response_types_supported"]:
        for response_mode in metadata["response_modes_supported"]:
            flow.nonce = secrets.token_urlsafe(8)
            params = flow.code(response_type=response_type, response_mode=response_mode)
            assert params["code"], (response_type, response_mode)


@pytest.mark.parametrize(("name", "value", "error"), [
    ("response_type", "token", "unsupported_response_type"),       # RFC 9700 §2.1.2: no implicit
    ("response_type", "code id_token", "unsupported_response_type"),
    ("response_mode", "fragment", "invalid_request"),
    ("response_mode", "form_post", "invalid_request"),
])
def test_a_response_type_or_mode_not_advertised_is_refused(flow, metadata, name, value, error):
    """What is not advertised is refused at the push, as JSON (RFC 9126 §2.3)."""
    assert value not in metadata[f"{name}s_supported"]
    response = flow.push(**{name: value})
    assert response.status_code == 400
    assert response.json["error"] == error


def test_tokens_are_signed_with_the_advertised_alg(flow, metadata, jwks):
    """OIDC Discovery id_token_signing_alg_values_supported: the ID token's and access token's alg."""
    tokens = flow.tokens()
    for name in ("id_token", "access_token"):
        header = jwt.decode(tokens[name], jwks).header
        assert header["alg"] in metadata["id_token_signing_alg_values_supported"], name
    assert {key["alg"] for key in jwks.keys} <= set(metadata["id_token_signing_alg_values_supported"])


def test_one_setting_switches_a_client_auth_method_off_everywhere(test_config):
    """CLIENT_AUTH_METHODS without client_secret_post: discovery stops advertising it; PAR,
    token, flow trace, revocation and introspection refuse it (401 invalid_client); Basic works."""
    methods = [method for method in Config.CLIENT_AUTH_METHODS if method != "client_secret_post"]
    app = create_app({**test_config, "CLIENT_AUTH_METHODS": methods})
    flow = Flow(app.test_client())
    metadata = flow.client.get("/.well-known/openid-configuration").json
    assert metadata["token_endpoint_auth_methods_supported"] == methods
    auth, form = credentials("client_secret_post")

    pushed = flow.client.post("/oauth/par", auth=auth, data={**flow.params(), **form})
    assert pushed.status_code == 401
    assert pushed.json["error"] == "invalid_client"

    request_uri = flow.request_uri()  # HTTP Basic still works
    code = code_for(flow, request_uri)
    refused = flow.exchange(code, auth=auth, **form)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_client"
    assert flow.exchange(code).status_code == 200  # refused before the code was looked at

    trace = flow.client.post("/oauth/flow-trace", auth=auth, data={**form, "request_uri": request_uri})
    assert trace.status_code == 401
    assert trace.json["error"] == "invalid_client"
    assert flow.client.post("/oauth/flow-trace", auth=WEB, data={"request_uri": request_uri}).status_code == 200

    # RFC 7009 revocation and RFC 7662 introspection follow the same list.
    for endpoint in ("revocation", "introspection"):
        assert metadata[f"{endpoint}_endpoint_auth_methods_supported"] == methods
    for path in ("/oauth/revoke", "/oauth/introspect"):
        response = flow.client.post(path, auth=auth, data={**form, "token": "anything"})
        assert response.status_code == 401, path
        assert response.json["error"] == "invalid_client", path


def test_one_setting_switches_refresh_tokens_off(flow, test_config):
    """GRANT_TYPES without refresh_token: neither advertised nor accepted (unsupported_grant_type)."""
    refresh_token = flow.tokens()["refresh_token"]  # issued while the default config allows it
    grant_types = [grant_type for grant_type in Config.GRANT_TYPES if grant_type != "refresh_token"]
    client = create_app({**test_config, "GRANT_TYPES": grant_types}).test_client()  # same database
    assert client.get("/.well-known/openid-configuration").json["grant_types_supported"] == grant_types
    response = Flow(client).refresh(refresh_token)
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"


def test_one_setting_switches_a_response_type_off(test_config):
    """RESPONSE_TYPES without code: neither advertised nor accepted (unsupported_response_type)."""
    response_types = [value for value in Config.RESPONSE_TYPES if value != "code"]
    client = create_app({**test_config, "RESPONSE_TYPES": response_types}).test_client()
    assert client.get("/.well-known/openid-configuration").json["response_types_supported"] == response_types
    response = Flow(client).push(response_type="code")
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_response_type"

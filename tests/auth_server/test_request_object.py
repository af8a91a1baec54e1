"""Signed request objects through PAR (RFC 9101 with RFC 9126 §3): only what the client signed counts."""

import base64
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth_server.config import Config

from .conftest import CALLBACK
from .conftest import ISSUER
from .conftest import JWT_RP
from .conftest import jwt_auth
from .conftest import rp_with_keys


@pytest.fixture
def app(make_app, test_config, client_keys):
    """rp-jwt, which must sign its requests, and the demo clients."""
    rp = rp_with_keys(client_keys, require_signed_request_object=True)
    return make_app({**test_config, "CLIENTS": [*Config.CLIENTS, rp]})


@dataclass(frozen=True)
class FromNow:
    """A time claim in seconds from when the request object is signed: a time fixed when
    the parameters below are collected would be minutes old by then in a full run."""
    seconds: int


def request_object(flow, key, alg=None, header=None, **claims):
    """The flow's authorization request as a JWT signed by the client (RFC 9101 §4)."""
    values = {"iss": JWT_RP, "aud": ISSUER, "nbf": FromNow(0), "exp": FromNow(300),
              "client_id": JWT_RP, **flow.params(), **claims}
    now = int(time.time())
    values = {name: now + value.seconds if isinstance(value, FromNow) else value
              for name, value in values.items() if value is not None}
    alg = alg or key.alg
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "oauth-authz-req+jwt", **(header or {})},
                      values, key, algorithms=[alg])


def push(flow, client_keys, request, **form):
    """Step 2: client_id, the request object, and the client's own authentication."""
    data = {"client_id": JWT_RP, "request": request, **jwt_auth(JWT_RP, client_keys["PS256"]), **form}
    return flow.client.post("/oauth/par", data=data)


def assert_invalid_request_object(response):
    """RFC 9101 §6.3 / RFC 9126 §2.3: 400 invalid_request_object."""
    assert response.status_code == 400, response.json
    assert response.json["error"] == "invalid_request_object"


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_a_signed_request_object_runs_the_flow(flow, client_keys, alg):
    """The pushed JWT's parameters become the request; tokens follow."""
    pushed = push(flow, client_keys, request_object(flow, client_keys[alg]))
    assert pushed.status_code == 201, pushed.json
    consent_url = flow.login(flow.authorize(pushed.json["request_uri"], client_id=JWT_RP).location).location
    query = parse_qs(urlparse(flow.consent(consent_url).location).query)
    assert query["state"] == [flow.state]
    tokens = flow.exchange(query["code"][0], auth=None, **jwt_auth(JWT_RP, client_keys["PS256"]))
    assert tokens.status_code == 200, tokens.json


def test_only_the_signed_parameters_count(flow, client_keys):
    """RFC 9126 §3: a scope or redirect_uri beside the request object is ignored."""
    pushed = push(flow, client_keys, request_object(flow, client_keys["PS256"], scope="openid"),
                  scope="openid email write:notes", redirect_uri="https://attacker.example/cb")
    assert pushed.status_code == 201, pushed.json
    consent_url = flow.login(flow.authorize(pushed.json["request_uri"], client_id=JWT_RP).location).location
    response = flow.consent(consent_url)
    assert response.location.startswith(CALLBACK + "?")
    code = parse_qs(urlparse(response.location).query)["code"][0]
    tokens = flow.exchange(code, auth=None, **jwt_auth(JWT_RP, client_keys["PS256"]))
    assert tokens.json["scope"] == "openid"


def test_an_unsigned_request_is_refused_for_a_client_that_must_sign(flow, client_keys):
    """RFC 9101 §10.5: require_signed_request_object; plain form parameters are refused."""
    response = flow.client.post("/oauth/par", data={**flow.params(), **jwt_auth(JWT_RP, client_keys["PS256"])})
    assert_invalid_request_object(response)


def unsigned(claims):
    """An `alg: none` JWT (RFC 7519 §6): no signature at all."""
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none'})}.{part(claims)}."


def test_alg_none_is_refused(flow, client_keys):
    """An unsecured request object proves nothing about who wrote it."""
    claims = {"iss": JWT_RP, "aud": ISSUER, "nbf": int(time.time()), "exp": int(time.time()) + 300, **flow.params()}
    assert_invalid_request_object(push(flow, client_keys, unsigned(claims)))


def test_a_bad_signature_is_refused(flow, client_keys):
    """Signed by a key the client never registered (under its kid)."""
    stranger = RSAKey.generate_key(2048, parameters={"alg": "PS256", "kid": client_keys["PS256"].kid})
    assert_invalid_request_object(push(flow, client_keys, request_object(flow, stranger)))


def test_tampered_claims_are_refused(flow, client_keys):
    """The payload changed after signing (a wider scope): the signature no longer matches."""
    header, payload, signature = request_object(flow, client_keys["PS256"], scope="openid").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "openid write:notes"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_invalid_request_object(push(flow, client_keys, f"{header}.{forged}.{signature}"))


def test_an_alg_not_accepted_is_refused(flow, client_keys):
    """FAPI 2.0 §5.4.1: RS256 is not accepted, even from the client's registered RSA key."""
    same_key = {k: v for k, v in client_keys["PS256"].as_dict(private=True).items() if k != "alg"}
    assert_invalid_request_object(push(flow, client_keys, request_object(flow, RSAKey.import_key(same_key), alg="RS256")))


@pytest.mark.parametrize("claims", [
    {"iss": "notes-web"},                                   # RFC 9101 §4: iss is the client
    {"iss": None},
    {"aud": "https://other-as.example"},                    # aud is our issuer
    {"aud": None},
    {"exp": FromNow(-300)},                                 # expired
    {"exp": None},
    {"nbf": None},                                          # FAPI 2.0: nbf required
    {"nbf": FromNow(600)},                                  # not yet valid
    {"nbf": FromNow(-7200), "exp": FromNow(60)},            # nbf over 60 min old
    {"exp": FromNow(7200)},                                 # exp - nbf over 60 min
    {"client_id": "notes-web"},                             # RFC 9101 §5: must be the client's
    {"request_uri": "urn:ietf:params:oauth:request_uri:x"},  # RFC 9126 §2.1
    {"max_age": 60},                                        # a parameter must be a string
])
def test_bad_claims_are_refused(flow, client_keys, claims):
    """Each claim rule: invalid_request_object, before anything is stored."""
    assert_invalid_request_object(push(flow, client_keys, request_object(flow, client_keys["PS256"], **claims)))


def test_a_client_without_keys_cannot_push_a_request_object(flow, client_keys):
    """notes-web registered no keys: nothing to verify its request object with."""
    response = flow.client.post("/oauth/par", auth=("notes-web", "notes-web-secret"),
                                data={"request": request_object(flow, client_keys["PS256"])})
    assert_invalid_request_object(response)


def test_discovery_advertises_the_request_object_algs(client):
    """RFC 9101 §10.5: request_object_signing_alg_values_supported, from config CLIENT_SIGNING_ALGS."""
    metadata = client.get("/.well-known/openid-configuration").json
    assert metadata["request_object_signing_alg_values_supported"] == Config.CLIENT_SIGNING_ALGS
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == Config.CLIENT_SIGNING_ALGS

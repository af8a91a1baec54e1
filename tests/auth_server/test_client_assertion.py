"""private_key_jwt (RFC 7523 §2.2): the client signs a JWT with its key, once, for our issuer."""

import time
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
import requests
from joserfc.jwk import RSAKey

from auth_server import client_keys as client_keys_module
from auth_server import create_app
from auth_server.config import Config
from auth_server.models import UsedClientAssertion
from auth_server.models import db

from .conftest import ASSERTION_TYPE
from .conftest import ISSUER
from .conftest import JWT_RP
from .conftest import Flow
from .conftest import client_assertion
from .conftest import jwt_auth
from .conftest import public_jwks
from .conftest import rp_with_keys

JWKS_URI = Config.CLIENT_APP_URL + "/.well-known/jwks.json"


@pytest.fixture
def app(make_app, test_config, client_keys):
    """The demo clients and rp-jwt, whose keys are registered by value."""
    return make_app({**test_config, "CLIENTS": [*Config.CLIENTS, rp_with_keys(client_keys)]})


def push(flow, form):
    """Step 2 with private_key_jwt: no Basic header, the assertion in the form."""
    return flow.client.post("/oauth/par", data={**flow.params(), **form})


def code(flow, form):
    """Steps 2-7 for rp-jwt: the code the browser brings back."""
    pushed = push(flow, form)
    assert pushed.status_code == 201, pushed.json
    consent_url = flow.login(flow.authorize(pushed.json["request_uri"], client_id=JWT_RP).location).location
    return parse_qs(urlparse(flow.consent(consent_url).location).query)["code"][0]


@pytest.mark.parametrize("alg", ["PS256", "ES256"])
def test_private_key_jwt_works_at_par_token_and_revocation(flow, client_keys, alg):
    """Each accepted alg authenticates the push, the code exchange and a revocation."""
    key = client_keys[alg]
    tokens = flow.exchange(code(flow, jwt_auth(JWT_RP, key)), auth=None, **jwt_auth(JWT_RP, key))
    assert tokens.status_code == 200, tokens.json
    introspected = flow.client.post("/oauth/introspect", data={"token": tokens.json["access_token"],
                                                                **jwt_auth(JWT_RP, key)})
    assert introspected.json["active"] is True
    assert introspected.json["client_id"] == JWT_RP
    revoked = flow.client.post("/oauth/revoke", data={"token": tokens.json["refresh_token"], **jwt_auth(JWT_RP, key)})
    assert revoked.status_code == 200


def test_an_audience_list_holding_the_issuer_is_accepted(flow, client_keys):
    """FAPI 2.0 §5.3.2.1: the issuer as a string, or in an array."""
    response = push(flow, jwt_auth(JWT_RP, client_keys["PS256"], aud=[ISSUER, "https://other.example"]))
    assert response.status_code == 201, response.json


def assert_refused(response):
    """RFC 6749 §5.2: 401 invalid_client."""
    assert response.status_code == 401, response.json
    assert response.json["error"] == "invalid_client"


def test_a_replayed_assertion_is_refused(flow, client_keys):
    """RFC 7523 §3: the same jti twice is refused, at the same or another endpoint."""
    form = jwt_auth(JWT_RP, client_keys["PS256"])
    assert push(flow, form).status_code == 201
    assert_refused(push(flow, form))
    assert_refused(flow.exchange("any-code", auth=None, **form))


@pytest.mark.parametrize("aud", [
    ISSUER + "/oauth/token",          # the token endpoint: FAPI 2.0 wants the issuer only
    ISSUER + "/oauth/par",
    "https://other-as.example",
    [ISSUER + "/oauth/token"],
])
def test_a_wrong_audience_is_refused(flow, client_keys, aud):
    """FAPI 2.0 §5.3.2.1: aud must be our issuer identifier."""
    assert_refused(push(flow, jwt_auth(JWT_RP, client_keys["PS256"], aud=aud)))


@pytest.mark.parametrize("claims", [
    {"exp": int(time.time()) + 3600},   # lives too long
    {"exp": int(time.time()) - 300},    # expired
    {"exp": None},
    {"jti": None},
    {"iss": "notes-web"},               # iss and sub must both be the client
    {"sub": "notes-web", "iss": "notes-web"},  # another client's name, our key
])
def test_bad_claims_are_refused(flow, client_keys, claims):
    """RFC 7523 §3: exp (short-lived), jti, iss = sub = client_id."""
    assert_refused(push(flow, jwt_auth(JWT_RP, client_keys["PS256"], **claims)))


def test_an_alg_not_accepted_is_refused(flow, client_keys):
    """FAPI 2.0 §5.4.1: RS256 is not PS256, though the key is the same RSA key."""
    same_key = {k: v for k, v in client_keys["PS256"].as_dict(private=True).items() if k != "alg"}
    assertion = client_assertion(JWT_RP, RSAKey.import_key(same_key), alg="RS256")
    assert_refused(push(flow, {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}))


def test_a_key_the_client_never_registered_is_refused(flow, client_keys):
    """A forged assertion: signed by another key under the client's kid."""
    stranger = RSAKey.generate_key(2048, parameters={"alg": "PS256", "kid": client_keys["PS256"].kid})
    assert_refused(push(flow, jwt_auth(JWT_RP, stranger)))


def test_a_tampered_assertion_is_refused(flow, client_keys):
    """The signature no longer matches once a claim is changed."""
    header, payload, signature = jwt_auth(JWT_RP, client_keys["PS256"])["client_assertion"].split(".")
    forged = jwt_auth(JWT_RP, client_keys["ES256"])["client_assertion"].split(".")[1]
    form = jwt_auth(JWT_RP, client_keys["PS256"])
    form["client_assertion"] = ".".join([header, forged, signature])
    assert_refused(push(flow, form))


def test_the_fapi_client_cannot_use_a_secret(flow):
    """FAPI 2.0 §5.3.2.1: notes-fapi authenticates by private_key_jwt only."""
    assert_refused(flow.push(auth=("notes-fapi", "")))
    assert_refused(flow.push(auth=("notes-fapi", "notes-fapi-secret")))
    assert_refused(flow.client.post("/oauth/par", data={**flow.params(), "client_id": "notes-fapi",
                                                        "client_secret": "guess"}))


def test_a_secret_client_cannot_use_private_key_jwt(flow, client_keys):
    """notes-web registered no keys: an assertion in its name is refused."""
    assert_refused(push(flow, jwt_auth("notes-web", client_keys["PS256"])))


def test_used_jtis_are_purged_after_they_expire(app, flow, client_keys, monkeypatch):
    """The jti is kept until exp (plus leeway), then forgotten: the table does not grow."""
    assert push(flow, jwt_auth(JWT_RP, client_keys["PS256"])).status_code == 201
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(UsedClientAssertion.id))) == 1
    later = time.time() + 600
    monkeypatch.setattr(time, "time", lambda: later)
    assert push(flow, jwt_auth(JWT_RP, client_keys["PS256"])).status_code == 201
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(UsedClientAssertion.id))) == 1


class FakeResponse:
    """What client_keys.http_get returns, for a JWKS served by the client app."""

    def __init__(self, body, status=200):
        self.body, self.status_code = body, status

    def raise_for_status(self):
        """Like requests: an error for 4xx and 5xx."""
        if self.status_code >= 400:
            raise requests.HTTPError(str(self.status_code))

    def json(self):
        """The body as JSON."""
        return self.body


@pytest.fixture
def uri_app(test_config, client_keys):
    """rp-jwt registered with a jwks_uri on the client app, reached at an internal URL."""
    rp = rp_with_keys(client_keys, jwks_uri=JWKS_URI)
    del rp["jwks"]
    return create_app({**test_config, "CLIENTS": [rp], "CLIENT_APP_INTERNAL_URL": "http://client_app:3000"})


def test_keys_come_from_the_jwks_uri_by_the_internal_url_and_are_cached(uri_app, client_keys, monkeypatch):
    """Fetched over the back channel (CLIENT_APP_INTERNAL_URL), with a timeout, reused for a while."""
    fetched = []

    def get(url, timeout):
        fetched.append((url, timeout))
        return FakeResponse(public_jwks(client_keys))

    monkeypatch.setattr("auth_server.client_keys.http_get", get)
    flow = Flow(uri_app.test_client())
    assert push(flow, jwt_auth(JWT_RP, client_keys["PS256"])).status_code == 201
    assert push(flow, jwt_auth(JWT_RP, client_keys["ES256"])).status_code == 201
    assert fetched == [("http://client_app:3000/.well-known/jwks.json", Config.CLIENT_JWKS_TIMEOUT)]
    later = time.time() + Config.CLIENT_JWKS_CACHE_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert push(flow, jwt_auth(JWT_RP, client_keys["PS256"])).status_code == 201
    assert len(fetched) == 2  # the cache expired: fetched again


@pytest.mark.parametrize("answer", [FakeResponse({}, 500), FakeResponse({"no": "keys"}), FakeResponse("nonsense")])
def test_a_jwks_uri_that_fails_is_invalid_client_not_a_500(uri_app, client_keys, monkeypatch, answer):
    """A client whose keys cannot be had cannot authenticate."""
    monkeypatch.setattr("auth_server.client_keys.http_get", lambda url, timeout: answer)
    assert_refused(push(Flow(uri_app.test_client()), jwt_auth(JWT_RP, client_keys["PS256"])))


def test_an_unreachable_jwks_uri_is_invalid_client(uri_app, client_keys, monkeypatch):
    """A connection error or timeout is the client's problem, told as invalid_client."""

    def get(url, timeout):
        raise requests.ConnectionError("refused")

    monkeypatch.setattr("auth_server.client_keys.http_get", get)
    assert_refused(push(Flow(uri_app.test_client()), jwt_auth(JWT_RP, client_keys["PS256"])))


def test_a_new_jwks_uri_is_fetched_at_once(uri_app, test_config, client_keys, monkeypatch):
    """The cache is per jwks_uri: a client re-registered with another URL is not served the old keys."""
    fetched = []
    monkeypatch.setattr("auth_server.client_keys.http_get",
                        lambda url, timeout: fetched.append(url) or FakeResponse(public_jwks(client_keys)))
    assert push(Flow(uri_app.test_client()), jwt_auth(JWT_RP, client_keys["PS256"])).status_code == 201
    moved = [dict(client, jwks_uri="https://rp.example/keys") for client in uri_app.config["CLIENTS"]]
    app = create_app({**test_config, "CLIENTS": moved})  # same database: a restart with a new file
    assert push(Flow(app.test_client()), jwt_auth(JWT_RP, client_keys["PS256"])).status_code == 201
    assert fetched == ["http://client_app:3000/.well-known/jwks.json", "https://rp.example/keys"]


def test_a_jwks_uri_never_gets_this_servers_netrc_credentials(tmp_path, monkeypatch):
    """requests adds ~/.netrc credentials to a call made without auth=: the AS's own
    must not go to a URL a client registered, so the fetch reads nothing from the environment."""
    import responses
    netrc = tmp_path / "netrc"
    netrc.write_text("machine rp.example login as-operator password as-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with responses.RequestsMock() as http:
        http.add(responses.GET, "https://rp.example/keys", json={"keys": []})
        client_keys_module.http_get("https://rp.example/keys", timeout=1)
        assert http.calls[0].request.headers.get("Authorization") is None

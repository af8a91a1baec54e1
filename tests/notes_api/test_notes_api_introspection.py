"""TOKEN_CHECK=introspection: the API asks the authorization server about every token (RFC 7662)."""

import base64
import logging
import time
import uuid
from urllib.parse import parse_qs

import pytest
import requests
import responses

from notes_api import create_app
from notes_api.config import Config

from .conftest import AUDIENCE
from .conftest import ISSUER

INTERNAL = "http://auth_server:9000"


def active(**overrides):
    """An RFC 7662 §2.2 answer for an active access token, as the AS gives it; None drops a member."""
    now = int(time.time())
    body = {
        "active": True, "iss": ISSUER, "sub": "alice", "username": "alice",
        "aud": [AUDIENCE, ISSUER + "/userinfo"], "client_id": "notes-web",
        "scope": "openid profile read:notes write:notes", "iat": now, "exp": now + 600,
        "jti": uuid.uuid4().hex, "token_type": "Bearer",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


@pytest.fixture
def introspection(http_mock, auth_server):
    """The AS's introspection endpoint, mocked; `answer(...)` sets what it says next."""

    class Endpoint:
        url = auth_server.introspection_url

        def answer(self, **kwargs):
            """Serve this response at the introspection endpoint."""
            http_mock.upsert(responses.POST, self.url, **kwargs)

        @property
        def calls(self):
            """The requests the API made to the endpoint."""
            return [call for call in http_mock.calls if call.request.url == self.url]

    endpoint = Endpoint()
    endpoint.answer(json=active())
    return endpoint


@pytest.fixture
def introspecting_api(make_app):
    """A test client for the API with TOKEN_CHECK=introspection."""
    return make_app(TOKEN_CHECK="introspection").test_client()


def bearer(token):
    """The Authorization header for a token."""
    return {"Authorization": "Bearer " + token}


def test_jwt_is_the_default_and_never_introspects(api, introspection, make_token):
    """Default TOKEN_CHECK=jwt: the signature decides, with no call to the AS per request."""
    assert Config.TOKEN_CHECK == "jwt"
    assert api.list_notes(make_token()).status_code == 200
    assert introspection.calls == []


def test_an_active_token_reads_the_notes(introspecting_api, introspection, auth_server, make_token):
    """The API posts the token with its own client credentials and serves the notes."""
    token = make_token()
    response = introspecting_api.get("/api/notes", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["notes"][0]["text"] == "Buy oat milk and coffee beans."
    [call] = introspection.calls
    assert parse_qs(call.request.body) == {"token": [token], "token_type_hint": ["access_token"]}
    expected = base64.b64encode(b"notes-api:notes-api-secret").decode()
    assert call.request.headers["Authorization"] == "Basic " + expected
    # Discovery gave the endpoint; the JWKS was never needed.
    assert auth_server.calls_to(auth_server.discovery_url) == 1
    assert auth_server.jwks_calls == 0


def test_a_revoked_token_is_refused_at_once_only_with_introspection(
        make_app, introspecting_api, introspection, make_token, assert_bearer_error):
    """The point of the setting: a revoked JWT, still unexpired, passes the JWT check but not this one."""
    token = make_token()
    introspection.answer(json={"active": False})
    assert make_app().test_client().get("/api/notes", headers=bearer(token)).status_code == 200
    response = introspecting_api.get("/api/notes", headers=bearer(token))
    assert_bearer_error(response, 401, "invalid_token")
    assert "not active" in response.json["error_description"]


def test_every_request_asks_again(introspecting_api, introspection, auth_server, make_token):
    """No cache of answers, so a revocation counts from the next request on; discovery once."""
    token = make_token()
    assert introspecting_api.get("/api/notes", headers=bearer(token)).status_code == 200
    introspection.answer(json={"active": False})
    assert introspecting_api.get("/api/notes", headers=bearer(token)).status_code == 401
    assert len(introspection.calls) == 2
    assert auth_server.calls_to(auth_server.discovery_url) == 1


@pytest.mark.parametrize("overrides, reason", [
    ({"iss": "http://evil.example"}, "another issuer"),
    ({"aud": ["urn:other-api"]}, "another audience"),
    ({"aud": "urn:other-api"}, "another audience, as a string"),
    ({"aud": None}, "no audience"),
    ({"sub": None}, "no subject"),
    ({"exp": int(time.time()) - 120}, "expired"),
    ({"active": "true"}, "active not a boolean"),
])
def test_the_answers_claims_are_checked_as_a_jwts_are(
        introspecting_api, introspection, make_token, assert_bearer_error, overrides, reason):
    """RFC 7662 §4 leaves the audience and the rest to the resource server: the same rules as for a JWT."""
    introspection.answer(json=active(**overrides))
    response = introspecting_api.get("/api/notes", headers=bearer(make_token()))
    assert_bearer_error(response, 401, "invalid_token")


def test_the_answers_scope_decides(introspecting_api, introspection, make_token, assert_bearer_error):
    """RFC 6750 §3.1: the scope comes from the answer, not from the token."""
    introspection.answer(json=active(scope="openid read:notes"))
    response = introspecting_api.post("/api/notes", headers=bearer(make_token()), json={"text": "hi"})
    assert_bearer_error(response, 403, "insufficient_scope", scope="write:notes")


def test_an_opaque_token_is_fine_when_the_as_vouches_for_it(introspecting_api, introspection):
    """With introspection the token needs not be a JWT: the AS alone says what it is."""
    response = introspecting_api.get("/api/notes", headers=bearer("opaque-token-123"))
    assert response.status_code == 200


@pytest.mark.parametrize("breakage", [
    "connection refused", "server error", "our credentials refused", "not json", "a json list",
    "discovery without introspection_endpoint",
])
def test_auth_server_unreachable_is_503(http_mock, auth_server, introspecting_api, introspection, make_token,
                                        breakage):
    """No answer means no verdict: 503 temporarily_unavailable, never a 500 or a 401."""
    if breakage == "connection refused":
        introspection.answer(body=requests.ConnectionError("refused"))
    elif breakage == "server error":
        introspection.answer(status=500, body="oops")
    elif breakage == "our credentials refused":
        introspection.answer(status=401, json={"error": "invalid_client"})
    elif breakage == "not json":
        introspection.answer(body="<html>hello</html>")
    elif breakage == "a json list":
        introspection.answer(json=[{"active": True}])
    else:
        http_mock.upsert(responses.GET, auth_server.discovery_url, json={"issuer": ISSUER, "jwks_uri": auth_server.jwks_url})
    response = introspecting_api.get("/api/notes", headers=bearer(make_token()))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["error"] == "temporarily_unavailable"


def test_introspection_uses_the_back_channel(make_auth_server, make_app, introspection, make_token):
    """Discovery lists the public URL; the API posts to the internal one (as for the JWKS)."""
    internal = make_auth_server(INTERNAL)
    internal.mock.post(internal.introspection_url, json=active())
    client = make_app(TOKEN_CHECK="introspection", AUTH_SERVER_INTERNAL_URL=INTERNAL).test_client()
    assert client.get("/api/notes", headers=bearer(make_token())).status_code == 200
    assert internal.calls_to(internal.introspection_url) == 1
    assert introspection.calls == []


def test_credentials_are_form_encoded_for_basic(make_app, introspection, make_token):
    """RFC 6749 §2.3.1: the id and secret are form-urlencoded before HTTP Basic."""
    client = make_app(TOKEN_CHECK="introspection", INTROSPECTION_CLIENT_SECRET="a b:c").test_client()
    assert client.get("/api/notes", headers=bearer(make_token())).status_code == 200
    expected = base64.b64encode(b"notes-api:a+b%3Ac").decode()
    assert introspection.calls[0].request.headers["Authorization"] == "Basic " + expected


def test_an_unknown_token_check_fails_at_start(tmp_path):
    """A typo in TOKEN_CHECK stops the API from starting rather than weakening it."""
    with pytest.raises(ValueError, match="TOKEN_CHECK"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite", "TOKEN_CHECK": "signature"})


def test_logs_never_hold_the_token_or_the_secret(introspecting_api, introspection, make_token, caplog):
    """Introspection logs its steps, never the token nor the API's secret."""
    caplog.set_level(logging.DEBUG)
    token = make_token()
    assert introspecting_api.get("/api/notes", headers=bearer(token)).status_code == 200
    introspection.answer(json={"active": False})
    assert introspecting_api.get("/api/notes", headers=bearer(token)).status_code == 401
    messages = [record.getMessage() for record in caplog.records]
    assert any("introspect" in message for message in messages)
    assert all(token not in message and "notes-api-secret" not in message for message in messages)

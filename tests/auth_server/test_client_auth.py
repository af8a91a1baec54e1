"""RFC 6749 §2.3.1: client_secret_basic, with the id and secret form-urlencoded first.

A secret may hold any VSCHAR (Appendix A.2), space included, and form encoding
(Appendix B) sends a space as "+", as openid-client does (tests/interop).
"""

import base64
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import quote_plus
from urllib.parse import urlparse

import pytest

from auth_server import create_app
from auth_server.config import Config

from .conftest import CALLBACK
from .conftest import Flow

# Every character that form encoding treats specially, and a space.
SECRET = "a secret+with/every:special%char&x=y"


@pytest.fixture
def flow(test_config):
    """A server whose notes-web client has SECRET as its secret."""
    clients = [dict(Config.CLIENTS[0], client_secret=SECRET), Config.CLIENTS[1]]
    app = create_app({**test_config, "CLIENTS": clients})
    return Flow(app.test_client())


def basic(client_id, secret, encode):
    """An Authorization header: id and secret encoded, joined by ':', then base64."""
    credentials = f"{encode(client_id, safe='')}:{encode(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


# quote_plus is the form encoding (space as "+"), as openid-client and oauth4webapi
# send it; quote gives "%20", which form decoding accepts too (our client_app's way).
@pytest.mark.parametrize("encode", [quote_plus, quote])
def test_push_accepts_a_form_urlencoded_secret(flow, encode):
    """The PAR endpoint decodes the Basic credentials as form data."""
    response = flow.client.post("/oauth/par", headers=basic("notes-web", SECRET, encode), data=flow.params())
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("encode", [quote_plus, quote])
def test_token_endpoint_accepts_a_form_urlencoded_secret(flow, encode):
    """The token endpoint decodes them the same way."""
    pushed = flow.client.post("/oauth/par", headers=basic("notes-web", SECRET, encode), data=flow.params())
    consent_url = flow.login(flow.authorize(pushed.json["request_uri"]).location).location
    code = parse_qs(urlparse(flow.consent(consent_url).location).query)["code"][0]
    response = flow.client.post("/oauth/token", headers=basic("notes-web", SECRET, encode), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "code_verifier": flow.verifier})
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Bearer"


@pytest.mark.parametrize("header", [
    basic("notes-web", SECRET.replace(" ", "_"), quote_plus),   # a different secret
    {"Authorization": "Basic bm90LWJhc2U2NA=!"},                 # not base64
    {"Authorization": "Basic " + base64.b64encode(b"notes-web").decode()},  # no ':'
])
def test_push_with_bad_basic_credentials_is_401(flow, header):
    """Anything else is still 401 invalid_client (RFC 6749 §5.2)."""
    response = flow.client.post("/oauth/par", headers=header, data=flow.params())
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize("secret", ["é", "notes-web-secrét", "\u2603"])
def test_non_ascii_secret_is_invalid_client_not_a_crash(client, secret):
    """A non-ASCII secret is simply wrong: 401 invalid_client, never a crash."""
    response = client.post("/oauth/par", data={"client_id": "notes-web", "client_secret": secret,
                                                "response_type": "code"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"

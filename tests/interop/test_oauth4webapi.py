"""Our auth_server against panva's oauth4webapi, step by step (oauth4webapi_rp.js).

openid-client is built on oauth4webapi; this run adds what it does not check:
RFC 8414 discovery, the PAR response on its own, and the access token validated
the way a resource server would (RFC 9068), next to an ID token that must fail it.
"""

import pytest

from .conftest import NOTES_API
from .conftest import RelyingParty


@pytest.fixture
def oauth4webapi(node, auth_server):
    """oauth4webapi as notes-web, pointed at our auth_server by its issuer URL alone."""
    return RelyingParty(node, "oauth4webapi_rp.js", auth_server.url)


@pytest.fixture
def result(oauth4webapi, alice):
    """One whole flow through oauth4webapi: what every check returned."""
    session = oauth4webapi.authorize()
    # RFC 9126 §2.2: the push's own answer, as oauth4webapi read it.
    assert session["expires_in"] == 30
    ok, result = oauth4webapi.callback(session, alice.answer(session["authorization_url"]))
    assert ok, result
    return {**result, "nonce": session["nonce"]}


def test_rfc8414_discovery_par_code_and_id_token_pass(result, auth_server):
    """Metadata, push, redirect (iss, state), code exchange and ID token all pass."""
    assert result["token"]["has_id_token"] is True
    assert result["token"]["has_refresh_token"] is True
    claims = result["id_token_claims"]
    assert (claims["iss"], claims["sub"], claims["aud"], claims["azp"]) == (
        auth_server.url, "alice", ["notes-web"], "notes-web")
    assert claims["nonce"] == result["nonce"]


def test_access_token_passes_rfc9068_validation(result, auth_server):
    """typ at+jwt, RS256, iss, exp, aud (our API), sub, client_id, iat, jti: all as RFC 9068 says."""
    claims = result["access_token_claims"]
    assert claims["iss"] == auth_server.url
    assert NOTES_API in claims["aud"]
    assert (claims["sub"], claims["client_id"]) == ("alice", "notes-web")
    assert "read:notes" in claims["scope"].split()
    assert claims["exp"] - claims["iat"] == 86400
    assert isinstance(claims["jti"], str)


def test_id_token_is_not_an_access_token(result):
    """RFC 8725 §3.11: the ID token is typed differently, so it fails as an access token."""
    error = result["id_token_as_access_token"]
    assert error["code"] == "OAUTH_INVALID_RESPONSE"
    assert error["message"] == 'unexpected JWT "typ" header parameter value'


def test_userinfo_and_refresh_pass(result):
    """UserInfo's sub matches the ID token's; the refresh grant rotates the refresh token."""
    assert result["userinfo"]["sub"] == "alice"
    assert result["userinfo"]["email"] == "alice@example.com"
    assert result["refreshed"]["has_access_token"] is True
    assert result["refreshed"]["refresh_token_rotated"] is True

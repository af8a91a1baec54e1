"""The token endpoint, POST /oauth/token: steps 8 to 10, and refresh."""

import time

import pytest
from joserfc import jwt

from .conftest import WEB


def test_token_response_has_the_seeds_shape(flow):
    """Step 10: access_token, refresh_token, id_token, Bearer, expires_in 86400, scope."""
    response = flow.exchange(flow.code()["code"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"access_token", "refresh_token", "id_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "openid profile email read:notes write:notes offline_access"


def test_access_token_is_an_rfc9068_jwt(flow, jwks, signing_key):
    """RFC 9068 §2: typ at+jwt, RS256 with the RS256 key's kid, and the required claims."""
    token = jwt.decode(flow.tokens()["access_token"], jwks)
    assert token.header["typ"] == "at+jwt"
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == signing_key.kid
    claims = token.claims
    assert claims["iss"] == "http://localhost:9000"
    assert claims["sub"] == "alice"
    assert claims["aud"] == ["urn:my-notes-api", "http://localhost:9000/userinfo"]
    assert claims["client_id"] == "notes-web"
    assert claims["scope"] == "openid profile email read:notes write:notes offline_access"
    assert claims["exp"] - claims["iat"] == 86400
    assert claims["jti"]
    assert claims["auth_time"] <= claims["iat"]


def test_resource_indicator_sets_the_audience(flow, jwks):
    """RFC 8707: `resource` works like Auth0's `audience`; no openid, no userinfo audience."""
    tokens = flow.tokens(audience=None, resource="urn:my-notes-api", scope="read:notes", nonce=None)
    claims = jwt.decode(tokens["access_token"], jwks).claims
    assert claims["aud"] == ["urn:my-notes-api"]
    assert "id_token" not in tokens


def test_id_token_follows_oidc_core(flow, jwks):
    """OIDC Core §2: iss, aud, azp, nonce echoed, auth_time, and profile claims."""
    claims = jwt.decode(flow.tokens()["id_token"], jwks).claims
    assert claims["iss"] == "http://localhost:9000"
    assert claims["aud"] == ["notes-web"]
    assert claims["azp"] == "notes-web"
    assert claims["nonce"] == flow.nonce
    assert claims["sub"] == "alice"
    assert claims["name"] == "Alice Liddell"
    assert claims["email"] == "alice@example.com"
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]


def test_client_secret_post_is_accepted_for_the_web_client(flow):
    """notes-web may authenticate with client_secret_post as well as Basic."""
    code = flow.code()["code"]
    response = flow.exchange(code, auth=None, client_id="notes-web", client_secret="notes-web-secret")
    assert response.status_code == 200


@pytest.mark.parametrize("overrides, status, error", [
    ({"code_verifier": "x" * 43}, 400, "invalid_grant"),               # RFC 7636 §4.6
    ({"code_verifier": None}, 400, "invalid_request"),
    ({"redirect_uri": "http://localhost:3000/other"}, 400, "invalid_grant"),  # RFC 6749 §4.1.3
    ({"redirect_uri": None}, 400, "invalid_grant"),
    ({"auth": ("notes-web", "wrong")}, 401, "invalid_client"),
    ({"auth": None}, 401, "invalid_client"),
    ({"auth": None, "client_id": "seed-cli", "client_secret": "seed-cli-secret"}, 400, "invalid_grant"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ({"code": "not-a-code"}, 400, "invalid_grant"),
])
def test_bad_token_requests_are_refused(flow, overrides, status, error):
    """Each binding of the code is checked: PKCE, redirect_uri, client, grant type."""
    code = flow.code()["code"]
    auth = overrides.pop("auth", WEB)
    overrides.setdefault("code", code)
    response = flow.exchange(auth=auth, **overrides)
    assert response.status_code == status
    assert response.json["error"] == error
    assert "access_token" not in response.json


def test_code_expires_after_60_seconds(flow, monkeypatch):
    """RFC 9700 §4.2.1: codes are short-lived."""
    code = flow.code()["code"]
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    response = flow.exchange(code)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_code_replay_is_refused_and_revokes_what_it_issued(flow):
    """RFC 6749 §4.1.2: a second use fails and revokes the tokens the first one got."""
    code = flow.code()["code"]
    tokens = flow.exchange(code).json
    replay = flow.exchange(code)
    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_grant"
    assert flow.refresh(tokens["refresh_token"]).json["error"] == "invalid_grant"
    userinfo = flow.client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert userinfo.status_code == 401


def test_refresh_rotates_the_refresh_token(flow, jwks):
    """RFC 9700 §4.14.2: every refresh returns a new refresh token; same audience and scope."""
    tokens = flow.tokens()
    response = flow.refresh(tokens["refresh_token"])
    assert response.status_code == 200
    refreshed = response.json
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    claims = jwt.decode(refreshed["access_token"], jwks).claims
    assert "urn:my-notes-api" in claims["aud"]
    assert claims["scope"] == tokens["scope"]
    assert flow.refresh(refreshed["refresh_token"]).status_code == 200


def test_refresh_token_reuse_revokes_the_family(flow):
    """RFC 9700 §4.14.2: a rotated-out refresh token coming back kills the whole family."""
    tokens = flow.tokens()
    newer = flow.refresh(tokens["refresh_token"]).json
    reuse = flow.refresh(tokens["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json["error"] == "invalid_grant"
    assert flow.refresh(newer["refresh_token"]).json["error"] == "invalid_grant"


def test_refresh_token_is_bound_to_its_client(flow):
    """RFC 6749 §6: another client cannot use this client's refresh token, nor use it up."""
    tokens = flow.tokens()
    response = flow.client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "seed-cli", "client_secret": "seed-cli-secret"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    # The refusal changed nothing: the rightful client's refresh still works.
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


def test_refresh_cannot_widen_the_scope(flow):
    """RFC 6749 §6: a refresh may narrow the scope, never widen it; asking does not use it up."""
    tokens = flow.tokens(scope="openid read:notes offline_access")
    response = flow.client.post("/oauth/token", auth=WEB, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "write:notes"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_scope"
    # The refusal changed nothing: the same refresh token, within its scope, still works.
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


def test_refresh_token_reuse_by_its_client_after_a_refused_attempt_still_revokes(flow):
    """RFC 9700 §4.14.2: refused attempts leave reuse detection intact for the rightful client."""
    tokens = flow.tokens()
    flow.client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "seed-cli", "client_secret": "seed-cli-secret"})
    newer = flow.refresh(tokens["refresh_token"]).json
    assert flow.refresh(tokens["refresh_token"]).json["error"] == "invalid_grant"
    assert flow.refresh(newer["refresh_token"]).json["error"] == "invalid_grant"


@pytest.mark.parametrize("header", ["Basic ", "Basic //79", "Basic" + " " * 3, "Basic Og=="])
def test_malformed_basic_credentials_are_invalid_client(client, header):
    """Broken HTTP Basic credentials are a 401 invalid_client, never a crash."""
    response = client.post("/oauth/token", headers={"Authorization": header},
                           data={"grant_type": "authorization_code", "code": "x"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"

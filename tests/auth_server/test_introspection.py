"""RFC 7662: POST /oauth/introspect, for the notes API (a resource server) and a token's own client."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from auth_server.config import Config

from .conftest import WEB

API = ("notes-api", "notes-api-secret")
SEED = ("seed-cli", "seed-cli-secret")


def introspect(flow, token, auth=API, **form):
    """POST /oauth/introspect for this token."""
    return flow.client.post("/oauth/introspect", auth=auth, data={"token": token, **form})


def test_metadata_advertises_the_introspection_endpoint(client):
    """RFC 8414 §2: introspection_endpoint and the client authentication it takes."""
    metadata = client.get("/.well-known/openid-configuration").json
    assert metadata["introspection_endpoint"] == metadata["issuer"] + "/oauth/introspect"
    assert metadata["introspection_endpoint_auth_methods_supported"] == Config.CLIENT_AUTH_METHODS
    assert "private_key_jwt" in metadata["introspection_endpoint_auth_methods_supported"]


def test_the_notes_api_sees_an_active_access_token(flow, jwks):
    """§2.2: active, with the claims the JWT carries (the API checks aud, iss, scope from them)."""
    tokens = flow.tokens()
    claims = jwt.decode(tokens["access_token"], jwks).claims
    response = introspect(flow, tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["username"] == "alice"
    for claim in ("iss", "sub", "aud", "client_id", "scope", "exp", "iat", "jti"):
        assert body[claim] == claims[claim], claim


def test_a_revoked_token_is_inactive(flow):
    """§2.2: revoked means {"active": false}, and nothing else."""
    tokens = flow.tokens()
    assert flow.client.post("/oauth/revoke", auth=WEB, data={"token": tokens["refresh_token"]}).status_code == 200
    assert introspect(flow, tokens["access_token"]).json == {"active": False}


def test_a_replayed_codes_family_is_inactive_at_once(flow):
    """RFC 6749 §4.1.2: the replay revokes the family; introspection says so right away."""
    code = flow.code()["code"]
    tokens = flow.exchange(code).json
    assert introspect(flow, tokens["access_token"]).json["active"] is True
    assert flow.exchange(code).status_code == 400
    assert introspect(flow, tokens["access_token"]).json == {"active": False}


def test_an_expired_token_is_inactive(app, flow, monkeypatch):
    """§2.2: past its exp, a token is not active."""
    token = flow.tokens()["access_token"]
    later = time.time() + app.config["ACCESS_TOKEN_EXPIRES_IN"] + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert introspect(flow, token).json == {"active": False}


def test_the_tokens_own_client_may_introspect_both_its_tokens(flow):
    """§2.1: the client the tokens were issued to may ask about them, refresh token included."""
    tokens = flow.tokens()
    assert introspect(flow, tokens["access_token"], auth=WEB).json["active"] is True
    refresh = introspect(flow, tokens["refresh_token"], auth=WEB).json
    assert refresh["active"] is True
    assert refresh["client_id"] == "notes-web"
    assert "token_type" not in refresh  # not an access token type (RFC 6749 §7.1)


def test_a_rotated_refresh_token_is_inactive(flow):
    """RFC 9700 §4.14.2: once rotated, the old refresh token is done."""
    tokens = flow.tokens()
    newer = flow.refresh(tokens["refresh_token"]).json
    assert introspect(flow, tokens["refresh_token"], auth=WEB).json == {"active": False}
    assert introspect(flow, newer["refresh_token"], auth=WEB).json["active"] is True


def test_another_client_learns_nothing(flow):
    """§4: a client that is neither the token's nor a resource server is told only "not active"."""
    tokens = flow.tokens()
    response = flow.client.post("/oauth/introspect", data={
        "token": tokens["access_token"], "client_id": SEED[0], "client_secret": SEED[1]})
    assert response.status_code == 200
    assert response.json == {"active": False}


def test_a_resource_server_is_never_told_a_refresh_token_is_active(flow):
    """RFC 6749 §1.5: refresh tokens are never for resource servers, so one never passes there."""
    tokens = flow.tokens()
    assert introspect(flow, tokens["refresh_token"]).json == {"active": False}


@pytest.mark.parametrize("forge", ["garbage", "another key", "an id token"])
def test_tokens_not_ours_are_inactive(flow, forge):
    """Only access tokens this server signed and recorded can be active."""
    tokens = flow.tokens()
    if forge == "garbage":
        token = "not-a-token"
    elif forge == "an id token":
        token = tokens["id_token"]
    else:
        key = RSAKey.generate_key(2048)
        claims = jwt.decode(tokens["access_token"], _any_key(flow)).claims
        token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "forged"}, claims, key)
    assert introspect(flow, token).json == {"active": False}


def _any_key(flow):
    """The server's public keys, to read a real token's claims."""
    from joserfc.jwk import KeySet
    return KeySet.import_key_set(flow.client.get("/.well-known/jwks.json").json)


@pytest.mark.parametrize("auth", [None, ("notes-api", "wrong")])
def test_introspection_needs_client_authentication(flow, auth):
    """§2.1: the endpoint requires authorization; a failure is 401 invalid_client."""
    response = introspect(flow, flow.tokens()["access_token"], auth=auth)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_the_notes_api_client_may_only_introspect(flow):
    """notes-api has no grant types and no redirect URIs: it can neither push nor get tokens."""
    pushed = flow.push(auth=API)
    assert pushed.status_code == 400
    assert "request_uri" not in pushed.json
    for grant in ({"grant_type": "refresh_token", "refresh_token": flow.tokens()["refresh_token"]},
                  {"grant_type": "authorization_code", "code": "x", "redirect_uri": "x"}):
        response = flow.client.post("/oauth/token", auth=API, data=grant)
        assert response.status_code == 400
        assert response.json["error"] == "unauthorized_client"

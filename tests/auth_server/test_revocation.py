"""RFC 7009: POST /oauth/revoke, client-authenticated; revoking a token revokes its family."""

import pytest

from auth_server.config import Config

from .conftest import WEB

SEED_POST = {"client_id": "seed-cli", "client_secret": "seed-cli-secret"}


def revoke(flow, token, auth=WEB, **form):
    """POST /oauth/revoke for this token."""
    return flow.client.post("/oauth/revoke", auth=auth, data={"token": token, **form})


def userinfo_status(flow, access_token):
    """What /userinfo says to this access token."""
    return flow.client.get("/userinfo", headers={"Authorization": "Bearer " + access_token}).status_code


def test_metadata_advertises_the_revocation_endpoint(client):
    """RFC 8414 §2: revocation_endpoint and the client authentication it takes."""
    metadata = client.get("/.well-known/openid-configuration").json
    assert metadata["revocation_endpoint"] == metadata["issuer"] + "/oauth/revoke"
    assert metadata["revocation_endpoint_auth_methods_supported"] == Config.CLIENT_AUTH_METHODS
    assert "private_key_jwt" in metadata["revocation_endpoint_auth_methods_supported"]


@pytest.mark.parametrize("which, hint", [
    ("refresh_token", "refresh_token"),
    ("refresh_token", None),
    ("access_token", "access_token"),
    ("access_token", "refresh_token"),  # §2.1: a wrong hint only widens the search
])
def test_revoking_a_token_revokes_its_family(flow, which, hint):
    """§2.1: the refresh token, and the access tokens of the same grant, stop working."""
    tokens = flow.tokens()
    refreshed = flow.refresh(tokens["refresh_token"]).json
    response = revoke(flow, tokens[which] if which == "access_token" else refreshed[which],
                      **({"token_type_hint": hint} if hint else {}))
    assert response.status_code == 200
    assert response.json == {}
    assert response.headers["Cache-Control"] == "no-store"
    assert flow.refresh(refreshed["refresh_token"]).json["error"] == "invalid_grant"
    assert userinfo_status(flow, tokens["access_token"]) == 401
    assert userinfo_status(flow, refreshed["access_token"]) == 401


@pytest.mark.parametrize("token", ["not-a-token", "eyJhbGciOiJub25lIn0.e30.", "é" * 10])
def test_an_unknown_token_is_200_and_changes_nothing(flow, token):
    """§2.2: an invalid token is no error (the client's goal, the token being unusable, holds)."""
    tokens = flow.tokens()
    response = revoke(flow, token)
    assert response.status_code == 200
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


def test_revoking_twice_is_200(flow):
    """§2.2: a token already revoked is revoked; the second call is 200 too."""
    refresh_token = flow.tokens()["refresh_token"]
    assert revoke(flow, refresh_token).status_code == 200
    assert revoke(flow, refresh_token).status_code == 200


def test_another_client_cannot_revoke_the_token(flow):
    """§2.1: the token must have been issued to the client asking; the victim's token stays usable."""
    tokens = flow.tokens()
    response = flow.client.post("/oauth/revoke", data={"token": tokens["refresh_token"], **SEED_POST})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert userinfo_status(flow, tokens["access_token"]) == 200
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


def test_client_secret_post_is_accepted(flow):
    """The endpoint authenticates clients as the token endpoint does."""
    tokens = flow.tokens()
    response = flow.client.post("/oauth/revoke", data={
        "token": tokens["refresh_token"], "client_id": "notes-web", "client_secret": "notes-web-secret"})
    assert response.status_code == 200
    assert flow.refresh(tokens["refresh_token"]).json["error"] == "invalid_grant"


@pytest.mark.parametrize("auth", [None, ("notes-web", "wrong"), ("nobody", "x")])
def test_revocation_needs_client_authentication(flow, auth):
    """§2.1: client authentication first; a failure is 401 invalid_client and revokes nothing."""
    tokens = flow.tokens()
    response = revoke(flow, tokens["refresh_token"], auth=auth)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert flow.refresh(tokens["refresh_token"]).status_code == 200


@pytest.mark.parametrize("form, status, error", [
    ({}, 400, "invalid_request"),
    # §2.2.1; Authlib raises it as a ForbiddenError, hence 401 rather than RFC 6749 §5.2's 400.
    ({"token": "x", "token_type_hint": "id_token"}, 401, "unsupported_token_type"),
])
def test_bad_revocation_requests(client, form, status, error):
    """A missing token, or a hint the server does not know, is an OAuth error."""
    response = client.post("/oauth/revoke", auth=WEB, data=form)
    assert response.status_code == status
    assert response.json["error"] == error


def test_get_is_405_as_json(client):
    """§2.1: POST only."""
    response = client.get("/oauth/revoke")
    assert response.status_code == 405
    assert response.json["error"] == "invalid_request"

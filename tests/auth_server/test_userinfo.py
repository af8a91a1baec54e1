"""OIDC Core §5.3: GET /userinfo with our access token."""

import pytest


def test_userinfo_returns_the_users_claims(flow):
    """The access token (audience includes /userinfo when openid is granted) works here."""
    token = flow.tokens()["access_token"]
    response = flow.client.get("/userinfo", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 200
    assert response.json == {"sub": "alice", "name": "Alice Liddell", "preferred_username": "alice",
                             "email": "alice@example.com", "email_verified": True}


@pytest.mark.parametrize("header", [None, "Bearer not-a-jwt", "Basic YWxpY2U6YWxpY2U="])
def test_userinfo_without_a_valid_token_is_401(client, header):
    """RFC 6750 §3.1: 401 with a WWW-Authenticate Bearer challenge."""
    headers = {"Authorization": header} if header else {}
    response = client.get("/userinfo", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    if header == "Bearer not-a-jwt":
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    else:
        assert "error=" not in response.headers["WWW-Authenticate"]  # RFC 6750 §3.1


def test_token_without_openid_is_not_for_userinfo(flow):
    """Without openid the token's audience is the notes API only."""
    token = flow.tokens(scope="read:notes", nonce=None)["access_token"]
    response = flow.client.get("/userinfo", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"


@pytest.mark.parametrize("where", ["query", "form"])
def test_token_outside_the_header_is_refused(flow, where):
    """RFC 9700 §4.3.2 / RFC 6750 §2: tokens never travel in URLs (nor form bodies here)."""
    token = flow.tokens()["access_token"]
    if where == "query":
        response = flow.client.get("/userinfo", query_string={"access_token": token})
    else:
        response = flow.client.post("/userinfo", data={"access_token": token})
    assert response.status_code == 401
    assert "error=" not in response.headers["WWW-Authenticate"]

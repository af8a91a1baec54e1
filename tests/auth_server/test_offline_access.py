"""OIDC Core §11: a refresh token is consent to offline access, and the consent page says so."""

import pytest

from .conftest import csrf_token

SEED = {"client_id": "seed-cli", "client_secret": "seed-cli-secret"}
KEEPS_ACCESS = "Keep access while you are away"


def seed_consent_url(flow, scope):
    """The seed's walkthrough up to the consent page: client_secret_post, no PKCE, https://jwt.io."""
    pushed = flow.client.post("/oauth/par", data={
        **SEED, "redirect_uri": "https://jwt.io", "audience": "urn:my-notes-api",
        "scope": scope, "response_type": "code"})
    assert pushed.status_code == 201, pushed.json
    login_url = flow.authorize(pushed.json["request_uri"], client_id="seed-cli").location
    return flow.login(login_url).location


def seed_tokens(flow, scope):
    """The seed's whole walkthrough: the token response (step 10)."""
    consent_url = seed_consent_url(flow, scope)
    page = flow.client.get(consent_url)
    allowed = flow.client.post(consent_url, data={"csrf_token": csrf_token(page.text), "allow": "Allow"})
    code = allowed.location.split("code=")[1].split("&")[0]
    response = flow.client.post("/oauth/token", data={
        **SEED, "grant_type": "authorization_code", "code": code, "redirect_uri": "https://jwt.io"})
    assert response.status_code == 200, response.json
    return response.json


def web_consent_page(flow, scope):
    """notes-web's consent page for a push with this scope."""
    login_url = flow.authorize(flow.request_uri(scope=scope)).location
    return flow.client.get(flow.login(login_url).location)


def test_web_client_gets_no_refresh_token_without_offline_access(flow):
    """OIDC Core §11: notes-web asks for offline_access to get a refresh token; without it, none."""
    tokens = flow.tokens(scope="openid profile read:notes")
    assert "refresh_token" not in tokens
    assert tokens["scope"] == "openid profile read:notes"
    assert "access_token" in tokens


def test_web_client_gets_a_refresh_token_with_offline_access(flow):
    """OIDC Core §11: with offline_access granted, notes-web gets a refresh token."""
    tokens = flow.tokens(scope="openid read:notes offline_access")
    assert tokens["refresh_token"]
    assert tokens["scope"] == "openid read:notes offline_access"


def test_seed_client_keeps_the_seeds_response_shape(flow):
    """seed-cli is registered to get a refresh token without offline_access, as the seed shows."""
    tokens = seed_tokens(flow, "openid profile read:notes")
    assert {"access_token", "refresh_token", "id_token", "token_type", "expires_in", "scope"} <= set(tokens)
    assert tokens["scope"] == "openid profile read:notes"


def test_refresh_without_offline_access_in_the_new_scope_issues_no_new_refresh_token(flow):
    """OIDC Core §11 on the refresh grant too: a narrowed scope without offline_access gets none."""
    tokens = flow.tokens(scope="openid read:notes offline_access")
    response = flow.client.post("/oauth/token", auth=("notes-web", "notes-web-secret"), data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "read:notes"})
    assert response.status_code == 200
    assert "refresh_token" not in response.json
    assert response.json["scope"] == "read:notes"


@pytest.mark.parametrize("scope, shown", [
    ("openid read:notes offline_access", True),
    ("openid read:notes", False),
])
def test_web_consent_page_says_when_access_outlasts_the_visit(flow, scope, shown):
    """The consent page warns of offline access exactly when a refresh token will be issued."""
    page = web_consent_page(flow, scope)
    assert page.status_code == 200
    assert (KEEPS_ACCESS in page.text) is shown
    assert "Read your notes" in page.text


def test_seed_consent_page_says_access_outlasts_the_visit(flow):
    """seed-cli gets a refresh token without asking offline_access: its consent page says so too."""
    page = flow.client.get(seed_consent_url(flow, "openid profile read:notes"))
    assert page.status_code == 200
    assert KEEPS_ACCESS in page.text

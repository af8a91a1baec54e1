"""Revocation reaching the API: a replayed code's tokens, against real services in both TOKEN_CHECK modes."""

from urllib.parse import urlencode

import pytest
import requests

from tests.stack import Stack
from tests.stack import authorize
from tests.stack import query
from tests.stack import run_stack

SEED = {"client_id": "seed-cli", "client_secret": "seed-cli-secret"}


@pytest.fixture(scope="module")
def introspection_stack(tmp_path_factory, request):
    """A stack of its own whose notes API checks tokens by introspection (RFC 7662)."""
    overrides = {"notes_api": {"TOKEN_CHECK": "introspection"}}
    yield from run_stack(Stack(tmp_path_factory.mktemp("introspection-stack"), overrides), request)


def seed_code(browser, stack):
    """The seed's flow up to the code: push as seed-cli, then log in and consent in the browser."""
    pushed = requests.post(stack.auth + "/oauth/par", timeout=10, data={
        **SEED, "redirect_uri": "https://jwt.io", "audience": "urn:my-notes-api",
        "scope": "openid profile read:notes", "response_type": "code"}).json()
    authorize_url = stack.auth + "/authorize?" + urlencode(
        {"client_id": "seed-cli", "request_uri": pushed["request_uri"]})
    return query(authorize(browser, authorize_url))["code"]


def exchange(stack, code):
    """Step 8: the seed's token request."""
    return requests.post(stack.auth + "/oauth/token", timeout=10, data={
        **SEED, "grant_type": "authorization_code", "code": code, "redirect_uri": "https://jwt.io"})


def notes_status(stack, access_token):
    """What the notes API says to this access token."""
    return requests.get(stack.api + "/api/notes", timeout=10,
                        headers={"Authorization": "Bearer " + access_token}).status_code


def test_with_introspection_a_replayed_codes_token_is_refused_at_once(browser, introspection_stack):
    """RFC 6749 §4.1.2 + RFC 7662: the replay revokes the family, and the API knows at once."""
    code = seed_code(browser, introspection_stack)
    access_token = exchange(introspection_stack, code).json()["access_token"]
    assert notes_status(introspection_stack, access_token) == 200
    assert exchange(introspection_stack, code).json()["error"] == "invalid_grant"
    assert notes_status(introspection_stack, access_token) == 401
    assert "introspection: the token is not active" in introspection_stack.log("notes_api")


def test_with_jwt_checks_a_replayed_codes_token_lives_until_it_expires(browser, stack):
    """The default (TOKEN_CHECK=jwt): the signature still verifies, so the API still accepts it."""
    code = seed_code(browser, stack)
    access_token = exchange(stack, code).json()["access_token"]
    assert exchange(stack, code).json()["error"] == "invalid_grant"
    assert notes_status(stack, access_token) == 200
    # The authorization server itself knows: its own /userinfo refuses the token.
    userinfo = requests.get(stack.auth + "/userinfo", timeout=10, headers={"Authorization": "Bearer " + access_token})
    assert userinfo.status_code == 401

"""Our client_app (PROFILE=fapi2) and notes_api against oidc-provider's FAPI 2.0 profile.

provider.js with PROFILE=fapi2 turns on, by configuration only, oidc-provider's
FAPI 2.0 Security Profile, DPoP, signed request objects and private_key_jwt, and
registers notes-fapi with client_app's jwks_uri. Our client must push a signed
request object with a client assertion, exchange the code with a DPoP proof, and
call notes_api with the DPoP-bound token; notes_api must check that proof.
"""

import sqlite3
from urllib.parse import urljoin

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.stack import query

from .conftest import ProviderUser
from .conftest import start_provider_stack


@pytest.fixture(scope="module")
def fapi_stack(node, tmp_path_factory, request):
    """oidc-provider under FAPI 2.0, with client_app as notes-fapi and notes_api."""
    stack = None
    try:
        for stack in start_provider_stack(node, tmp_path_factory.mktemp("fapi_provider"), profile="fapi2"):
            yield stack
    finally:
        if stack and request.session.testsfailed:
            for process in stack.processes:
                print(f"\n===== {process.name} log =====\n{process.log()}")


@pytest.fixture
def alice_at_fapi_provider(browser, fapi_stack):
    """Alice, about to log in to our FAPI 2.0 client through oidc-provider."""
    return ProviderUser(browser, fapi_stack)


def client_db(stack, sql):
    """Rows from client_app's own database (its sessions and recorded messages)."""
    with sqlite3.connect(stack.client_app.log_path.parent / "client_app.sqlite") as connection:
        return connection.execute(sql).fetchall()


def test_fapi2_flow_completes_with_dpop_bound_tokens(alice_at_fapi_provider, browser, fapi_stack):
    """Signed request object and private_key_jwt at PAR; DPoP at the token endpoint and notes_api."""
    client = fapi_stack.client_app.url
    callback_url = alice_at_fapi_provider.allow()
    params = query(callback_url)
    assert params["iss"] == fapi_stack.issuer
    landed = browser.get(callback_url)
    assert landed.status_code == 303, landed.text
    notes = browser.get(urljoin(client, landed.headers["Location"]))
    assert notes.status_code == 200, notes.text
    assert "Alice at oidc-provider" in notes.text  # claims from the provider's PS256 ID token
    assert "Buy oat milk and coffee beans." in notes.text  # alice's notes, from notes_api

    # The provider's access token: PS256, for our API, bound to the client's DPoP key (RFC 9449 §6.1).
    ((access_token,),) = client_db(fapi_stack, "SELECT access_token FROM login_session")
    provider_keys = KeySet.import_key_set(browser.get(fapi_stack.provider.url + "/jwks").json())
    token = jwt.decode(access_token, provider_keys, algorithms=["PS256"])
    assert token.header["typ"] == "at+jwt"
    assert token.claims["aud"] == "urn:my-notes-api"
    assert token.claims["client_id"] == "notes-fapi"
    assert set(token.claims["cnf"]) == {"jkt"}
    # notes_api took it with client_app's DPoP proof, and refuses it as a bearer token (RFC 9449 §7.1).
    assert "notes for sub=alice client_id=notes-fapi" in fapi_stack.notes_api.log()
    as_bearer = requests.get(fapi_stack.notes_api.url + "/api/notes", timeout=10,
                             headers={"Authorization": f"Bearer {access_token}"})
    assert as_bearer.status_code == 401
    assert as_bearer.headers["WWW-Authenticate"].startswith("DPoP")


def test_push_carries_only_a_request_object_and_an_assertion(alice_at_fapi_provider, fapi_stack):
    """RFC 9126 §3 with RFC 9101: the push holds the signed request and private_key_jwt, no secret."""
    alice_at_fapi_provider.start()
    ((body,),) = client_db(fapi_stack, "SELECT body FROM trace_message WHERE step = 2 ORDER BY id DESC LIMIT 1")
    pushed = dict(pair.split("=", 1) for pair in body.split("&"))
    assert set(pushed) == {"client_id", "request", "client_assertion_type", "client_assertion"}

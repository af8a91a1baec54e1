"""FAPI 2.0 in all three parties: the client as notes-fapi (PROFILE=fapi2) on the real stack.

private_key_jwt at PAR and token endpoint, the request signed as a request object,
DPoP from the code to the API, and a refresh with a proof.
"""

import sqlite3
from urllib.parse import parse_qsl

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.stack import TIMEOUT
from tests.stack import Stack
from tests.stack import authorize
from tests.stack import csrf_token
from tests.stack import finish
from tests.stack import query
from tests.stack import run_stack


@pytest.fixture(scope="module")
def fapi_stack(tmp_path_factory, request):
    """The stack with the client as notes-fapi; the AS fetches its keys from the running client."""
    tmp = tmp_path_factory.mktemp("fapi_stack")
    stack = Stack(tmp)
    # The stack's defaults already register the client's callback and jwks_uri at the AS.
    stack.overrides = {"client_app": {"PROFILE": "fapi2"}}
    yield from run_stack(stack, request)


def client_db(stack, sql, *args):
    """Rows from the client's own database (where its tokens and messages are kept)."""
    with sqlite3.connect(stack.tmp / "client_app.sqlite") as connection:
        return connection.execute(sql, args).fetchall()


def form_of(body):
    """A recorded form body as a dict."""
    return dict(parse_qsl(body))


def log_in_fapi(browser, stack):
    """Steps 1-12 as notes-fapi; returns the notes page."""
    home = browser.get(stack.client + "/", timeout=TIMEOUT)
    redirect = browser.post(stack.client + "/login", data={"csrf_token": csrf_token(home.text)},
                            allow_redirects=False, timeout=TIMEOUT)
    assert redirect.status_code == 303, redirect.text
    authorize_url = redirect.headers["Location"]
    assert authorize_url.startswith(stack.auth + "/authorize?")
    assert query(authorize_url)["client_id"] == "notes-fapi"
    return finish(browser, stack, authorize(browser, authorize_url))


def test_all_twelve_steps_under_fapi2(browser, fapi_stack):
    """A signed request object and assertions at PAR, DPoP at the token endpoint and the API."""
    stack = fapi_stack
    notes = log_in_fapi(browser, stack)
    assert notes.status_code == 200, notes.text
    assert "Alice Liddell" in notes.text

    ((access_token,),) = client_db(stack, "SELECT access_token FROM login_session")
    keys = KeySet.import_key_set(browser.get(stack.auth + "/.well-known/jwks.json", timeout=TIMEOUT).json())
    claims = jwt.decode(access_token, keys, algorithms=["PS256"]).claims
    assert claims["client_id"] == "notes-fapi"
    ((pushed,), (token_request,)) = client_db(
        stack, "SELECT body FROM trace_message WHERE step IN (2, 8) ORDER BY step")
    pushed, token_request = form_of(pushed), form_of(token_request)
    # Step 2: only client_id, the request object and the client assertion.
    assert set(pushed) == {"client_id", "request", "client_assertion_type", "client_assertion"}
    request_claims = jwt.decode(pushed["request"], KeySet.import_key_set(
        browser.get(stack.client + "/.well-known/jwks.json", timeout=TIMEOUT).json()), algorithms=["PS256"]).claims
    assert request_claims["iss"] == "notes-fapi"
    assert request_claims["aud"] == stack.auth
    # RFC 9449 §6.1: the access token is bound to the key whose thumbprint was pushed.
    assert claims["cnf"] == {"jkt": request_claims["dpop_jkt"]}
    assert token_request["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in token_request
    (headers,) = client_db(stack, "SELECT headers FROM trace_message WHERE step = 11")
    assert '"DPoP ' in headers[0]

    # The inspector takes the client's JWTs apart (its flow-trace call authenticates with an assertion).
    inspector = browser.get(stack.client + "/inspector", timeout=TIMEOUT)
    assert inspector.status_code == 200
    for name in ("client_assertion", "request_object", "dpop_proof", "access_token"):
        assert f'data-token="{name}">Signature check: passed' in inspector.text
    assert token_request["client_assertion"] not in inspector.text
    assert 'class="token-checks"' in inspector.text  # the AS's record, fetched with private_key_jwt

    auth_log = stack.log("auth_server")
    assert "signed request object verified client=notes-fapi" in auth_log
    assert "dpop: proof ok client=notes-fapi" in auth_log
    assert "client keys fetched client=notes-fapi" in auth_log


def test_a_refresh_carries_a_proof(browser, fapi_stack):
    """An access token about to expire is refreshed with a DPoP proof, and the API still answers."""
    stack = fapi_stack
    before = {row[0] for row in client_db(stack, "SELECT id FROM login_session")}
    log_in_fapi(browser, stack)
    # This browser's login: the one row that was not there before.
    ((login_id, first_token),) = [row for row in client_db(stack, "SELECT id, access_token FROM login_session")
                                  if row[0] not in before]
    client_db(stack, "UPDATE login_session SET expires_at = 0 WHERE id = ?", login_id)
    notes = browser.get(stack.client + "/notes", timeout=TIMEOUT)
    assert notes.status_code == 200, notes.text
    assert "Alice Liddell" in notes.text
    ((second_token,),) = client_db(stack, "SELECT access_token FROM login_session WHERE id = ?", login_id)
    assert second_token != first_token
    assert "refresh token grant" in stack.log("client_app")


def test_the_client_publishes_only_public_keys(browser, fapi_stack):
    """GET /.well-known/jwks.json: the signing key, without its private part."""
    document = browser.get(fapi_stack.client + "/.well-known/jwks.json", timeout=TIMEOUT).json()
    assert len(document["keys"]) == 1
    assert "d" not in document["keys"][0]

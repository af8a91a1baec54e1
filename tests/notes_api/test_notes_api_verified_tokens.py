"""bearer.VerifiedTokens: a token used again is not checked again, and is refused as soon
as checking it again would refuse it (expiry, a key withdrawn), whatever was remembered."""

import time

import pytest
import responses
from joserfc import jws
from joserfc.jwk import RSAKey

from notes_api import bearer

from .conftest import KID


@pytest.fixture
def signature_checks(monkeypatch):
    """A list that grows by one on every signature check the API makes."""
    checks = []
    validate = jws.validate_compact

    def counted(*args, **kwargs):
        checks.append(1)
        return validate(*args, **kwargs)

    monkeypatch.setattr(bearer.jws, "validate_compact", counted)
    return checks


def remembered(app):
    """The tokens the app's VerifiedTokens holds."""
    return app.extensions["notes_api.verified_tokens"].entries


def test_a_token_used_again_is_checked_once(app, api, make_token, signature_checks):
    token = make_token()
    for _ in range(3):
        assert api.list_notes(token).status_code == 200
    assert len(signature_checks) == 1
    assert list(remembered(app)) == [token]


def test_a_remembered_token_is_refused_once_it_expires(app, api, make_token, monkeypatch, assert_bearer_error):
    """exp plus the leeway, as the full check allows; then the full check says why."""
    token = make_token(exp=int(time.time()) + 60)
    assert api.list_notes(token).status_code == 200
    later = time.time() + 60 + app.config["CLOCK_LEEWAY_SECONDS"] + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert_bearer_error(api.list_notes(token), 401, "invalid_token")
    assert token not in remembered(app)


def test_a_withdrawn_key_stops_its_remembered_tokens(app, api, auth_server, make_token, other_key, assert_bearer_error):
    """When the JWKS is fetched again (it is due), every token is checked against the new keys."""
    token = make_token()
    assert api.list_notes(token).status_code == 200
    auth_server.publish(other_key)  # the issuer rotated, and withdrew the key that signed it
    keys = app.extensions["notes_api.issuer_keys"]
    keys.fetched_at -= keys.lifetime + 1  # the cached key set is due for a fetch
    assert_bearer_error(api.list_notes(token), 401, "invalid_token")
    assert auth_server.jwks_calls == 2


def test_a_key_set_fetched_again_unchanged_keeps_its_tokens(app, api, auth_server, make_token, signature_checks):
    """The key set due: the next token is checked in full (and fetches it); the same keys
    came back, so the other tokens they verified are not checked again."""
    first, second = make_token(), make_token()
    for token in (first, second):
        assert api.list_notes(token).status_code == 200
    keys = app.extensions["notes_api.issuer_keys"]
    keys.fetched_at -= keys.lifetime + 1
    for token in (first, second, first):
        assert api.list_notes(token).status_code == 200
    assert auth_server.jwks_calls == 2
    assert len(signature_checks) == 3


def test_a_withdrawn_key_stops_its_tokens_even_when_another_token_fetched_the_keys(
        app, api, auth_server, make_token, other_key, assert_bearer_error):
    """A token signed with the new key arrives first and fetches the new key set; a token
    remembered from the withdrawn key is then refused, not served from memory."""
    old_token = make_token()
    assert api.list_notes(old_token).status_code == 200
    auth_server.publish(other_key)
    keys = app.extensions["notes_api.issuer_keys"]
    keys.fetched_at -= keys.lifetime + 1
    new_token = make_token(key=other_key, header={"kid": other_key.kid})
    assert api.list_notes(new_token).status_code == 200
    assert_bearer_error(api.list_notes(old_token), 401, "invalid_token")
    assert old_token not in remembered(app)


def test_a_key_replaced_under_its_kid_stops_its_remembered_tokens(app, api, auth_server, make_token,
                                                                  assert_bearer_error):
    """The issuer publishes another key under the same kid: the tokens the old one verified are refused."""
    token = make_token()
    assert api.list_notes(token).status_code == 200
    replacement = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
    auth_server.publish(replacement)
    keys = app.extensions["notes_api.issuer_keys"]
    keys.fetched_at -= keys.lifetime + 1
    assert_bearer_error(api.list_notes(token), 401, "invalid_token")
    assert token not in remembered(app)


@pytest.mark.parametrize("bad", ["another key", "expired", "wrong audience"])
def test_only_tokens_that_pass_are_remembered(app, api, make_token, other_key, bad):
    token = {
        "another key": lambda: make_token(key=other_key, header={"kid": "test-key-1"}),
        "expired": lambda: make_token(exp=int(time.time()) - 3600),
        "wrong audience": lambda: make_token(aud="urn:someone-else"),
    }[bad]()
    for _ in range(2):
        assert api.list_notes(token).status_code == 401
    assert remembered(app) == {}


def test_at_most_the_configured_number_least_recently_used_first_out(make_app, make_token, signature_checks):
    app = make_app(VERIFIED_TOKENS_CACHED=2)
    client = app.test_client()

    def call(token):
        assert client.get("/api/notes", headers={"Authorization": "Bearer " + token}).status_code == 200

    first, second, third = make_token(), make_token(), make_token()
    for token in (first, second, first, third):  # `second` is now the least recently used
        call(token)
    assert list(remembered(app)) == [first, third]
    assert len(signature_checks) == 3
    call(second)
    assert len(signature_checks) == 4


def test_zero_checks_every_request(make_app, make_token, signature_checks):
    app = make_app(VERIFIED_TOKENS_CACHED=0)
    token = make_token()
    for _ in range(2):
        assert app.test_client().get("/api/notes", headers={"Authorization": "Bearer " + token}).status_code == 200
    assert len(signature_checks) == 2
    assert remembered(app) == {}


def test_introspection_asks_every_time(make_app, auth_server, http_mock, make_token):
    """TOKEN_CHECK=introspection exists to see a revocation at once: nothing is remembered."""
    app = make_app(TOKEN_CHECK="introspection")
    now = int(time.time())
    http_mock.upsert(responses.POST, auth_server.introspection_url, json={
        "active": True, "iss": "http://localhost:9000", "sub": "alice", "aud": ["urn:my-notes-api"],
        "client_id": "notes-web", "scope": "read:notes", "iat": now, "exp": now + 600, "jti": "j1"})
    token = make_token()
    for _ in range(2):
        assert app.test_client().get("/api/notes", headers={"Authorization": "Bearer " + token}).status_code == 200
    assert auth_server.calls_to(auth_server.introspection_url) == 2
    assert remembered(app) == {}

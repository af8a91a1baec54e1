"""RFC 9126 §2: the pushed authorization request endpoint, POST /oauth/par."""

import pytest
from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from auth_server import create_app
from auth_server.config import Config
from auth_server.models import PushRateWindow
from auth_server.models import db
from auth_server.par import REQUEST_URI_PREFIX

from .conftest import Flow


def test_push_returns_201_with_request_uri_and_lifetime(flow):
    """§2.2: 201 Created, a request_uri URN and expires_in (30 s, as in the seed)."""
    response = flow.push()
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["expires_in"] == 30
    assert response.json["request_uri"].startswith(REQUEST_URI_PREFIX)


def test_request_uri_carries_at_least_128_random_bits(flow):
    """§7.1: the reference is unguessable (43 base64url chars = 256 bits), never repeated."""
    references = {flow.request_uri().removeprefix(REQUEST_URI_PREFIX) for _ in range(20)}
    assert len(references) == 20
    assert all(len(reference) >= 22 for reference in references)  # 22 chars = 128 bits


def test_seed_client_pushes_with_client_secret_post(client):
    """The seed's own request: client credentials in the body, no PKCE."""
    response = client.post("/oauth/par", data={
        "client_id": "seed-cli", "client_secret": "seed-cli-secret", "redirect_uri": "https://jwt.io",
        "audience": "urn:my-notes-api", "scope": "openid profile read:notes", "response_type": "code"})
    assert response.status_code == 201
    assert response.json["request_uri"].startswith(REQUEST_URI_PREFIX)


@pytest.mark.parametrize("auth", [None, ("notes-web", "wrong"), ("nobody", "notes-web-secret")])
def test_push_without_valid_client_authentication_is_401(flow, auth):
    """§2.3: client authentication as at the token endpoint; failure is 401 invalid_client."""
    response = flow.push(auth=auth)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_auth_method_the_client_does_not_allow_is_refused(client):
    """seed-cli is registered for client_secret_post only: HTTP Basic is refused."""
    response = client.post("/oauth/par", auth=("seed-cli", "seed-cli-secret"), data={
        "redirect_uri": "https://jwt.io", "scope": "openid", "response_type": "code"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize("overrides, error", [
    ({"request_uri": REQUEST_URI_PREFIX + "x"}, "invalid_request"),        # §2.1: MUST NOT be pushed
    ({"redirect_uri": "https://evil.example/cb"}, "invalid_request"),      # exact match only
    ({"redirect_uri": "http://localhost:3000/callback/"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "openid admin"}, "invalid_scope"),
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE required
    ({"code_challenge_method": "plain"}, "invalid_request"),               # RFC 9700: S256 only
    ({"code_challenge_method": None}, "invalid_request"),                  # missing method = plain
    ({"audience": "urn:other-api"}, "invalid_target"),                     # RFC 8707 §2
    ({"client_id": "seed-cli"}, "invalid_request"),                        # not the authenticated one
])
def test_pushed_request_is_validated_like_an_authorization_request(flow, overrides, error):
    """§2.1: the pushed request is checked as /authorize would; errors are JSON, never redirects."""
    response = flow.push(**overrides)
    assert response.status_code == 400
    assert response.json["error"] == error
    assert "Location" not in response.headers
    assert "state" not in response.json


def test_repeated_parameter_is_refused(client):
    """RFC 6749 §3.1: request parameters MUST NOT be included more than once."""
    data = MultiDict([("scope", "openid"), ("scope", "write:notes"), ("response_type", "code")])
    response = client.post("/oauth/par", auth=("notes-web", "notes-web-secret"), data=data)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_get_is_405_with_json_error(client):
    """§2: the endpoint accepts POST only."""
    response = client.get("/oauth/par")
    assert response.status_code == 405
    assert response.headers["Allow"].startswith("POST") or "POST" in response.headers["Allow"]
    assert response.json["error"] == "invalid_request"


def test_oversized_body_is_413(flow):
    """§2.3: a request too large for the server is refused with 413."""
    response = flow.push(state="x" * 70_000)
    assert response.status_code == 413
    assert response.json["error"] == "invalid_request"


def test_client_secret_is_not_stored_with_the_request(app, client):
    """Credentials authenticate the push; they are not part of the stored request."""
    from auth_server.models import PushedRequest, db
    response = client.post("/oauth/par", data={
        "client_id": "seed-cli", "client_secret": "seed-cli-secret", "redirect_uri": "https://jwt.io",
        "scope": "openid", "response_type": "code"})
    assert response.status_code == 201
    with app.app_context():
        stored = db.session.scalar(db.select(PushedRequest))
        assert "client_secret" not in stored.params
        assert stored.params["client_id"] == "seed-cli"


def test_pushing_too_fast_is_429_with_retry_after(test_config):
    """§2.3: 429 Too Many Requests when a client exceeds its rate; it bounds the store too."""
    app = create_app({**test_config, "PAR_RATE_LIMIT": 3})
    flow = Flow(app.test_client())
    assert [flow.push().status_code for _ in range(3)] == [201, 201, 201]
    response = flow.push()
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "10"
    assert response.json["error"] == "invalid_request"
    # Another client is not affected by notes-web's flood.
    other = app.test_client().post("/oauth/par", data={
        "client_id": "seed-cli", "client_secret": "seed-cli-secret", "redirect_uri": "https://jwt.io",
        "scope": "openid", "response_type": "code"})
    assert other.status_code == 201


def test_the_rate_limit_opens_again_when_the_window_ends(test_config, monkeypatch):
    """§2.3: the limit counts pushes per window; once the window has passed, pushes are stored again."""
    import time
    app = create_app({**test_config, "PAR_RATE_LIMIT": 2, "PAR_RATE_WINDOW": 10})
    flow = Flow(app.test_client())
    assert [flow.push().status_code for _ in range(3)] == [201, 201, 429]
    later = time.time() + 10
    monkeypatch.setattr(time, "time", lambda: later)
    assert [flow.push().status_code for _ in range(3)] == [201, 201, 429]


def test_a_refused_push_is_not_counted(test_config):
    """Only stored pushes count: a client refused with 429 is not kept out longer for asking."""
    app = create_app({**test_config, "PAR_RATE_LIMIT": 2})
    flow = Flow(app.test_client())
    assert [flow.push().status_code for _ in range(4)] == [201, 201, 429, 429]
    with app.app_context():
        assert db.session.get(PushRateWindow, "notes-web").pushes == 2


def test_an_invalid_push_is_not_counted(test_config):
    """Only stored pushes count: requests refused by validation leave the client's window as it was."""
    app = create_app({**test_config, "PAR_RATE_LIMIT": 2})
    flow = Flow(app.test_client())
    assert [flow.push(redirect_uri="https://evil.example/cb").status_code for _ in range(3)] == [400] * 3
    assert [flow.push().status_code for _ in range(3)] == [201, 201, 429]


def test_a_push_is_one_short_transaction(app, flow):
    """The push reads whether its nonce was used (OIDC Core §15.5.2), then writes the
    count and the request and commits them together, once; nothing else (the client was
    read at start; no flow trace: the stored request is step 2's record)."""
    flow.push()  # the client's first push also purges; count a later one
    commits, statements = [], []

    def count_commit(connection):
        """One more commit."""
        commits.append(connection)

    def count_statement(connection, cursor, statement, *args):
        """One more statement: its verb and its table."""
        words = statement.split()
        table = words[words.index("FROM" if words[0] == "SELECT" else "INTO") + 1]
        statements.append(f"{words[0]} {table}")

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", count_commit)
    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        assert flow.push(nonce="n-0123").status_code == 201
    finally:
        event.remove(engine, "commit", count_commit)
        event.remove(engine, "before_cursor_execute", count_statement)
    assert len(commits) == 1
    assert statements == ["SELECT authorization_code", "INSERT push_rate_window", "INSERT pushed_request"]


def test_expired_pushed_requests_are_purged(app, flow, monkeypatch):
    """Expired requests are deleted (after a grace period), so the store stays bounded."""
    import time
    from auth_server.models import PushedRequest, db
    flow.push()
    later = time.time() + 30 + 301
    monkeypatch.setattr(time, "time", lambda: later)
    flow.push()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PushedRequest.id))) == 1


@pytest.mark.parametrize("response_types, error", [(["token"], "unauthorized_client")])
def test_client_not_registered_for_code_is_unauthorized_client(test_config, response_types, error):
    """RFC 6749 §4.1.2.1 (via RFC 9126 §2.3): a client may only use its registered response types."""
    seed_cli = next(client for client in Config.CLIENTS if client["client_id"] == "seed-cli")
    clients = [dict(seed_cli, response_types=response_types)]
    app = create_app({**test_config, "CLIENTS": clients})
    response = app.test_client().post("/oauth/par", data={
        "client_id": "seed-cli", "client_secret": "seed-cli-secret", "redirect_uri": "https://jwt.io",
        "scope": "openid", "response_type": "code"})
    assert response.status_code == 400
    assert response.json["error"] == error


@pytest.mark.parametrize("response_type", ["é", "code\u2603", "co\x01de"])
def test_unprintable_response_type_is_unsupported_not_a_crash(flow, response_type):
    """RFC 6749 §5.2 descriptions are ASCII: an odd response_type still gets a clean 400."""
    response = flow.push(response_type=response_type)
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_response_type"


@pytest.mark.parametrize("overrides, error", [
    ({"redirect_uri": "é" * 2000}, "invalid_request"),                  # the fuzzer's find: 6 KB of %C3%A9
    ({"redirect_uri": 'https://evil.example/"'}, "invalid_request"),
    ({"redirect_uri": "https://evil.example/\\"}, "invalid_request"),
    ({"response_type": 'code"'}, "unsupported_response_type"),
    ({"audience": "urn:é"}, "invalid_target"),
    ({"audience": 'urn:"'}, "invalid_target"),
])
def test_request_values_quoted_in_errors_never_crash(flow, overrides, error):
    """RFC 6749 §5.2: error_description is ASCII without '"' or '\\'; an odd value is a 400, not a 500."""
    response = flow.push(**overrides)
    assert response.status_code == 400
    assert response.json["error"] == error
    assert response.json["error_description"].isascii()


@pytest.mark.parametrize("name", ["é", '"'])
def test_repeated_odd_parameter_name_is_refused_not_a_crash(client, name):
    """RFC 6749 §3.1 and §5.2: a repeated parameter is refused, whatever its name."""
    data = MultiDict([(name, "1"), (name, "2"), ("scope", "openid"), ("response_type", "code")])
    response = client.post("/oauth/par", auth=("notes-web", "notes-web-secret"), data=data)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_fuzzers_long_non_ascii_redirect_uri_is_a_400(client):
    """The fuzzer's exact body: redirect_uri=%C3%A9 x 2000, form-encoded, gets 400 invalid_request."""
    body = "response_type=code&scope=openid&redirect_uri=" + "%C3%A9" * 2000
    response = client.post("/oauth/par", auth=("notes-web", "notes-web-secret"), data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert "not registered" in response.json["error_description"]

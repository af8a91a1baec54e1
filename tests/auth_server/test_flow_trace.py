"""flow_trace.py and POST /oauth/flow-trace: what the server did in a flow, for its owner only."""

import json
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
from authlib.common.errors import AuthlibHTTPError

from auth_server import create_app
from auth_server import flow_trace
from auth_server.config import Config

from .conftest import CALLBACK
from .conftest import WEB
from .conftest import Flow
from .conftest import csrf_token

SEED = ("seed-cli", "seed-cli-secret")


def query(url):
    """A URL's query parameters as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


@pytest.fixture
def trace(client):
    """Ask the flow-trace endpoint as notes-web (HTTP Basic) unless told otherwise."""

    def ask(auth=WEB, **form):
        """POST /oauth/flow-trace with this form; returns the response."""
        return client.post("/oauth/flow-trace", auth=auth, data=form)

    return ask


@pytest.fixture
def finished(flow):
    """A whole notes-web flow: (request_uri, code, token response)."""
    request_uri = flow.request_uri()
    login_url = flow.authorize(request_uri).location
    response = flow.consent(flow.login(login_url).location)
    code = query(response.location)["code"]
    tokens = flow.exchange(code)
    assert tokens.status_code == 200
    return request_uri, code, tokens.json


def outcomes(token_request):
    """{check id: outcome} of one recorded token request."""
    return {c["id"]: c["outcome"] for c in token_request["checks"]}


def test_a_whole_flow_is_reported(finished, trace):
    """Steps 2, 4, 5, 6 as served, and step 9's checks, all passed."""
    request_uri, code, _ = finished
    response = trace(request_uri=request_uri)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["client_id"] == "notes-web"
    assert body["request_uri"] == request_uri
    assert body["code_issued"] is True
    served = [(r["step"], r["method"], r["status"]) for r in body["requests"]]
    assert served == [(2, "POST", 201), (4, "GET", 303), (5, "GET", 200), (5, "POST", 303),
                      (5, "GET", 200), (6, "POST", 303)]
    assert body["requests"][1]["path"] == f"/authorize?client_id=notes-web&request_uri={request_uri}"
    # Step 7: where the code went, without the values.
    assert body["requests"][-1]["location"] == CALLBACK + "?code=…&state=…&iss=…"
    [token_request] = body["token_requests"]
    assert token_request["status"] == 200
    assert token_request["auth_method"] == "client_secret_basic"
    assert set(outcomes(token_request).values()) == {"passed"}
    assert [c["id"] for c in token_request["checks"]] == [
        "client_authenticated", "grant_type_allowed", "code_present", "code_valid",
        "redirect_uri_matches", "pkce_verified", "user_exists", "tokens_issued"]
    details = {c["id"]: c["detail"] for c in token_request["checks"]}
    assert details["client_authenticated"] == "notes-web via client_secret_basic"
    assert details["redirect_uri_matches"] == CALLBACK
    assert details["pkce_verified"] == "method S256"
    assert details["tokens_issued"].startswith("access_token, refresh_token, id_token; scope ")


def test_the_code_finds_the_same_flow(finished, trace):
    """A client may name its flow by the code it received instead."""
    request_uri, code, _ = finished
    assert trace(code=code).json == trace(request_uri=request_uri).json


def test_client_secret_post_is_accepted(finished, trace):
    """Authenticated as at the token endpoint: client_secret_post works too."""
    request_uri, _, _ = finished
    response = trace(auth=None, client_id=WEB[0], client_secret=WEB[1], request_uri=request_uri)
    assert response.status_code == 200


def test_never_returns_a_secret(finished, trace):
    """No client secret, password, token, code or code_verifier in the answer."""
    request_uri, code, tokens = finished
    text = json.dumps(trace(request_uri=request_uri).json)
    secrets = [WEB[1], code, tokens["access_token"], tokens["refresh_token"], tokens["id_token"],
               tokens["access_token"][:40], tokens["refresh_token"][:16]]
    for secret in secrets:
        assert secret not in text
    assert "password" not in text
    assert "code_verifier=" not in text


@pytest.mark.parametrize(("auth", "form", "status", "error"), [
    (None, {}, 401, "invalid_client"),
    (("notes-web", "wrong-secret"), {}, 401, "invalid_client"),
    (("nobody", "nothing"), {}, 401, "invalid_client"),
    (WEB, {"request_uri": None}, 400, "invalid_request"),
    (WEB, {"code": "x"}, 400, "invalid_request"),
])
def test_bad_requests(finished, trace, auth, form, status, error):
    """No or wrong client authentication: 401; not exactly one of request_uri, code: 400."""
    request_uri, _, _ = finished
    data = {"request_uri": request_uri, **form}
    response = trace(auth=auth, **{k: v for k, v in data.items() if v is not None})
    assert response.status_code == status
    assert response.json["error"] == error
    assert "requests" not in response.json


@pytest.mark.parametrize("form", [
    {"request_uri": "urn:ietf:params:oauth:request_uri:unknown"},
    {"code": "no-such-code"},
])
def test_unknown_flow_is_404(finished, trace, form):
    """An unknown request_uri or code: 404, as JSON."""
    response = trace(**form)
    assert response.status_code == 404
    assert response.json["error"] == "invalid_request"


def test_another_clients_flow_is_404_like_an_unknown_one(finished, trace):
    """The seed client cannot read notes-web's flow, nor learn that it exists."""
    request_uri, code, _ = finished
    mine = trace(auth=None, client_id=SEED[0], client_secret=SEED[1], request_uri=request_uri)
    unknown = trace(auth=None, client_id=SEED[0], client_secret=SEED[1],
                    request_uri="urn:ietf:params:oauth:request_uri:unknown")
    assert mine.status_code == unknown.status_code == 404
    assert mine.json == unknown.json
    assert trace(auth=None, client_id=SEED[0], client_secret=SEED[1], code=code).status_code == 404


def test_get_is_refused_as_json(client):
    """Only POST: a GET gets a JSON 405, like the other back-channel endpoints."""
    response = client.get("/oauth/flow-trace")
    assert response.status_code == 405
    assert response.json["error"] == "invalid_request"


# Token requests that one check refuses: (what the request changes, the check, the error).
REFUSALS = [
    ({"redirect_uri": "http://localhost:3000/other"}, "redirect_uri_matches", "invalid_grant"),
    ({"code_verifier": "x" * 43}, "pkce_verified", "invalid_grant"),
    ({"code_verifier": None}, "pkce_verified", "invalid_request"),
    ({"auth": ("notes-web", "wrong-secret")}, "client_authenticated", "invalid_client"),
    ({"auth": ("seed-cli", "seed-cli-secret")}, "client_authenticated", "invalid_client"),  # Basic: not its method
    ({"auth": None, "client_id": SEED[0], "client_secret": SEED[1]}, "code_valid", "invalid_grant"),
]


def refused_token_request(flow, change):
    """A whole flow, then a token request with `change`: (its response, its recorded checks)."""
    request_uri = flow.request_uri()
    login_url = flow.authorize(request_uri).location
    code = query(flow.consent(flow.login(login_url).location).location)["code"]
    change = dict(change)
    auth = change.pop("auth", WEB)
    response = flow.exchange(code, auth=auth, **change)
    record = flow.client.post("/oauth/flow-trace", auth=WEB, data={"request_uri": request_uri}).json
    [token_request] = record["token_requests"]
    return response, token_request


def assert_failed_at(token_request, failed):
    """The check that failed, every one before it passed, none after it reached."""
    found = outcomes(token_request)
    ids = list(found)
    assert found[failed] == "failed"
    assert all(found[c] == "passed" for c in ids[:ids.index(failed)])
    assert all(found[c] == "not reached" for c in ids[ids.index(failed) + 1:])


@pytest.mark.parametrize(("change", "failed", "error"), REFUSALS)
def test_a_refused_token_request_names_the_failed_check(flow, change, failed, error):
    """Step 9: the check that failed, every one before it passed, none after it reached."""
    response, token_request = refused_token_request(flow, change)
    assert response.json["error"] == error
    assert token_request["error"] == error
    assert_failed_at(token_request, failed)


@pytest.mark.parametrize(("change", "failed", "error"), REFUSALS)
def test_the_failed_check_is_not_read_from_the_error_text(flow, monkeypatch, change, failed, error):
    """The code that refuses names its check: Authlib's descriptions reworded, the same check fails."""

    def reworded(error):
        """An error body whose description says something else entirely."""
        return [("error", error.error), ("error_description", "Nope.")]

    monkeypatch.setattr(AuthlibHTTPError, "get_body", reworded)
    response, token_request = refused_token_request(flow, change)
    assert response.json == {"error": error, "error_description": "Nope."}
    assert token_request["error_description"] == "Nope."
    assert_failed_at(token_request, failed)


def test_a_code_sent_by_another_client_names_who_asked(flow):
    """The client check passed for the client that asked; the code check failed, being not its code."""
    _, token_request = refused_token_request(flow, {"auth": None, "client_id": SEED[0], "client_secret": SEED[1]})
    details = {c["id"]: c["detail"] for c in token_request["checks"]}
    assert details["client_authenticated"] == "seed-cli via client_secret_post"
    assert details["code_valid"] == "the code was issued to another client"


def test_a_client_not_registered_for_the_code_grant_fails_that_check(test_config):
    """RFC 6749 §5.2 unauthorized_client: the grant-type check fails, after client authentication."""
    clients = [dict(Config.CLIENTS[0], grant_types=["refresh_token"]), Config.CLIENTS[1]]
    flow = Flow(create_app({**test_config, "CLIENTS": clients}).test_client())
    response, token_request = refused_token_request(flow, {})
    assert response.json["error"] == "unauthorized_client"
    assert_failed_at(token_request, "grant_type_allowed")


def test_a_replayed_code_is_reported_as_one(finished, flow, trace):
    """The same code twice: the second request fails at the code check, a replay."""
    request_uri, code, _ = finished
    assert flow.exchange(code).status_code == 400
    first, second = trace(request_uri=request_uri).json["token_requests"]
    assert first["status"] == 200
    check = next(c for c in second["checks"] if c["id"] == "code_valid")
    assert check["outcome"] == "failed"
    assert "already used" in check["detail"]


def test_a_reused_request_uri_is_recorded(flow, other_browser, trace):
    """Step 4 twice: the second arrival is refused, and the trace says why."""
    request_uri = flow.request_uri()
    assert flow.authorize(request_uri).status_code == 303
    assert other_browser.authorize(request_uri).status_code == 400
    arrivals = [r for r in trace(request_uri=request_uri).json["requests"] if r["step"] == 4]
    assert [a["status"] for a in arrivals] == [303, 400]
    assert "already used" in arrivals[1]["note"]


def test_wrong_password_and_denial_are_recorded(flow, trace):
    """A refused login (401) and a denied consent (access_denied) show in the trace."""
    request_uri = flow.request_uri()
    login_url = flow.authorize(request_uri).location
    assert flow.login(login_url, password="wrong").status_code == 401
    denied = flow.consent(flow.login(login_url).location, decision="deny")
    assert "error=access_denied" in denied.location
    body = trace(request_uri=request_uri).json
    notes = [r["note"] for r in body["requests"]]
    assert "login refused" in notes
    assert notes[-1].startswith("user denied")
    assert body["code_issued"] is False


def test_without_pkce_the_check_is_skipped(client, trace):
    """The seed client pushes no code_challenge: the PKCE check is skipped, not passed."""
    pushed = client.post("/oauth/par", data={
        "client_id": SEED[0], "client_secret": SEED[1], "response_type": "code",
        "redirect_uri": "https://jwt.io", "scope": "openid read:notes", "audience": "urn:my-notes-api"})
    request_uri = pushed.json["request_uri"]
    arrival = client.get("/authorize", query_string={"client_id": SEED[0], "request_uri": request_uri})
    page = client.get(arrival.location)
    consent_url = client.post(arrival.location, data={
        "csrf_token": csrf_token(page.text), "username": "alice", "password": "alice"}).location
    page = client.get(consent_url)
    code = query(client.post(consent_url, data={"csrf_token": csrf_token(page.text), "allow": "Allow"}).location)["code"]
    tokens = client.post("/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "https://jwt.io",
        "client_id": SEED[0], "client_secret": SEED[1]})
    assert tokens.status_code == 200
    [token_request] = trace(auth=None, client_id=SEED[0], client_secret=SEED[1],
                            request_uri=request_uri).json["token_requests"]
    assert token_request["auth_method"] == "client_secret_post"
    assert outcomes(token_request)["pkce_verified"] == "skipped"


def test_refresh_grants_are_not_traced(finished, flow, trace):
    """Only the code exchange is step 9: refreshing adds nothing to the flow's trace."""
    request_uri, _, tokens = finished
    assert flow.refresh(tokens["refresh_token"]).status_code == 200
    assert len(trace(request_uri=request_uri).json["token_requests"]) == 1


def test_a_code_from_no_traced_flow_changes_nothing(client):
    """A token request with an unknown code is refused as before, and nothing is recorded."""
    response = client.post("/oauth/token", auth=WEB, data={
        "grant_type": "authorization_code", "code": "made-up", "redirect_uri": CALLBACK})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_a_failing_trace_never_fails_the_flow(flow, monkeypatch):
    """If recording breaks, the flow goes on: the trace is a teaching aid, nothing more."""

    def broken(*args):
        """A recorder that fails."""
        raise RuntimeError("trace store unavailable")

    monkeypatch.setattr(flow_trace, "_observe_flow_request", broken)
    monkeypatch.setattr(flow_trace, "_observe_token_request", broken)
    assert flow.exchange(flow.code()["code"]).status_code == 200


def test_traces_older_than_a_day_are_deleted_as_flows_start(app, flow, trace, monkeypatch):
    """Every PURGE_EVERY-th flow started (its browser arriving) deletes the traces past
    KEEP_SECONDS; newer ones stay."""
    import time
    monkeypatch.setattr(flow_trace, "PURGE_EVERY", 2)
    old = flow.request_uri()
    assert flow.authorize(old).status_code == 303  # trace 1
    later = time.time() + flow_trace.KEEP_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    recent = flow.request_uri()
    assert flow.authorize(recent).status_code == 303  # trace 2: the second flow purges
    assert trace(request_uri=old).status_code == 404
    assert trace(request_uri=recent).status_code == 200


def stored(app, model):
    """How many rows of a model the database holds."""
    from auth_server.models import db
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_a_push_writes_no_trace_its_stored_request_is_step_2(app, flow, trace):
    """The push costs one row: the trace is told from the pushed request until the browser comes."""
    request_uri = flow.request_uri()
    assert stored(app, flow_trace.FlowTrace) == 0
    assert stored(app, flow_trace.FlowEvent) == 0
    body = trace(request_uri=request_uri).json
    assert body["client_id"] == "notes-web"
    assert body["code_issued"] is False
    assert body["token_requests"] == []
    [push] = body["requests"]
    assert push == {"step": 2, "channel": "back", "method": "POST", "path": "/oauth/par", "status": 201,
                    "note": "pushed request stored; request_uri issued", "at": body["pushed_at"]}


def test_the_trace_is_stored_when_the_browser_arrives(app, flow, trace):
    request_uri = flow.request_uri()
    pushed_at = trace(request_uri=request_uri).json["pushed_at"]
    assert flow.authorize(request_uri).status_code == 303
    assert stored(app, flow_trace.FlowTrace) == 1
    body = trace(request_uri=request_uri).json
    assert body["pushed_at"] == pushed_at
    assert [(r["step"], r["status"]) for r in body["requests"]] == [(2, 201), (4, 303)]


def test_a_pushed_request_gone_before_the_browser_came_leaves_no_flow(app, flow, trace):
    """Without an arrival the flow lives as long as its pushed request (purged after expiry)."""
    from auth_server.models import PushedRequest
    from auth_server.models import db
    request_uri = flow.request_uri()
    with app.app_context():
        db.session.execute(db.delete(PushedRequest))
        db.session.commit()
    assert trace(request_uri=request_uri).status_code == 404
    assert flow.authorize(request_uri).status_code == 400
    assert stored(app, flow_trace.FlowTrace) == 0


def test_two_first_arrivals_at_once_share_one_trace(app, flow, trace):
    """Another browser's arrival stored the flow's trace first: ours joins it, not a second one
    (one INSERT ... ON CONFLICT DO NOTHING, so the database settles the race)."""
    from auth_server.models import db
    request_uri = flow.request_uri()
    with app.app_context():
        db.session.add(flow_trace._pushed_only(request_uri))  # the other browser's arrival
        db.session.commit()
    assert flow.authorize(request_uri).status_code == 303
    assert stored(app, flow_trace.FlowTrace) == 1
    assert [r["step"] for r in trace(request_uri=request_uri).json["requests"]] == [2, 4]

"""walkthrough.py: one flow gathered step by step, with its secrets split out for masking."""

import pytest
import requests

from client_app.flow import TraceMessage
from client_app.inspector import walkthrough
from client_app.inspector.walkthrough import Piece
from client_app import masking
from client_app.masking import mask
from client_app.models import current_login


def build(flow):
    """walkthrough.build() for the flow helper's browser (its cookie), as the inspector calls it."""
    name = flow.app.config["SESSION_COOKIE_NAME"]
    cookie = flow.client.get_cookie(name)
    with flow.app.test_request_context(headers={"Cookie": f"{name}={cookie.value}"}):
        return walkthrough.build(current_login())


@pytest.mark.parametrize(("value", "masked"), [
    ("eyJhbGciOiJSUzI1NiJ9.long.token", "eyJhbG…"),
    ("0123456789abc", "012345…"),
    ("short-secret", "…"),
    ("", "…"),
])
def test_a_secret_piece_keeps_at_most_6_characters(value, masked):
    """The one masking policy: the first 6 characters of a long secret, none of a short one."""
    assert mask(value) == masked
    assert Piece(value, masking.SECRET).masked == masked
    assert Piece(value).masked == value


@pytest.mark.parametrize(("url", "secret"), [
    ("http://c/callback?code=abc&state=s&iss=http%3A%2F%2Fas", ["abc", "s"]),
    ("http://c/cb?state=s", ["s"]),
    ("http://c/cb", []),
    ("http://c/cb?code=&x=1", []),
    ("http://c/cb?access_token=t1&refresh_token=t2#frag", ["t1", "t2"]),
])
def test_url_pieces(url, secret):
    """The URL is kept as sent; only secret query values are secret pieces."""
    pieces = walkthrough.url_pieces(url)
    assert walkthrough.plain(pieces, reveal=True) == url.split("#")[0]
    assert [p.text for p in pieces if p.secret] == secret


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("Authorization", "Bearer eyJabcdefghijkl", "Bearer eyJabc…"),
    ("authorization", "Basic bm90ZXMtd2ViOnNlY3JldA==", "Basic bm90ZX…"),
    ("Authorization", "opaque", "…"),
    ("Content-Type", "application/json", "application/json"),
    ("Location", "http://as/authorize?client_id=c&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Areq-1",
     "http://as/authorize?client_id=c&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A…"),
])
def test_header_pieces(name, value, shown):
    """A credential header keeps its scheme visible; a Location is a URL; other headers are plain."""
    pieces = walkthrough.header_pieces(name, value)
    assert walkthrough.plain(pieces) == shown
    assert walkthrough.plain(pieces, reveal=True) == value


def test_form_bodies_one_parameter_per_line_secrets_split():
    """client_secret, code, code_verifier are secret; the rest is plain, decoded."""
    kind, pieces = walkthrough.body_pieces(
        "grant_type=authorization_code&code=c0de1234567890&redirect_uri=http%3A%2F%2Fc%2Fcb"
        "&code_verifier=v3rifier1234567&client_secret=s3cret",
        "application/x-www-form-urlencoded")
    assert kind == "form"
    assert walkthrough.plain(pieces) == ("grant_type=authorization_code\n&code=c0de12…\n"
                                         "&redirect_uri=http://c/cb\n&code_verifier=v3rifi…\n&client_secret=…")


def test_json_bodies_mask_token_values():
    """Token response: access, refresh and ID tokens masked, the rest as JSON."""
    kind, pieces = walkthrough.body_pieces(
        '{"access_token": "eyJhbGciOiJSUzI1NiJ9.x.y", "expires_in": 86400, "scope": "openid"}',
        "application/json")
    assert kind == "json"
    assert walkthrough.plain(pieces) == ('{\n  "access_token": "eyJhbG…",\n  "expires_in": 86400,\n'
                                         '  "scope": "openid"\n}')


@pytest.mark.parametrize(("body", "content_type", "kind"), [
    ("", "application/json", "text"),
    ("[1, 2]", "application/json", "json"),
    ("{not json", "application/json", "text"),
    ("<html>hi</html>", "text/html", "text"),
])
def test_other_bodies(body, content_type, kind):
    """Lists, broken JSON and HTML are shown as they are, with nothing secret."""
    found, pieces = walkthrough.body_pieces(body, content_type)
    assert found == kind
    assert not any(p.secret for p in pieces)


def test_jwts_and_nested_secrets_are_masked_wherever_they_are():
    """A JWT in free text, and secret fields nested in JSON, are masked too."""
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    pieces = walkthrough.jwt_pieces(walkthrough.body_pieces(f"<p>{jwt}</p>", "text/html")[1])
    assert walkthrough.plain(pieces) == "<p>eyJhbG…</p>"
    assert walkthrough.plain(pieces, reveal=True) == f"<p>{jwt}</p>"
    _, pieces = walkthrough.body_pieces('{"error": {"code": "c0de1234567890"}}', "application/json")
    assert walkthrough.plain(pieces) == '{\n  "error": {"code": "c0de12…"}\n}'


def test_the_as_record_is_masked_unless_revealed(flow, flow_trace):
    """The request_uri in the path the AS served at step 4 is masked; ?reveal=all shows it."""
    flow.complete()
    name = flow.app.config["SESSION_COOKIE_NAME"]
    cookie = flow.client.get_cookie(name)
    with flow.app.test_request_context(headers={"Cookie": f"{name}={cookie.value}"}):
        masked, revealed = (walkthrough.build(current_login(), reveal=reveal)["steps"][3]["server_requests"]
                            for reveal in (False, True))
    assert masked[0]["path"] == "/authorize?client_id=notes-web&request_uri=urn:ietf:params:oauth:request_uri:…"
    assert revealed[0]["path"] == "/authorize?client_id=notes-web&request_uri=urn:ietf:params:oauth:request_uri:req-1"


def test_a_whole_flow(flow, flow_trace):
    """Every step is there: the client's messages, the AS's record, cross-step checks."""
    flow.complete()
    flow.client.get("/notes")
    flow.app.config["INSPECTOR_SHOWS_TOKENS"] = True
    view = build(flow)
    assert [s["state"] for s in view["steps"]] == ["done"] * 12
    assert view["token_checks"]["status"] == 200
    assert view["server_error"] is None
    checks = {c["name"]: c["outcome"] for c in view["cross_checks"]}
    assert checks == {"request_uri": "same", "state": "same", "code": "same", "PKCE": "same",
                      "nonce": "same", "access token": "same"}
    values = {s["step"].number: {n: walkthrough.plain(shown, reveal=True) for n, shown in s["key_values"]}
              for s in view["steps"]}
    assert values[3]["request_uri"] == values[4]["request_uri"] == "urn:ietf:params:oauth:request_uri:req-1"
    assert values[7]["code"] == values[8]["code"] == "the-code"
    assert values[10]["access_token"] == values[11]["access token (Bearer)"] == "access-token-1"
    assert values[2]["client authentication"] == "client_secret_basic (Authorization: Basic)"
    # The AS's own view of steps 5-6 and the redirect of step 7.
    shown = {s["step"].number: [r["method"] for r in s["server_requests"]] for s in view["steps"]}
    assert shown[5] == ["GET", "POST", "GET"]
    assert shown[6] == shown[7] == ["POST"]
    # The ID token (a JWT) is explained; the fake AS's access token is opaque.
    assert view["jwts"]["id_token"]["signature"]["outcome"] == "passed"
    assert "access_token" not in view["jwts"]
    # The AS was asked about this flow, authenticated as this client.
    assert flow_trace.requests[-1]["form"] == {"request_uri": "urn:ietf:params:oauth:request_uri:req-1"}
    assert flow_trace.requests[-1]["authorization"].startswith("Basic ")


def test_different_values_are_reported():
    """A step 7 whose state is not the pushed one: the check says 'different'."""
    # The client never records such a callback (its state check refuses it first), so
    # the messages are made here.
    messages = {2: TraceMessage(kind="request", body="state=pushed-state", headers=[]),
                7: TraceMessage(kind="request", url="http://c/callback?state=other-state", headers=[])}
    checks = {c["name"]: c["outcome"] for c in walkthrough.cross_checks(messages, {})}
    assert checks["state"] == "different"
    assert checks["code"] == "not yet"


@pytest.mark.parametrize(("change", "state9"), [
    ({"token_status": 400, "failed_check": "code_valid"}, "failed"),
    ({"token_status": 200}, "done"),
])
def test_step_9_state_follows_the_as(flow, flow_trace, change, state9):
    """Step 9 is lit, or red, by what the AS reports."""
    for name, value in change.items():
        setattr(flow_trace, name, value)
    flow.complete()
    assert build(flow)["states"][9] == state9


@pytest.mark.parametrize(("setup", "message"), [
    ({"status": 404}, "has no record of this flow"),
    ({"down": requests.ConnectionError("refused")}, "Could not reach"),
])
def test_without_the_as_record_the_rest_still_shows(flow, flow_trace, setup, message):
    """The AS has forgotten the flow, or is down: steps 5, 6, 9 stay dark, nothing breaks."""
    for name, value in setup.items():
        setattr(flow_trace, name, value)
    flow.complete()
    view = build(flow)
    assert message in view["server_error"]
    assert sorted(n for n, state in view["states"].items() if state == "done") == [1, 2, 3, 4, 7, 8, 10]


def test_a_refused_step_is_red(flow, flow_trace):
    """The token endpoint refused the code: step 10 is failed."""
    flow.auth_server.token_error = (400, {"error": "invalid_grant"})
    flow.start()
    flow.callback()
    assert build(flow)["states"][10] == "failed"


def test_no_flow_yet(app):
    """No login: twelve pending steps and no AS call."""
    with app.test_request_context():
        view = walkthrough.build(None)
    assert view["states"] == {}
    assert [s["state"] for s in view["steps"]] == ["pending"] * 12
    assert view["server"] is None and view["server_error"] is None


@pytest.mark.parametrize(("name", "value", "shows_tokens", "revealed"), [
    ("Authorization", "Basic bm90ZXMtd2ViOm5vdGVzLXdlYi1zZWNyZXQ=", True, "Basic bm90ZX…"),
    ("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl", False, "Bearer eyJhbG…"),
    ("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl", True,
     "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"),
])
def test_withheld_pieces_cannot_be_revealed(name, value, shows_tokens, revealed):
    """What a browser may not see whole is masked on the server: revealing shows no more."""
    pieces = walkthrough.withhold(walkthrough.header_pieces(name, value), shows_tokens)
    assert walkthrough.plain(pieces, reveal=True) == revealed
    assert all(value.split(" ")[1] not in p.text for p in pieces if p.withheld)


def test_a_form_keeps_the_client_secret_withheld_and_the_code_revealable():
    """client_secret_post: the secret is withheld; the code stays a secret to reveal."""
    _, pieces = walkthrough.body_pieces("code=c0de1234567890&client_secret=s3cret-of-the-client",
                                        "application/x-www-form-urlencoded")
    pieces = walkthrough.withhold(pieces, shows_tokens=True)
    assert walkthrough.plain(pieces, reveal=True) == "code=c0de1234567890\n&client_secret=s3cret…"
    assert [p.text for p in pieces if p.secret] == ["c0de1234567890"]

"""/notes: steps 11-12 (the API call with the Bearer token), refresh, and API failures."""

import pytest
import requests


def test_not_logged_in_goes_home(client):
    """Without a login, /notes sends the browser to the home page."""
    response = client.get("/notes")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_halfway_login_goes_home(flow):
    """A login that has not come back from the AS yet has no tokens: home too."""
    flow.start()
    response = flow.client.get("/notes")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_notes_page_shows_profile_and_notes(flow, notes_api, expect_page):
    """Steps 11-12: the profile from the ID token and the notes from the API."""
    flow.complete()
    expect_page(flow.client.get("/notes"), 200,
                "Alice Liddell", "alice@example.com", "Buy milk", 'action="/notes"', "Log out")
    assert notes_api.requests == [{"method": "GET", "authorization": "Bearer access-token-1", "json": None}]


def test_notes_api_may_answer_a_bare_list(flow, notes_api, expect_page):
    """The list of notes is accepted bare as well as under "notes"."""
    flow.complete()
    notes_api.answers = [(200, [{"id": 7, "text": "Bare list note"}])]
    expect_page(flow.client.get("/notes"), 200, "Bare list note")


def test_add_note_post_redirect_get(flow, notes_api, expect_page):
    """POST /notes sends {"text": ...} to the API, then 303 back to the list."""
    flow.complete()
    response = flow.post_form("/notes", {"text": "  Call Bob  "}, page="/notes")
    assert response.status_code == 303
    assert response.headers["Location"] == "/notes"
    assert notes_api.requests[-1] == {"method": "POST", "authorization": "Bearer access-token-1",
                                      "json": {"text": "Call Bob"}}
    expect_page(flow.client.get("/notes"), 200, "Note added.", "Call Bob")


@pytest.mark.parametrize(("text", "message"), [
    ("", "A note needs some text."),
    ("   ", "A note needs some text."),
    ("x" * 501, "at most 500 characters"),
])
def test_add_note_bad_input(flow, notes_api, expect_page, text, message):
    """Bad input is flashed on the list and never sent to the API."""
    flow.complete()
    response = flow.post_form("/notes", {"text": text}, page="/notes")
    assert response.status_code == 303
    assert [r["method"] for r in notes_api.requests] == ["GET"]
    expect_page(flow.client.get("/notes"), 200, message)


def test_add_note_needs_a_csrf_token(flow, notes_api, expect_page):
    """A POST /notes without the form's CSRF token is refused and never reaches the API."""
    flow.complete()
    expect_page(flow.client.post("/notes", data={"text": "forged"}), 400, "CSRF")
    assert notes_api.requests == []


def test_add_note_not_logged_in(flow, notes_api):
    """Adding a note without a login goes home, API untouched."""
    response = flow.post_form("/notes", {"text": "hello"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert notes_api.requests == []


def test_refresh_before_expiry_rotates_the_refresh_token(flow, notes_api, expect_page):
    """An access token within 30 s of expiry is refreshed first; the new refresh token is kept."""
    flow.auth_server.expires_in = 10
    flow.complete()
    expect_page(flow.client.get("/notes"), 200, "Buy milk")
    refreshes = flow.auth_server.refresh_requests()
    assert [r["form"] for r in refreshes] == [
        {"grant_type": "refresh_token", "refresh_token": "refresh-token-1"}]
    assert refreshes[0]["authorization"].startswith("Basic ")
    row = flow.row()
    assert (row.access_token, row.refresh_token) == ("access-token-2", "refresh-token-2")
    assert notes_api.bearer_tokens() == ["Bearer access-token-2"]


def test_no_refresh_while_the_token_is_fresh(flow, notes_api):
    """A token far from expiry is used as is."""
    flow.complete()
    flow.client.get("/notes")
    flow.client.get("/notes")
    assert flow.auth_server.refresh_requests() == []
    assert notes_api.bearer_tokens() == ["Bearer access-token-1"] * 2


def test_refresh_refused_means_log_in_again(flow, notes_api, expect_page):
    """RFC 6749 §5.2 invalid_grant on refresh: the session-expired page, and the login is forgotten."""
    flow.auth_server.expires_in = 10
    flow.auth_server.refresh_error = (
        400, {"error": "invalid_grant", "error_description": "Refresh token revoked"})
    flow.complete()
    expect_page(flow.client.get("/notes"), 401, "Your session has expired", "invalid_grant", "Log in again")
    assert notes_api.requests == []
    assert flow.rows() == []
    assert "login_session_id" not in flow.cookie_session()


def test_refresh_with_the_auth_server_down(flow, notes_api, expect_page):
    """An unreachable AS during refresh is a 502, and the login is kept for later."""
    flow.auth_server.expires_in = 10
    flow.complete()
    flow.auth_server.down = True
    expect_page(flow.client.get("/notes"), 502, "Authorization server unavailable")
    assert flow.row().refresh_token == "refresh-token-1"


@pytest.mark.parametrize("failure", [
    requests.ConnectionError("connection refused"),
    requests.Timeout("read timed out"),
])
def test_notes_api_unreachable(flow, notes_api, expect_page, failure):
    """A Notes API that cannot be reached gives the 503 page with a way back."""
    flow.complete()
    notes_api.down = failure
    expect_page(flow.client.get("/notes"), 503, "Notes service unavailable", 'href="/notes"')


def test_notes_api_server_error(flow, notes_api, expect_page):
    """A 5xx from the Notes API is shown as unavailable too."""
    flow.complete()
    notes_api.answers = [(500, {"error": "server_error"})]
    expect_page(flow.client.get("/notes"), 503, "Notes service unavailable", "HTTP 500")


def test_api_401_refreshes_once_then_gives_up(flow, notes_api, expect_page):
    """RFC 6750 §3.1 invalid_token: one refresh, one retry, then the session-expired page."""
    invalid = (401, {"error": "invalid_token"},
               {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="Token revoked"'})
    flow.complete()
    notes_api.answers = [invalid, invalid, invalid]
    expect_page(flow.client.get("/notes"), 401, "Your session has expired", "invalid_token", "Token revoked")
    assert len(flow.auth_server.refresh_requests()) == 1
    assert notes_api.bearer_tokens() == ["Bearer access-token-1", "Bearer access-token-2"]
    assert flow.rows() == []


def test_api_401_once_then_a_refresh_fixes_it(flow, notes_api, expect_page):
    """A token revoked early: after one refresh the retry succeeds."""
    flow.complete()
    notes_api.answers = [(401, {}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})]
    expect_page(flow.client.get("/notes"), 200, "Buy milk")
    assert notes_api.bearer_tokens() == ["Bearer access-token-1", "Bearer access-token-2"]
    assert flow.row().refresh_token == "refresh-token-2"


def test_insufficient_scope_is_explained(flow, notes_api, expect_page):
    """RFC 6750 §3.1 insufficient_scope: a page naming the missing scope."""
    flow.complete()
    notes_api.answers = [(403, {"error": "insufficient_scope"},
                          {"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="write:notes"'})]
    response = flow.post_form("/notes", {"text": "hello"})
    expect_page(response, 403, "Missing permission", "write:notes", "insufficient_scope")
    assert flow.auth_server.refresh_requests() == []
    assert flow.row().access_token == "access-token-1"


def test_insufficient_scope_from_the_json_body(flow, notes_api, expect_page):
    """Without a WWW-Authenticate challenge the JSON body's error is used."""
    flow.complete()
    notes_api.answers = [(403, {"error": "insufficient_scope", "scope": "read:notes"})]
    expect_page(flow.client.get("/notes"), 403, "Missing permission", "read:notes")


def test_api_refuses_the_request(flow, notes_api, expect_page):
    """Any other 4xx is shown with the API's error code."""
    flow.complete()
    notes_api.answers = [(400, {"error": "invalid_request", "error_description": "text is too long"})]
    response = flow.post_form("/notes", {"text": "hello"})
    expect_page(response, 400, "The Notes API refused the request", "invalid_request", "text is too long")

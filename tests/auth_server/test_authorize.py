"""/authorize (RFC 9126 §4), login and consent: steps 4 to 7."""

import time
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest

from .conftest import CALLBACK
from .conftest import csrf_token


def query(url):
    """A URL's query parameters as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def test_full_front_channel_returns_code_state_and_iss(flow):
    """Steps 4-7: arrival, login, consent, then 303 to the callback with code, state, iss."""
    arrival = flow.authorize(flow.request_uri())
    assert arrival.status_code == 303
    assert "/login" in arrival.location
    logged_in = flow.login(arrival.location)
    assert logged_in.status_code == 303
    assert "/consent" in logged_in.location
    response = flow.consent(logged_in.location)
    assert response.status_code == 303  # RFC 9700 §4.12: 303 after POST
    assert response.location.startswith(CALLBACK + "?")
    params = query(response.location)
    assert params["state"] == flow.state
    assert params["iss"] == "http://localhost:9000"  # RFC 9207 §2
    assert len(params["code"]) >= 32


def test_consent_page_lists_the_pushed_scopes_in_plain_words(flow):
    """The consent page shows what the client pushed, sentence by sentence."""
    login_url = flow.authorize(flow.request_uri(scope="openid read:notes")).location
    page = flow.client.get(flow.login(login_url).location)
    assert page.status_code == 200
    assert "Read your notes" in page.text
    assert "Confirm who you are" in page.text
    assert "Add notes on your behalf" not in page.text


def test_front_channel_parameters_cannot_override_pushed_ones(flow):
    """§4: a tampered URL (scope, redirect_uri, state) changes nothing."""
    request_uri = flow.request_uri(scope="openid read:notes")
    login_url = flow.authorize(request_uri, scope="openid write:notes", redirect_uri="https://evil.example/",
                               state="attacker").location
    consent_url = flow.login(login_url).location
    page = flow.client.get(consent_url)
    assert "Add notes on your behalf" not in page.text
    response = flow.consent(consent_url)
    assert response.location.startswith(CALLBACK + "?")
    assert query(response.location)["state"] == flow.state


def test_request_uri_is_single_use_across_browsers(flow, other_browser):
    """§4: a second use of the request_uri, from another browser, fails with a page."""
    request_uri = flow.request_uri()
    assert flow.authorize(request_uri).status_code == 303
    replay = other_browser.authorize(request_uri)
    assert replay.status_code == 400
    assert "invalid_request_uri" in replay.text
    assert "already been used" in replay.text
    assert "Location" not in replay.headers


def test_same_browser_reload_of_authorize_resumes_the_login(flow):
    """§4 allows a reload: the same browser comes back to the same login page."""
    request_uri = flow.request_uri()
    first = flow.authorize(request_uri)
    again = flow.authorize(request_uri)
    assert again.status_code == 303
    assert again.location == first.location


def test_reloading_login_and_consent_pages_works(flow):
    """Reloads of the login and consent pages show the same page again."""
    login_url = flow.authorize(flow.request_uri()).location
    assert flow.client.get(login_url).status_code == 200
    assert flow.client.get(login_url).status_code == 200
    consent_url = flow.login(login_url).location
    assert flow.client.get(consent_url).status_code == 200
    assert flow.client.get(consent_url).status_code == 200
    assert flow.consent(consent_url).status_code == 303


def test_login_url_is_useless_in_another_browser(flow, other_browser):
    """The login in progress is bound to the browser that arrived with the request_uri."""
    login_url = flow.authorize(flow.request_uri()).location
    stolen = other_browser.client.get(login_url)
    assert stolen.status_code == 400
    assert "no longer valid" in stolen.text


def test_expired_request_uri_is_refused_on_arrival(flow, monkeypatch):
    """§2.2: past expires_in the request_uri is refused, before any password is typed."""
    request_uri = flow.request_uri()
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)
    response = flow.authorize(request_uri)
    assert response.status_code == 400
    assert "expired" in response.text


def test_slow_typist_still_logs_in_after_expires_in(flow, monkeypatch):
    """expires_in bounds the arrival only: a login that takes minutes still succeeds."""
    login_url = flow.authorize(flow.request_uri()).location
    later = time.time() + 180
    monkeypatch.setattr(time, "time", lambda: later)
    consent_url = flow.login(login_url).location
    response = flow.consent(consent_url)
    assert "code" in query(response.location)


def test_a_login_left_past_its_lifetime_is_over(flow, monkeypatch, app):
    """A login in progress lasts INTERACTION_EXPIRES_IN: after it, its pages are gone, even in its own browser."""
    login_url = flow.authorize(flow.request_uri()).location
    assert flow.client.get(login_url).status_code == 200
    later = time.time() + app.config["INTERACTION_EXPIRES_IN"] + 1
    monkeypatch.setattr(time, "time", lambda: later)
    page = flow.client.get(login_url)
    assert page.status_code == 400
    assert "no longer valid" in page.text


def test_request_uri_pushed_by_another_client_is_refused(client, flow):
    """§4: the request_uri is bound to the client that pushed it."""
    pushed = client.post("/oauth/par", data={
        "client_id": "seed-cli", "client_secret": "seed-cli-secret", "redirect_uri": "https://jwt.io",
        "scope": "openid", "response_type": "code"}).json["request_uri"]
    response = flow.authorize(pushed, client_id="notes-web")
    assert response.status_code == 400
    assert "another client" in response.text


@pytest.mark.parametrize("args, error", [
    ({"client_id": "nobody", "request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_client"),
    ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_client"),
    ({"client_id": "notes-web", "request_uri": "urn:ietf:params:oauth:request_uri:nope"}, "invalid_request_uri"),
    ({"client_id": "notes-web", "request_uri": "https://evil.example/request"}, "invalid_request_uri"),
    # §5-6: a PAR-required client cannot send a plain authorization request.
    ({"client_id": "notes-web", "response_type": "code", "redirect_uri": CALLBACK, "scope": "openid",
      "state": "s", "code_challenge": "x" * 43, "code_challenge_method": "S256"}, "invalid_request"),
    ({}, "invalid_client"),
])
def test_bad_arrivals_get_an_error_page_never_a_redirect(client, args, error):
    """RFC 6749 §4.1.2.1: errors about the client or request are shown, not redirected."""
    response = client.get("/authorize", query_string=args)
    assert response.status_code in (400, 401)
    assert response.mimetype == "text/html"
    assert error in response.text
    assert "Location" not in response.headers


def test_wrong_password_shows_the_form_again(flow):
    """A wrong password is a 401 page with the form; the right one then goes on."""
    login_url = flow.authorize(flow.request_uri()).location
    wrong = flow.login(login_url, password="nope")
    assert wrong.status_code == 401
    assert "Wrong username or password" in wrong.text
    assert flow.login(login_url).status_code == 303


def test_deny_sends_access_denied_with_state_and_iss(flow):
    """Deny is a first-class outcome: error=access_denied back at the client (RFC 6749 §4.1.2.1)."""
    consent_url = flow.login(flow.authorize(flow.request_uri()).location).location
    response = flow.consent(consent_url, decision="deny")
    assert response.status_code == 303
    params = query(response.location)
    assert params["error"] == "access_denied"
    assert params["state"] == flow.state
    assert params["iss"] == "http://localhost:9000"
    assert "code" not in params


def test_consent_cannot_be_submitted_twice(flow):
    """One login issues at most one code, even on a double click."""
    consent_url = flow.login(flow.authorize(flow.request_uri()).location).location
    token = csrf_token(flow.client.get(consent_url).text)
    first = flow.client.post(consent_url, data={"csrf_token": token, "allow": "Allow"})
    second = flow.client.post(consent_url, data={"csrf_token": token, "allow": "Allow"})
    assert first.status_code == 303
    assert second.status_code == 400


def test_consent_before_login_goes_to_login(flow):
    """The consent page needs a logged-in user."""
    login_url = flow.authorize(flow.request_uri()).location
    response = flow.client.get(login_url.replace("/login", "/consent"))
    assert response.status_code == 303
    assert response.location.endswith("/login")


def test_login_form_without_csrf_token_is_refused(flow):
    """The login form carries a CSRF token; a post without it is a readable 400 page."""
    login_url = flow.authorize(flow.request_uri()).location
    response = flow.client.post(login_url, data={"username": "alice", "password": "alice"})
    assert response.status_code == 400
    assert "form expired" in response.text


def test_login_and_consent_pages_cannot_be_framed(flow):
    """Clickjacking defence: frame-ancestors 'none' and X-Frame-Options on the pages."""
    login_url = flow.authorize(flow.request_uri()).location
    page = flow.client.get(login_url)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_has_its_own_name_and_flags(flow):
    """Both the AS and the client live on localhost: distinct cookie names, HttpOnly, Lax."""
    response = flow.authorize(flow.request_uri())
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("auth_server_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


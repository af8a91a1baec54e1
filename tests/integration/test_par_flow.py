"""All 12 steps of the seed's diagram, across three real services, as a browser would."""

import base64
import json
from urllib.parse import parse_qs
from urllib.parse import urlparse

from .conftest import csrf_token


def query(url):
    """A URL's query parameters as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def session_cookie(browser, name):
    """The JSON inside a Flask session cookie (signed, not encrypted: anyone can read it)."""
    payload = browser.cookies.get(name).split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def log_in(browser, stack, username="alice"):
    """Steps 1-7 through the browser; returns the redirect to the client's callback."""
    home = browser.get(stack.client + "/")
    # Step 1: the user clicks "Log in"; steps 2-3 (the push) happen on the back channel.
    redirect = browser.post(stack.client + "/login", data={"csrf_token": csrf_token(home.text)},
                            allow_redirects=False)
    assert redirect.status_code == 303
    # Step 4: the browser is sent to /authorize with client_id and request_uri only.
    authorize_url = redirect.headers["Location"]
    assert authorize_url.startswith(stack.auth + "/authorize?")
    params = query(authorize_url)
    assert set(params) == {"client_id", "request_uri"}
    assert params["client_id"] == "notes-web"
    assert params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    arrival = browser.get(authorize_url, allow_redirects=False)
    assert arrival.status_code == 303
    # Step 5: authenticate.
    login_url = stack.auth + arrival.headers["Location"]
    login_page = browser.get(login_url)
    assert "Authorization Server" in login_page.text
    logged_in = browser.post(login_url, allow_redirects=False, data={
        "csrf_token": csrf_token(login_page.text), "username": username, "password": username})
    assert logged_in.status_code == 303
    # Steps 5-6: consent, showing the pushed scopes.
    consent_url = stack.auth + logged_in.headers["Location"]
    consent_page = browser.get(consent_url)
    assert "Read your notes" in consent_page.text
    consented = browser.post(consent_url, allow_redirects=False, data={
        "csrf_token": csrf_token(consent_page.text), "allow": "Allow"})
    # Step 7: the code comes back through the browser, with state and iss.
    assert consented.status_code == 303
    return consented.headers["Location"]


def test_all_twelve_steps(browser, stack):
    """Login, push, redirect, consent, code, token exchange, validated ID token, notes."""
    callback_url = log_in(browser, stack)
    assert callback_url.startswith(stack.client + "/callback?")
    params = query(callback_url)
    assert {"code", "state", "iss"} <= set(params)
    assert params["iss"] == stack.auth
    # Steps 8-10 happen when the client receives the callback (back channel).
    landed = browser.get(callback_url, allow_redirects=False)
    assert landed.status_code == 303
    # Steps 11-12: the client calls the API with the Bearer token and shows the notes.
    notes = browser.get(stack.client + landed.headers["Location"])
    assert notes.status_code == 200
    assert "Alice Liddell" in notes.text
    assert "Notes app" in notes.text
    # The tokens stay on the server side: the client's (signed, readable) cookie holds
    # only the id of its server-side login record and a CSRF token.
    assert set(session_cookie(browser, "client_app_session")) == {"login_session_id", "csrf_token"}


def test_adding_a_note_uses_write_notes(browser, stack):
    """The notes page adds a note through notes_api (write:notes), then shows it."""
    browser.get(log_in(browser, stack, username="bob"))
    page = browser.get(stack.client + "/notes")
    added = browser.post(stack.client + "/notes", allow_redirects=False,
                         data={"csrf_token": csrf_token(page.text), "text": "Buy more bricks"})
    assert added.status_code == 303
    assert "Buy more bricks" in browser.get(stack.client + "/notes").text


def test_each_protocol_step_is_logged_without_secrets(browser, stack):
    """The services log each step; no secret or whole token shows up in any log."""
    browser.get(log_in(browser, stack))
    auth_log = stack.log("auth_server")
    assert "step 2-3 par" in auth_log
    assert "step 4 authorize" in auth_log
    assert "tokens issued" in auth_log
    for name in stack.processes:
        log = stack.log(name)
        assert "notes-web-secret" not in log
        assert "eyJ" not in log  # no JWT (they all start with a base64url '{"')


def test_cookies_do_not_collide_across_ports(browser, stack):
    """Both services live on localhost: each keeps its own session cookie."""
    browser.get(log_in(browser, stack))
    names = {cookie.name for cookie in browser.cookies}
    assert {"client_app_session", "auth_server_session"} <= names

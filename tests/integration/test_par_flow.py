"""All 12 steps of the seed's diagram, across three real services, as a browser would."""

import base64
import json
import zlib

from tests.stack import add_note
from tests.stack import authorize
from tests.stack import log_in
from tests.stack import push
from tests.stack import query


def session_cookie(browser, name):
    """The JSON inside a Flask session cookie (signed, not encrypted: anyone can read it).

    A leading "." means its payload is zlib-compressed (itsdangerous does it when it pays).
    """
    value = browser.cookies.get(name)
    payload = value.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(data) if value.startswith(".") else data)


def test_all_twelve_steps(browser, stack):
    """Login, push, redirect, consent, code, token exchange, validated ID token, notes."""
    # Steps 1-7: the code comes back through the browser, with state and iss.
    callback_url = authorize(browser, push(browser, stack))
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
    # only the id of its server-side login record, a CSRF token and the browser's
    # random id (which the client's login bounds count).
    assert set(session_cookie(browser, "client_app_session")) == {"login_session_id", "csrf_token", "browser_id"}


def test_adding_a_note_uses_write_notes(browser, stack):
    """The notes page adds a note through notes_api (write:notes), then shows it."""
    log_in(browser, stack, username="bob")
    add_note(browser, stack, "Buy more bricks")
    assert "Buy more bricks" in browser.get(stack.client + "/notes").text


def test_each_protocol_step_is_logged_without_secrets(browser, stack):
    """The services log each step; no secret or whole token shows up in any log."""
    log_in(browser, stack)
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
    log_in(browser, stack)
    names = {cookie.name for cookie in browser.cookies}
    assert {"client_app_session", "auth_server_session"} <= names

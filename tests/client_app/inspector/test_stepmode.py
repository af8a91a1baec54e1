"""stepmode.py: step-by-step mode pauses before steps 2, 8 and 11 until "Send step N"."""

import pytest
from sqlalchemy import select

from client_app.models import db
from client_app.stepmode import COOKIE_NAME
from client_app.stepmode import Pause


@pytest.fixture
def stepwise(flow):
    """The flow helper, with step-by-step mode switched on in its browser."""
    response = flow.post_form("/inspector/step-mode", {"on": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/inspector"
    return flow


def send(flow, step):
    """Click "Send step N" on the inspector."""
    return flow.post_form(f"/inspector/send/{step}", page="/inspector")


def pauses(app):
    """Every Pause row, as (step, released)."""
    with app.app_context():
        return [(p.step, p.released) for p in db.session.scalars(select(Pause))]


def test_the_whole_flow_waits_three_times(stepwise, notes_api, expect_page):
    """Before the push, the token request and the API call; each Send does exactly that step."""
    flow = stepwise
    # Step 1, then a pause: nothing pushed yet.
    paused = flow.start()
    assert paused.headers["Location"] == "/inspector#step-2"
    assert flow.auth_server.pushes == []
    assert flow.row().request_uri is None
    expect_page(flow.client.get("/inspector"), 200, "Paused before step 2", "Send step 2")
    # Send step 2: push (2-3), then the browser goes on to the AS (4).
    sent = send(flow, 2)
    assert sent.status_code == 303
    assert sent.headers["Location"].startswith("http://as.test:9000/authorize?client_id=notes-web&request_uri=")
    assert len(flow.auth_server.pushes) == 1
    # Step 7 comes back; the token request waits.
    waiting = flow.callback()
    assert waiting.headers["Location"] == "/inspector#step-8"
    assert flow.auth_server.token_requests == []
    expect_page(flow.client.get("/inspector"), 200, "Paused before step 8", "expires a minute")
    # Send step 8: code exchange; the notes page then waits before the API call.
    assert send(flow, 8).headers["Location"] == "/notes"
    assert len(flow.auth_server.token_requests) == 1
    assert flow.row().logged_in
    assert flow.client.get("/notes").headers["Location"] == "/inspector#step-11"
    assert notes_api.requests == []
    # Send step 11: the notes page makes its call.
    assert send(flow, 11).headers["Location"] == "/notes"
    expect_page(flow.client.get("/notes"), 200, "Buy milk")
    assert len(notes_api.requests) == 1
    # Later visits run straight through.
    expect_page(flow.client.get("/notes"), 200, "Buy milk")
    assert pauses(flow.app) == [(2, True), (8, True), (11, True)]


def test_the_code_waits_in_the_database_and_leaves_it(stepwise):
    """Step 8's pause holds the code until Send, then drops it."""
    flow = stepwise
    flow.start()
    send(flow, 2)
    flow.callback()
    with flow.app.app_context():
        assert db.session.get(Pause, (flow.row().id, 8)).code == "the-code"
    send(flow, 8)
    with flow.app.app_context():
        assert db.session.get(Pause, (flow.row().id, 8)).code is None
    assert flow.auth_server.token_requests[0]["form"]["code"] == "the-code"


def test_a_second_click_sends_nothing(stepwise, expect_page):
    """Send twice (a double click, two workers): one push."""
    flow = stepwise
    flow.start()
    send(flow, 2)
    again = send(flow, 2)
    assert again.headers["Location"] == "/inspector"
    assert len(flow.auth_server.pushes) == 1
    expect_page(flow.client.get("/inspector"), 200, "Nothing was waiting to be sent at step 2")


@pytest.mark.parametrize("step", [8, 11, 5, 1, 99])
def test_only_the_step_that_waits_can_be_sent(stepwise, step):
    """Waiting before step 2: any other Send does nothing."""
    flow = stepwise
    flow.start()
    assert send(flow, step).headers["Location"] == "/inspector"
    assert flow.auth_server.pushes == []
    assert pauses(flow.app) == [(2, False)]


def test_send_without_a_login_does_nothing(flow):
    """No flow in this browser: nothing to send."""
    assert send(flow, 2).headers["Location"] == "/inspector"
    assert flow.auth_server.pushes == []


@pytest.mark.parametrize("path", ["/inspector/send/2", "/inspector/step-mode"])
def test_forms_need_a_csrf_token(stepwise, expect_page, path):
    """Both forms are CSRF-protected, like every form of the client."""
    stepwise.start()
    expect_page(stepwise.client.post(path, data={"on": "1"}), 400, "CSRF")
    assert stepwise.auth_server.pushes == []


def test_off_by_default_and_switchable_off(flow):
    """Without the switch the flow runs straight through; switching off restores that."""
    assert flow.start().headers["Location"].startswith("http://as.test:9000/authorize?")
    flow.post_form("/inspector/step-mode", {"on": "1"})
    assert flow.start().headers["Location"] == "/inspector#step-2"
    flow.post_form("/inspector/step-mode", {"on": "0"}, page="/inspector")
    assert flow.start().headers["Location"].startswith("http://as.test:9000/authorize?")


def test_the_switch_is_the_browsers_and_outlives_its_logins(stepwise, expect_page):
    """Kept in its own cookie and row: logging out and in again keeps it; the session cookie is unchanged."""
    flow = stepwise
    cookie = flow.client.get_cookie(COOKIE_NAME)
    assert cookie.http_only
    flow.start()
    flow.post_form("/logout", page="/inspector")
    assert flow.start().headers["Location"] == "/inspector#step-2"
    assert set(flow.cookie_session()) <= {"login_session_id", "csrf_token", "browser_id", "_flashes"}
    expect_page(flow.client.get("/"), 200, "Step-by-step mode: on")


def test_the_switch_returns_to_the_home_page_when_used_there(flow):
    """back=home returns home; anything else, the inspector (no open redirect)."""
    assert flow.post_form("/inspector/step-mode", {"on": "1", "back": "home"}).headers["Location"] == "/"
    assert flow.post_form("/inspector/step-mode", {"on": "1", "back": "https://evil.example"}
                          ).headers["Location"] == "/inspector"


def test_pauses_go_with_their_login(stepwise):
    """Logging out deletes the login's pauses (and any code one held)."""
    stepwise.start()
    assert pauses(stepwise.app) == [(2, False)]
    stepwise.post_form("/logout", page="/inspector")
    assert pauses(stepwise.app) == []

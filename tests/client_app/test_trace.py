"""trace.py: the real messages of a login, recorded in the database for the inspector."""

import pytest
from sqlalchemy import select

from client_app import trace
from client_app.models import LoginSession
from client_app.models import db
from client_app.trace import TraceMessage


def recorded(flow):
    """This browser's recorded messages, {step: row}, read in a fresh app context."""
    with flow.app.app_context():
        found = trace.messages(flow.row().id)
        db.session.expunge_all()
        return found


def all_rows(app):
    """Every TraceMessage row in the database."""
    with app.app_context():
        rows = db.session.scalars(select(TraceMessage)).all()
        db.session.expunge_all()
        return rows


def test_a_whole_flow_records_every_client_step(flow):
    """Steps 1-4, 7-8, 10-12 as the client saw them; 5, 6 and 9 are the AS's to tell."""
    flow.complete()
    flow.client.get("/notes")
    found = recorded(flow)
    assert sorted(found) == [1, 2, 3, 4, 7, 8, 10, 11, 12]
    kinds = {n: (m.kind, m.method, m.status) for n, m in found.items()}
    assert kinds == {1: ("request", "POST", None), 2: ("request", "POST", None), 3: ("response", None, 201),
                     4: ("response", None, 303), 7: ("request", "GET", None), 8: ("request", "POST", None),
                     10: ("response", None, 200), 11: ("request", "GET", None), 12: ("response", None, 200)}
    channels = {n: m.channel for n, m in found.items()}
    assert channels == {1: "front", 2: "back", 3: "back", 4: "front", 7: "front", 8: "back",
                        10: "back", 11: "back", 12: "back"}


def test_messages_are_the_real_ones(flow):
    """URLs, hosts, headers and bodies as they crossed the wire."""
    flow.complete()
    flow.client.get("/notes")
    found = recorded(flow)
    assert found[1].url == "http://localhost/login"
    assert found[1].body.startswith("csrf_token=")
    assert found[2].url == "http://as.test:9000/oauth/par"
    assert found[2].to_host == "as.test:9000"
    assert dict(found[2].headers)["Authorization"].startswith("Basic ")
    assert "code_challenge_method=S256" in found[2].body
    assert '"request_uri": "urn:ietf:params:oauth:request_uri:req-1"' in found[3].body
    assert dict(found[4].headers)["Location"].startswith("http://as.test:9000/authorize?client_id=notes-web")
    assert "code=the-code" in found[7].url
    assert "code=the-code" in found[8].body
    assert '"access_token": "access-token-1"' in found[10].body
    assert dict(found[11].headers)["Authorization"] == "Bearer access-token-1"
    assert found[11].to_host == "notes-api.test:8000"
    assert "Buy milk" in found[12].body


def test_the_browsers_cookie_is_not_recorded(flow):
    """The session cookie is this browser's key to its login: never stored in a message."""
    flow.complete()
    found = recorded(flow)
    cookies = [value for m in found.values() for name, value in m.headers if name.lower() == "cookie"]
    assert cookies and set(cookies) == {"[not recorded]"}


def test_the_first_message_of_a_step_wins(flow):
    """Reloading the notes calls the API again; step 11 stays the flow's first call."""
    flow.complete()
    flow.client.get("/notes")
    first = recorded(flow)[11].id
    flow.client.get("/notes")
    assert recorded(flow)[11].id == first
    assert len([r for r in all_rows(flow.app) if r.step == 11]) == 1


def test_a_refused_callback_is_still_recorded(flow, expect_page):
    """Step 7 is kept even when the checks refuse it (the flows most worth inspecting)."""
    flow.start()
    expect_page(flow.callback(state="forged"), 400, "Login response rejected")
    found = recorded(flow)
    assert "state=forged" in found[7].url
    assert 8 not in found


def test_messages_die_with_their_login(flow):
    """Logging out deletes the LoginSession, and its messages (tokens included) with it."""
    flow.complete()
    assert all_rows(flow.app)
    flow.post_form("/logout")
    assert flow.rows() == []
    assert all_rows(flow.app) == []


def test_a_refused_push_leaves_only_orphans_that_are_purged(flow, expect_page, monkeypatch):
    """A push the AS refuses saves no login; its messages go at the next login, an hour on."""
    flow.auth_server.par_error = (400, {"error": "invalid_request"})
    expect_page(flow.start(), 502, "refused the login request")
    assert flow.rows() == []
    orphans = all_rows(flow.app)
    assert sorted(r.step for r in orphans) == [2, 3]
    flow.auth_server.par_error = None
    monkeypatch.setattr(trace, "ORPHAN_SECONDS", -10)
    flow.start()
    assert {r.login_id for r in all_rows(flow.app)} == {flow.row().id}


def test_long_bodies_are_cut(app):
    """A message body is stored up to MAX_BODY_CHARS."""
    with app.test_request_context("/login", method="POST", data={"csrf_token": "x" * 30_000}):
        login = LoginSession(id="l1", flow_id="f1")
        trace.record_received(login, 1)
        assert len(trace.messages("l1")[1].body) == trace.MAX_BODY_CHARS


@pytest.mark.parametrize("step", [1, 7])
def test_nothing_is_recorded_without_a_login(app, step):
    """A callback with no login in this browser has no flow to belong to."""
    with app.test_request_context("/callback?code=x"):
        trace.record_received(None, step)
        assert db.session.scalars(select(TraceMessage)).all() == []

"""flow.py: the one definition of the seed's twelve arrows, and the recorder of a login's messages."""

import pytest
from sqlalchemy import select

from client_app.flow import CHANNELS
from client_app.flow import MAX_BODY_CHARS
from client_app.flow import PARTIES
from client_app.flow import PAUSABLE_STEPS
from client_app.flow import STEPS
from client_app.flow import TraceMessage
from client_app.flow import messages
from client_app.flow import party
from client_app.flow import record_received
from client_app.flow import step
from client_app.models import LoginSession
from client_app.models import db

# The seed's arrows (par-flow.md), as (from, to): the order a learner studies.
SEED_ARROWS = [("user", "client"), ("client", "as"), ("as", "client"), ("client", "as"),
               ("as", "user"), ("user", "as"), ("as", "client"), ("client", "as"),
               ("as", "as"), ("as", "client"), ("client", "rs"), ("rs", "client")]


def test_twelve_steps_numbered_in_order():
    """Steps 1 to 12, once each, in the seed's order of parties."""
    assert [s.number for s in STEPS] == list(range(1, 13))
    assert [(s.source, s.target) for s in STEPS] == SEED_ARROWS


def test_four_parties_with_their_colours():
    """The seed's four lifelines; the client in its page colour."""
    assert [p.name for p in PARTIES] == ["User", "Client", "Authorization Server", "Resource Server"]
    assert party("client").colour == "#1f5fbf"
    assert party("as").colour == "#6b3fa0"
    assert party("rs").colour == "#1e7d4f"


def test_channels_follow_who_talks():
    """The browser carries every step the user is in, and 4 and 7; services talk directly."""
    for s in STEPS:
        assert s.channel in CHANNELS
        if s.source == s.target:
            assert s.channel == "internal"
        elif "user" in (s.source, s.target) or s.number in (4, 7):
            assert s.channel == "front"
        else:
            assert s.channel == "back"


def test_step_by_step_pauses_before_the_clients_back_channel_requests():
    """Push, token request, API call."""
    assert PAUSABLE_STEPS == (2, 8, 11)


def test_every_step_explains_itself():
    """Each step has the seed's label and one sentence for the inspector."""
    for s in STEPS:
        assert s.label and s.explanation.endswith(".")


@pytest.mark.parametrize("number", [0, 13, -1, None])
def test_no_such_step(number):
    """step() answers None outside 1-12."""
    assert step(number) is None


# -- the recorder: the real messages of a login, kept in the database for the inspector


def recorded(flow):
    """This browser's recorded messages, {step: row}, read in a fresh app context."""
    with flow.app.app_context():
        found = messages(flow.row().id)
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
    """Step 7 is kept even when a check after the state refuses it (the flows most worth inspecting)."""
    flow.start()
    expect_page(flow.callback(iss="http://evil.test"), 400, "Login response rejected")
    found = recorded(flow)
    assert "iss=http://evil.test" in found[7].url
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
    monkeypatch.setattr("client_app.flow.ORPHAN_SECONDS", -10)
    flow.start()
    assert {r.login_id for r in all_rows(flow.app)} == {flow.row().id}


def test_long_bodies_are_cut(app):
    """A message body is stored up to MAX_BODY_CHARS."""
    with app.test_request_context("/login", method="POST", data={"csrf_token": "x" * 30_000}):
        login = LoginSession(id="l1", flow_id="f1")
        record_received(login, 1)
        assert len(messages("l1")[1].body) == MAX_BODY_CHARS


@pytest.mark.parametrize("number", [1, 7])
def test_nothing_is_recorded_without_a_login(app, number):
    """A callback with no login in this browser has no flow to belong to."""
    with app.test_request_context("/callback?code=x"):
        record_received(None, number)
        assert db.session.scalars(select(TraceMessage)).all() == []

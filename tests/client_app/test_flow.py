"""flow.py: the one definition of the seed's twelve arrows, and the recorder of a login's messages."""

import pytest
from flask import Response
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from client_app.flow import CHANNELS
from client_app.flow import MAX_BODY_CHARS
from client_app.flow import PARTIES
from client_app.flow import PAUSABLE_STEPS
from client_app.flow import STEPS
from client_app.fapi.dpop import DPoPNonce
from client_app.flow import UNFINISHED_LOGIN_SECONDS
from client_app.flow import TraceMessage
from client_app.flow import forget_old_logins
from client_app.flow import messages
from client_app.flow import party
from client_app.flow import record_received
from client_app.flow import record_sent
from client_app.flow import step
from client_app import oauth_client
from client_app.models import LoginSession
from client_app.models import db
from client_app.models import now
from client_app.stepmode import Pause

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


def test_a_request_stores_its_messages_together_as_it_ends(flow):
    """POST /login records steps 1-4 and stores them with one INSERT, not one per message."""
    inserts = []
    with flow.app.app_context():
        engine = db.engine

    def count(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO trace_message"):
            inserts.append(len(parameters) if executemany else 1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        flow.start()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sorted(recorded(flow)) == [1, 2, 3, 4]
    assert inserts == [4]


def test_a_failed_token_exchange_is_still_recorded(flow, expect_page):
    """The AS refuses the code: steps 7, 8 and 10 are kept, 10 with the AS's error."""
    flow.start()
    flow.auth_server.token_error = (400, {"error": "invalid_grant"})
    expect_page(flow.callback(), 400, "refused")
    found = recorded(flow)
    assert sorted(found) == [1, 2, 3, 4, 7, 8, 10]
    assert found[10].status == 400 and "invalid_grant" in found[10].body


def test_a_crash_after_recording_keeps_the_messages(flow, monkeypatch):
    """A bug after the token response (a 500) rolls back the request's work, not its messages."""
    flow.start()

    store_tokens = oauth_client._store_tokens

    def crash(login, tokens):
        store_tokens(login, tokens)  # the tokens are on the row, not yet committed
        raise RuntimeError("a bug after the tokens arrived")

    monkeypatch.setattr(oauth_client, "_store_tokens", crash)
    with pytest.raises(RuntimeError):  # TESTING: Flask lets the test see it; a user sees a 500 page
        flow.callback()
    assert sorted(recorded(flow)) == [1, 2, 3, 4, 7, 8, 10]
    assert flow.row().access_token is None


def test_a_recorder_failure_does_not_fail_the_login(flow, monkeypatch, caplog):
    """The inspector is a teaching aid: its database write failing must not cost the user the login."""
    monkeypatch.setattr("client_app.flow.ADD_MESSAGE", text("INSERT INTO no_such_table VALUES (1)"))
    response = flow.start()
    assert response.status_code == 303
    assert flow.row().request_uri is not None
    assert recorded(flow) == {}
    assert "messages of this request not recorded" in caplog.text


def test_a_login_ended_by_its_own_request_keeps_no_messages(flow, notes_api, expect_page):
    """The API refuses the token twice: the session-expired page deletes the login, and the
    messages the request recorded (step 11's carries the access token) are not stored after it."""
    invalid = (401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    flow.complete()
    notes_api.answers = [invalid, invalid]
    expect_page(flow.client.get("/notes"), 401, "Your session has expired")
    assert flow.rows() == []
    assert all_rows(flow.app) == []


def test_messages_die_with_their_login(flow):
    """Logging out deletes the LoginSession, and its messages (tokens included) with it."""
    flow.complete()
    assert all_rows(flow.app)
    flow.post_form("/logout")
    assert flow.rows() == []
    assert all_rows(flow.app) == []


def test_a_refused_push_leaves_no_messages(flow, expect_page):
    """A push the AS refuses saves no login, so nothing could show its messages: none are stored."""
    flow.auth_server.par_error = (400, {"error": "invalid_request"})
    expect_page(flow.start(), 502, "refused the login request")
    assert flow.rows() == []
    assert all_rows(flow.app) == []


# -- how long a login is kept: LOGIN_LIFETIME, and an hour for one never finished


def make_login(app, login_id, age, finished):
    """A login of another browser, `age` seconds old, with two recorded messages."""
    with app.app_context():
        at = now() - age
        db.session.add(LoginSession(id=login_id, flow_id="f", created_at=at,
                                    access_token="a-token" if finished else None))
        for number in (2, 3):
            db.session.add(TraceMessage(login_id=login_id, step=number, kind="request", headers=[],
                                        channel="back", from_host="c", to_host="a", recorded_at=at))
        db.session.commit()


def logins_and_messages(app):
    """{login id: how many messages it has} over every row, orphans included (no login)."""
    with app.app_context():
        logins = set(db.session.scalars(select(LoginSession.id)))
        found = {login_id: 0 for login_id in logins}
        for row in db.session.scalars(select(TraceMessage)):
            key = row.login_id if row.login_id in logins else ("orphan", row.login_id)
            found[key] = found.get(key, 0) + 1
        return found


def test_a_login_past_its_lifetime_is_signed_out_then_forgotten(flow):
    """Past LOGIN_LIFETIME the browser is signed out; its row and messages go at the next login start."""
    flow.complete()
    old = flow.row().id
    with flow.app.app_context():
        db.session.execute(update(LoginSession).values(created_at=now() - flow.app.config["LOGIN_LIFETIME"] - 1))
        db.session.commit()
    response = flow.client.get("/notes")
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    make_login(flow.app, "other-browser", age=60, finished=True)
    flow.start()
    found = logins_and_messages(flow.app)
    assert old not in found and ("orphan", old) not in found
    assert found.pop("other-browser") == 2
    [(new, recorded_messages)] = found.items()  # only the login just started, recorded
    assert recorded_messages > 0 and new != old


def test_an_abandoned_login_goes_after_an_hour_a_finished_one_stays(flow):
    """A login that never came back from the AS is forgotten after an hour; one with tokens is kept."""
    make_login(flow.app, "abandoned", age=UNFINISHED_LOGIN_SECONDS + 1, finished=False)
    make_login(flow.app, "finished", age=UNFINISHED_LOGIN_SECONDS + 1, finished=True)
    make_login(flow.app, "just-started", age=60, finished=False)
    flow.start()
    found = logins_and_messages(flow.app)
    assert "abandoned" not in found and ("orphan", "abandoned") not in found
    assert found["finished"] == 2 and found["just-started"] == 2


def test_messages_older_than_any_login_go(flow):
    """Messages left without a login (it was deleted as a request stored them) go once older than the lifetime."""
    with flow.app.app_context():
        lifetime = flow.app.config["LOGIN_LIFETIME"]
        for login_id, age in (("died-long-ago", lifetime + 1), ("died-now", 60)):
            db.session.add(TraceMessage(login_id=login_id, step=2, kind="request", headers=[], channel="back",
                                        from_host="c", to_host="a", recorded_at=now() - age))
        db.session.commit()
    flow.start()
    found = logins_and_messages(flow.app)
    assert ("orphan", "died-long-ago") not in found
    assert found[("orphan", "died-now")] == 1


def test_forgetting_old_logins_reads_only_indexes(app):
    """Each statement of the purge searches an index: it costs what it deletes, not every login ever made."""
    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    with app.test_request_context():
        event.listen(db.engine, "before_cursor_execute", keep)
        try:
            forget_old_logins()
        finally:
            event.remove(db.engine, "before_cursor_execute", keep)
        assert len(statements) == 2  # the logins to forget (none here), messages older than any login
        plans = [[row[-1] for row in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                                 parameters)]
                 for statement, parameters in statements]
        db.session.rollback()
    assert not [step for plan in plans for step in plan if step.startswith("SCAN")], plans
    # Expired logins by age; unfinished ones by the partial index (not every login older than an hour).
    assert any("ix_login_session_created_at" in step for step in plans[0]), plans[0]
    assert any("ix_login_session_unfinished" in step for step in plans[0]), plans[0]
    assert any("ix_trace_message_recorded_at" in step for step in plans[1]), plans[1]


def test_a_forgotten_login_takes_its_pauses_and_dpop_nonce_along(flow):
    """Every module's rows for a login go with it: step-by-step pauses, the AS's last DPoP nonce."""
    make_login(flow.app, "expired", age=flow.app.config["LOGIN_LIFETIME"] + 1, finished=True)
    with flow.app.app_context():
        db.session.add(Pause(login_id="expired", step=8, code="a-code"))
        db.session.add(DPoPNonce(login_id="expired", nonce="n"))
        db.session.commit()
    flow.start()
    with flow.app.app_context():
        assert db.session.get(Pause, ("expired", 8)) is None
        assert db.session.get(DPoPNonce, "expired") is None
    assert "expired" not in logins_and_messages(flow.app)


def test_a_few_old_logins_go_at_each_login_start(flow, monkeypatch):
    """A backlog (a start after a quiet day) goes FORGET_AT_ONCE logins per start, never all at once."""
    monkeypatch.setattr("client_app.flow.FORGET_AT_ONCE", 1)
    for login_id in ("old-1", "old-2"):
        make_login(flow.app, login_id, age=flow.app.config["LOGIN_LIFETIME"] + 1, finished=True)
    flow.start()
    assert len({"old-1", "old-2"} & set(logins_and_messages(flow.app))) == 1
    flow.start()
    assert not {"old-1", "old-2"} & set(logins_and_messages(flow.app))


def test_long_bodies_are_cut(app):
    """A message body is stored up to MAX_BODY_CHARS."""
    with app.app_context():
        db.session.add(LoginSession(id="l1", flow_id="f1"))
        db.session.commit()
    with app.test_request_context("/login", method="POST", data={"csrf_token": "x" * 30_000}):
        record_received(db.session.get(LoginSession, "l1"), 1)
    with app.app_context():  # stored as the request ended
        assert len(messages("l1")[1].body) == MAX_BODY_CHARS


def test_outside_a_request_a_message_is_stored_at_once(app):
    """A script (no request to end) records step 4: it is in the database straight away."""
    with app.app_context():
        login = LoginSession(id="l2", flow_id="f2")
        db.session.add(login)
        db.session.commit()
        record_sent(login, 4, Response(status=303, headers={"Location": "http://as.test/authorize"}))
        found = messages("l2")
        assert dict(found[4].headers)["Location"] == "http://as.test/authorize"
        assert found[4].to_host == "browser"


@pytest.mark.parametrize("number", [1, 7])
def test_nothing_is_recorded_without_a_login(app, number):
    """A callback with no login in this browser has no flow to belong to."""
    with app.test_request_context("/callback?code=x"):
        record_received(None, number)
        assert db.session.scalars(select(TraceMessage)).all() == []

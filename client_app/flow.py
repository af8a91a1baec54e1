"""The flow: the seed's twelve steps as data, and the recorder of each login's real messages.

The steps (par-flow.md's diagram) are defined once, here: the inspector's diagram, its
step pages, the exports, the recorder and the tests all read this one list, so the
picture a learner studies and the code that runs the flow cannot drift apart.

The recorder keeps the real HTTP messages of one login for the inspector. The protocol
code calls one of three hooks at each step it takes:
  record_received(login, number)        a request the browser sent us (steps 1, 7)
  record_sent(login, number, response)  a response we sent the browser (step 4)
  record_exchange(login, a, b, response)
                                        a back-channel call and its answer (2-3, 8-10, 11-12)
Messages are rows in the database, keyed by the LoginSession's id, because the
request that records step 2 and the one that shows the inspector may be served by
different gunicorn workers. A request's messages are stored together as it ends (a
failed one too), in one transaction, before its answer leaves. A step is recorded
once: the first message wins, so a later API call (or a replayed callback) does not
overwrite what the flow did.

Messages are stored as sent, secrets included, like the tokens in LoginSession, and
die with it; whoever shows them masks them (masking.py).
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import current_app
from flask import g
from flask import has_request_context
from flask import request
from sqlalchemy import JSON
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .models import LoginSession
from .models import db
from .models import now

log = logging.getLogger("client_app")


@dataclass(frozen=True)
class Party:
    """One column of the diagram: who takes part in the flow."""

    key: str
    name: str
    colour: str


@dataclass(frozen=True)
class Step:
    """One numbered arrow of the diagram."""

    number: int
    source: str  # a Party key
    target: str  # a Party key
    label: str  # the seed's words for the arrow
    channel: str  # one of CHANNELS
    explanation: str  # one sentence for the inspector


# The four lifelines, left to right, with each party's page colour.
PARTIES = (
    Party("user", "User", "#333333"),
    Party("client", "Client", "#1f5fbf"),
    Party("as", "Authorization Server", "#6b3fa0"),
    Party("rs", "Resource Server", "#1e7d4f"),
)

# front: carried by the browser (redirects, pages, forms); back: one service calling
# another directly; internal: the authorization server working on its own.
CHANNELS = {
    "front": "front channel (through the browser)",
    "back": "back channel (service to service)",
    "internal": "inside the authorization server",
}

STEPS = (
    Step(1, "user", "client", "Login", "front",
         "The user clicks Log in; the browser POSTs the form to the client."),
    Step(2, "client", "as", "Post Request to PAR endpoint", "back",
         "The client authenticates and pushes the whole authorization request (RFC 9126 §2.1)."),
    Step(3, "as", "client", "Response", "back",
         "201 Created with a one-time request_uri and its lifetime (RFC 9126 §2.2)."),
    Step(4, "client", "as", "Redirect user to Authorization server", "front",
         "The client redirects the browser with only client_id and request_uri (RFC 9126 §4)."),
    Step(5, "as", "user", "Authenticate User & Display Consent", "front",
         "The authorization server shows its login page, then the pushed scopes for consent."),
    Step(6, "user", "as", "Give Consent", "front",
         "The user allows (or denies) what the client asked for."),
    Step(7, "as", "client", "Return Authorization Code", "front",
         "The browser is redirected to the client's callback with code, state and iss (RFC 9207)."),
    Step(8, "client", "as", "Token Request with Authorization Code", "back",
         "The client sends the code, its PKCE code_verifier and its credentials (RFC 6749 §4.1.3)."),
    Step(9, "as", "as", "Validate Request", "internal",
         "The authorization server checks the client, the code, the redirect_uri and PKCE."),
    Step(10, "as", "client", "Access Token Response", "back",
         "Access token, refresh token and ID token, kept on the client's server (RFC 6749 §5.1)."),
    Step(11, "client", "rs", "Request Resource", "back",
         "The client calls the API with the access token as a Bearer header (RFC 6750 §2.1)."),
    Step(12, "rs", "client", "Protected Resource", "back",
         "The API checks the token's signature, audience and scope, then answers."),
)

# Step-by-step mode pauses before each request the client itself sends on the back
# channel (push, token request, API call), so an instructor can explain it first.
PAUSABLE_STEPS = tuple(s.number for s in STEPS if s.channel == "back" and s.source == "client")


def party(key):
    """The Party with this key."""
    return next(p for p in PARTIES if p.key == key)


def step(number):
    """The Step with this number, or None."""
    return next((s for s in STEPS if s.number == number), None)


# -- the recorder: each login's real messages ----------------------------------------

# Bodies longer than this are cut (an API answer can be long; the point is to see it).
MAX_BODY_CHARS = 20_000
# Headers never stored: the browser's session cookie is its key to this login.
UNRECORDED_HEADERS = {"cookie", "set-cookie"}
# A login that never came back from the AS (abandoned in the browser) is forgotten after this.
UNFINISHED_LOGIN_SECONDS = 3600
# Old logins forgotten per login start, at most (about 2 ms each): each start adds one,
# so the purge keeps up, and a start after a quiet day does not stall on the backlog.
FORGET_AT_ONCE = 10


class TraceMessage(db.Model):
    """One HTTP message of one login's flow, as it crossed the wire."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The LoginSession's id (no foreign key: the recorder checks the login is saved,
    # and deleting a login deletes its messages, _forget_with_login).
    login_id: Mapped[str] = mapped_column(String(64), index=True)
    step: Mapped[int] = mapped_column(Integer)
    # "request" or "response"; a request has a method and URL, a response a status.
    kind: Mapped[str] = mapped_column(String(8))
    method: Mapped[str | None] = mapped_column(String(8))
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[list] = mapped_column(JSON)  # [[name, value], ...] in order
    body: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(8))
    from_host: Mapped[str] = mapped_column(String(255))
    to_host: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[int] = mapped_column(Integer, default=now, index=True)


def record_received(login, number):
    """Record the request the browser just sent us (the current Flask request)."""
    if login is None:
        return
    # Flask-WTF has already parsed the form (CSRF check), so rebuild its body from it.
    body = urlencode(list(request.form.items(multi=True))) if request.form else ""
    _add(login, _message(number, "request", method=request.method, url=request.url,
                         headers=request.headers.items(), body=body,
                         from_host=f"browser ({request.remote_addr})", to_host=request.host))


def record_sent(login, number, response):
    """Record a response we are about to send the browser (a redirect)."""
    _add(login, _message(number, "response", status=response.status_code, headers=response.headers.items(),
                         body=response.get_data(as_text=True), from_host=_own_host(), to_host="browser"))


def record_exchange(login, request_step, response_step, response):
    """Record a back-channel call (a `requests` response) as two messages, stored together."""
    sent = response.request
    body = sent.body.decode("utf-8", "replace") if isinstance(sent.body, bytes) else sent.body or ""
    peer = urlsplit(sent.url).netloc
    _add(login,
         _message(request_step, "request", method=sent.method, url=sent.url,
                  headers=sent.headers.items(), body=body, from_host=_own_host(), to_host=peer),
         _message(response_step, "response", status=response.status_code,
                  headers=response.headers.items(), body=response.text, from_host=peer, to_host=_own_host()))


def messages(login_id):
    """This login's recorded messages, by step number."""
    rows = db.session.scalars(select(TraceMessage).where(TraceMessage.login_id == login_id)
                              .order_by(TraceMessage.id))
    found = {}
    for row in rows:
        found.setdefault(row.step, row)
    return found


# The recorder's two statements, built once (they run at the end of every request that recorded a message).
# Core, not ORM objects: nothing reads the messages back in this request.
logins, trace_messages = LoginSession.__table__, TraceMessage.__table__
# A saved login's recorded steps: a row per step, or one row with step None if it has
# none yet; no row at all if the login was never saved or is gone.
LOGIN_AND_ITS_STEPS = (select(trace_messages.c.step)
                       .select_from(logins.outerjoin(trace_messages, trace_messages.c.login_id == logins.c.id))
                       .where(logins.c.id == bindparam("login_id")))
ADD_MESSAGE = trace_messages.insert()


def _message(number, kind, headers, body, from_host, to_host, method=None, url=None, status=None):
    """One message as a row of TraceMessage (its login's id is added when it is stored)."""
    return {
        "step": number, "kind": kind, "method": method, "url": url, "status": status,
        "headers": [[name, "[not recorded]" if name.lower() in UNRECORDED_HEADERS else value]
                    for name, value in headers],
        "body": (body or "")[:MAX_BODY_CHARS], "channel": step(number).channel,
        "from_host": from_host, "to_host": to_host,
    }


def _add(login, *messages):
    """Keep a login's messages until the request ends (store_recorded).

    Outside a request (a script, a test) they are stored at once, and the commit that
    stores them commits whatever else the caller has pending, as a commit does.
    """
    rows = [{**message, "login_id": login.id} for message in messages]
    if has_request_context():
        g.setdefault("recorded", []).extend(rows)
    else:
        _store(rows)


def store_recorded(error=None):
    """teardown_request: store the messages this request recorded, in one transaction.

    At the request's end, even one that failed: the flows that fail are the ones most
    worth inspecting. The request's own writes were committed by its own code;
    whatever it left uncommitted (a failed request's half-done work) is dropped first,
    never stored with the messages.
    """
    pending = g.pop("recorded", [])
    if pending:
        _store(pending, drop_uncommitted=True)


def _store(rows, drop_uncommitted=False):
    """Store messages (the first one of each step wins) for logins that are saved.

    One INSERT and one commit, however many steps. A push the AS refused saves no
    login, and a login deleted meanwhile (logged out, expired) keeps nothing.
    """
    by_login = {}
    for row in rows:
        by_login.setdefault(row["login_id"], []).append(row)
    try:
        if drop_uncommitted:
            db.session.rollback()
        new = []
        for login_id, rows_of_login in by_login.items():
            found = db.session.execute(LOGIN_AND_ITS_STEPS, {"login_id": login_id}).all()
            if not found:
                continue  # no such login
            taken = {row.step for row in found}
            for row in rows_of_login:
                if row["step"] not in taken:
                    taken.add(row["step"])
                    new.append(row)
        if new:
            db.session.execute(ADD_MESSAGE, new)
        db.session.commit()
    except Exception:  # noqa: BLE001 (deliberately broad: the inspector must never break a login)
        # Nothing to undo by hand in a request: Flask-SQLAlchemy ends its session right
        # after. (A script that goes on after this must roll back before its next query.)
        log.warning("inspector: messages of this request not recorded", exc_info=True)


def _own_host():
    """This client's host:port as the browser reaches it."""
    if has_request_context():
        return request.host
    return urlsplit(current_app.config["REDIRECT_URI"]).netloc


def forget_old_logins():
    """Delete logins past LOGIN_LIFETIME, and unfinished ones an hour old; a few at a time.

    Run at each login start. Each login is deleted as an ORM object, so every module's
    after_delete hook deletes what it keeps for that login (its messages below, its
    step-by-step pauses, its DPoP nonce). The statements read indexes (created_at and
    the partial index of unfinished logins; then keys): a login start costs the logins
    it deletes, not the number the client has ever seen.
    """
    at = now()
    lifetime = current_app.config["LOGIN_LIFETIME"]
    for login in db.session.scalars(OLD_LOGINS, {"expired_before": at - lifetime, "at_once": FORGET_AT_ONCE,
                                                 "abandoned_before": at - UNFINISHED_LOGIN_SECONDS}):
        db.session.delete(login)
    # Left behind if a login was deleted (a logout in another tab) just as a request
    # of its stored its messages: every message of a live login is younger than the lifetime.
    db.session.execute(STRAY_MESSAGES, {"before": at - lifetime})


# forget_old_logins' statements, built once (every login start runs them).
# Expired, or unfinished and abandoned: one index for each side of the OR.
OLD_LOGINS = select(LoginSession).where(
    (LoginSession.created_at < bindparam("expired_before"))
    | (LoginSession.access_token.is_(None) & (LoginSession.created_at < bindparam("abandoned_before")))
).limit(bindparam("at_once"))
STRAY_MESSAGES = trace_messages.delete().where(trace_messages.c.recorded_at < bindparam("before"))


def init_app(app):
    """Store each request's recorded messages as it ends."""
    app.teardown_request(store_recorded)


@event.listens_for(LoginSession, "after_delete")
def _forget_with_login(mapper, connection, target):
    """A login's messages (tokens included) are deleted with it (logout, new login)."""
    connection.execute(delete(TraceMessage).where(TraceMessage.login_id == target.id))

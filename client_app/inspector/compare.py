"""Two flows side by side: what the browser saw, what crossed the back channel, what the token is bound to.

A flow's recorded messages (flow.py) die with its login, at logout or at the next
login. So that a learner can log in with classic, then with PAR, then compare, the
inspector keeps a summary of each flow when its login is deleted (RecordedFlow):
masked by the client's one masking policy (masking.py), never a secret whole and
never a token, whatever INSPECTOR_SHOWS_TOKENS says. A browser keeps its last
KEPT_PER_BROWSER flows for KEPT_SECONDS; the live flow is summarised the same way.
"""

import re
import time
from urllib.parse import parse_qsl
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import has_request_context
from sqlalchemy import JSON
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .. import flow
from .. import masking
from .. import oauth_client
from ..errors import PageError
from ..flow import CHANNELS
from ..flow import STEPS
from ..flow import TraceMessage
from ..models import LoginSession
from ..models import browser_id
from ..models import db
from ..models import now
from . import jwt_view
from .walkthrough import form_of
from .walkthrough import header_of
from .walkthrough import json_of

# A browser keeps this many ended flows, for this long: enough to compare the profiles.
KEPT_PER_BROWSER = 5
KEPT_SECONDS = 24 * 3600
# And at most this many in all: a fresh cookie per login must not grow the table without bound.
KEPT_IN_ALL = 1000
# The live flow's key in the choice of flows (an ended one's key is its row id).
CURRENT = "current"
FLOW_KEY = re.compile(r"current|[0-9]{1,12}")
# The back-channel requests the client sends, and the step that answers each (the seed's pairs).
ANSWERS = {2: 3, 8: 10, 11: 12}


class RecordedFlow(db.Model):
    """An ended flow's masked summary, kept for its browser to compare with others."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Whose flow it is: only this browser (its cookie's random id) may see it.
    browser_id: Mapped[str] = mapped_column(String(64), index=True)
    flow_id: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[int] = mapped_column(Integer, default=now)
    summary: Mapped[dict] = mapped_column(JSON)


class BadFlowChoice(PageError):
    """?a= or ?b= is not a flow key at all."""

    status = 400
    title = "Not a flow"


class UnknownFlow(PageError):
    """?a= or ?b= names no flow this browser has (ended too long ago, or another browser's)."""

    status = 404
    title = "No such flow"


# -- one flow, summarised -------------------------------------------------------------


def summary(login, messages):
    """A flow as plain, masked data: its steps, front and back channel, token binding.

    `messages` are the login's recorded messages, {step: TraceMessage}, as flow.messages gives them.
    """
    profile = oauth_client.known_profile(login.profile)
    if profile is None:
        return None  # a profile no version of this client had: nothing to compare it with
    back_channel = [_back_request(m, messages.get(ANSWERS.get(m.step)))
                    for _, m in sorted(messages.items())
                    if m.kind == "request" and m.channel == "back"]
    return {
        "profile": {"name": profile.name, "title": profile.title, "client_id": profile.client_id},
        "flow_id": login.flow_id,
        "steps": [_step(s, messages, profile) for s in STEPS],
        "front_channel": _front_channel(messages.get(4)),
        "back_channel": back_channel,
        "dpop_proofs": sum(request["dpop"] for request in back_channel),
        "mechanisms": _mechanisms(messages, back_channel),
        "binding": binding(json_of(messages.get(10))),
    }


def _step(step, messages, profile):
    """One of the twelve steps: present or not, its channel, one masked line."""
    message = messages.get(step.number)
    if message is not None:
        state, line = "recorded", _line(message)
    elif step.number in (2, 3) and not profile.pushes:
        state, line = "skipped", "not in this profile: nothing is pushed (RFC 9126 §6)"
    elif step.number in (5, 6) and 7 in messages:
        # The client never sees the AS's pages; the browser coming back (step 7) says they happened.
        state, line = "at the AS", "on the authorization server's pages, in the browser"
    elif step.number == 9 and 10 in messages:
        state, line = "at the AS", f"checked by the authorization server: {_line(messages[10])} at step 10"
    else:
        state, line = "not reached", ""
    return {"number": step.number, "label": step.label, "channel": CHANNELS[step.channel],
            "present": state in ("recorded", "at the AS"), "state": state, "line": line}


def _line(message):
    """A message in one masked line: method and URL, or its status."""
    if message.kind == "request":
        return f"{message.method} {_masked_url(message.url)}"
    location = header_of(message, "location")
    return f"HTTP {message.status}" + (f" → {_masked_url(location)}" if location else "")


def _masked_url(url):
    """A URL with its secret parameters (and any JWT in it) masked."""
    return masking.mask_jwts(masking.mask_url(url or ""))


def _front_channel(redirect):
    """Step 4, the one URL of the request the browser carries: length, exposed parameters, log line."""
    url = header_of(redirect, "location")
    if not url:
        return None
    parts = urlsplit(url)
    exposed = masking.mask_params(parse_qsl(parts.query, keep_blank_values=True))
    return {
        "url": _masked_url(url),
        # The real URL's length: what the browser, its history and every log hold.
        "length": len(url),
        "exposed": [[name, masking.mask_jwts(value)] for name, value in exposed],
        # As the AS's access log writes the request line (gunicorn's %(r)s, Apache's %r).
        "access_log": f'"GET {_masked_url(urlunsplit(("", "", parts.path, parts.query, "")))} HTTP/1.1"',
    }


def _back_request(message, answer):
    """A request the client sent on the back channel: how it authenticated, what it carried."""
    form = form_of(message)
    return {
        "step": message.step,
        "method": message.method,
        "url": _masked_url(message.url),
        "authentication": _authentication(header_of(message, "authorization"), form),
        # RFC 9449 §4.1: a proof travels in the DPoP header.
        "dpop": bool(header_of(message, "dpop")),
        # RFC 9126 §3: the pushed request signed as a request object (RFC 9101).
        "request_object": "request" in form,
        "answer": _line(answer) if answer is not None else "no answer recorded",
    }


def _authentication(authorization, form):
    """How a back-channel request was authenticated: the client's method, or the user's token."""
    scheme = authorization.partition(" ")[0]
    if scheme.lower() in ("bearer", "dpop"):
        return f"the access token ({scheme})"
    if scheme.lower() == "basic":
        return "client_secret_basic"
    if "client_assertion" in form:
        return "private_key_jwt"
    return "client_secret_post" if "client_secret" in form else "none"


def _mechanisms(messages, back_channel):
    """What this flow used, by key: the push, a request object, the secret or a key, DPoP proofs."""
    methods = {request["authentication"] for request in back_channel}
    proofs = sum(request["dpop"] for request in back_channel)
    found = [
        ("push", 2 in messages, "the push: the request sent on the back channel (steps 2-3, RFC 9126 §2)"),
        ("request_object", any(r["request_object"] for r in back_channel),
         "a signed request object (RFC 9101)"),
        ("client_secret", bool(methods & {"client_secret_basic", "client_secret_post"}),
         "the client secret (RFC 6749 §2.3.1)"),
        ("private_key_jwt", "private_key_jwt" in methods,
         "private_key_jwt: client assertions signed with the client's key (RFC 7523 §2.2)"),
        ("dpop", proofs > 0, f"DPoP proofs: {proofs} (RFC 9449 §4)"),
    ]
    return [{"key": key, "text": text} for key, used, text in found if used]


def binding(tokens):
    """What the access token of step 10 is bound to, from its token_type and its cnf claim."""
    token_type = tokens.get("token_type")
    if not isinstance(token_type, str):
        return {"token_type": None, "jkt": None, "text": "No token: the flow has not reached step 10."}
    jkt = _thumbprint(tokens.get("access_token"))
    if token_type.lower() == "bearer":
        text = "Bearer: anyone who holds it can use it (RFC 6750 §1.2)."
    elif token_type.lower() == "dpop" and jkt:
        # A thumbprint is public: it names the key, it does not give it.
        text = (f"DPoP: bound to the key with thumbprint {jkt} (RFC 9449 §6); "
                "a stolen copy is useless without that private key.")
    elif token_type.lower() == "dpop":
        text = "DPoP: bound to the client's DPoP key (RFC 9449 §6); the token shows no cnf claim to read."
    else:
        text = f"{token_type}: a token type this client does not know."
    return {"token_type": token_type, "jkt": jkt, "text": text}


def _thumbprint(access_token):
    """RFC 9449 §6.1: cnf.jkt of a JWT access token, read without verifying (None if none)."""
    try:
        claims = jwt_view.decode_part(access_token.split(".")[1])
    except (AttributeError, IndexError, ValueError, UnicodeDecodeError):
        return None  # not a JWT: an opaque token
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


# -- the flows a browser may compare ----------------------------------------------------


def recorded_flows(login):
    """This browser's flows: the live one first (if it recorded anything), then ended ones, newest first."""
    found = []
    messages = flow.messages(login.id) if login is not None else {}
    if messages:
        # A live login of a profile no longer offered ends here, with a readable page.
        oauth_client.profile_of(login)
        found.append(_choice(CURRENT, summary(login, messages), login.created_at, "this login"))
    rows = db.session.scalars(select(RecordedFlow).where(
        RecordedFlow.browser_id == browser_id(), RecordedFlow.recorded_at >= now() - KEPT_SECONDS)
        .order_by(RecordedFlow.recorded_at.desc(), RecordedFlow.id.desc()))
    found += [_choice(str(row.id), row.summary, row.recorded_at, "ended") for row in rows]
    return found


def _choice(key, flow_summary, started_at, status):
    """One flow to choose from: its key in ?a= and ?b=, a label, its summary."""
    when = time.strftime("%H:%M:%S UTC", time.gmtime(started_at))
    label = f"{flow_summary['profile']['title']}, flow {flow_summary['flow_id']}, {when} ({status})"
    return {"key": key, "label": label, "summary": flow_summary}


def pick(flows, key):
    """The flow a query names (None if none is named yet); a readable 400 or 404 if it names none of ours."""
    if not key:
        return None
    if not FLOW_KEY.fullmatch(key):
        raise BadFlowChoice("Choose the flows to compare from the lists on the compare page.")
    chosen = next((f for f in flows if f["key"] == key), None)
    if chosen is None:
        raise UnknownFlow(f"This browser has no recorded flow {key!r}. Ended flows are kept "
                          f"{KEPT_SECONDS // 3600} hours, the last {KEPT_PER_BROWSER} per browser.")
    return chosen


def comparison(a, b):
    """Two chosen flows side by side: their steps in pairs, and what only one of them has."""
    first, second = a["summary"], b["summary"]
    return {"a": a, "b": b, "steps": list(zip(first["steps"], second["steps"])),
            "only_in": {"a": _only_in(first, second), "b": _only_in(second, first)}}


def _only_in(one, other):
    """The steps and mechanisms one flow has and the other has not."""
    theirs = {s["number"] for s in other["steps"] if s["present"]}
    mechanisms = {m["key"] for m in other["mechanisms"]}
    return {"steps": [s for s in one["steps"] if s["present"] and s["number"] not in theirs],
            "mechanisms": [m for m in one["mechanisms"] if m["key"] not in mechanisms]}


# -- keeping a flow when its login goes --------------------------------------------------


@event.listens_for(LoginSession, "before_delete")
def _keep_summary(mapper, connection, target):
    """Before a login (and its messages) is deleted, keep its flow's masked summary for its browser."""
    # Only a browser's own request (logout, a new login) says whose flow it is.
    if not has_request_context():
        return
    table = TraceMessage.__table__
    rows = connection.execute(select(table).where(table.c.login_id == target.id).order_by(table.c.id))
    messages = {}
    for row in rows:
        # As flow.messages gives them (unsaved copies), first message per step.
        messages.setdefault(row.step, TraceMessage(**row._mapping))
    kept = summary(target, messages) if messages else None
    if kept is None:
        return
    browser = browser_id()
    connection.execute(insert(RecordedFlow).values(
        browser_id=browser, flow_id=target.flow_id, profile=target.profile,
        recorded_at=now(), summary=kept))
    newest = (select(RecordedFlow.id).where(RecordedFlow.browser_id == browser)
              .order_by(RecordedFlow.recorded_at.desc(), RecordedFlow.id.desc()).limit(KEPT_PER_BROWSER))
    connection.execute(delete(RecordedFlow).where(RecordedFlow.browser_id == browser,
                                                  RecordedFlow.id.not_in(newest)))
    connection.execute(delete(RecordedFlow).where(RecordedFlow.recorded_at < now() - KEPT_SECONDS))
    newest_in_all = select(RecordedFlow.id).order_by(RecordedFlow.id.desc()).limit(KEPT_IN_ALL)
    connection.execute(delete(RecordedFlow).where(RecordedFlow.id.not_in(newest_in_all)))

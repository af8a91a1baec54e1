"""Flow traces for teaching: what this server did in one PAR flow, step by step.

The client's inspector shows a learner every message of their flow. Steps 5-6 (the
browser and this server) and step 9 (this server validating the token request)
happen where the client cannot see them, so this server keeps a short record per
flow and tells it to the client that owns the flow:
- the requests it served for the flow: the push (step 2), the browser's arrival
  (step 4), the login and consent pages (steps 5-6) and the redirect back with the
  code (step 7): method, path, status; never a cookie, a form field or a password;
- each token request for the flow's code (step 9): the checks made and their outcomes.

The push itself writes nothing here: its stored request (models.PushedRequest) is
step 2's record, so a push costs one row, not three. A flow's trace starts when the
browser arrives with the request_uri (step 4), from that row; until then, the flow is
told from the pushed request alone, for as long as the server keeps it.

Nothing here changes a decision: it only watches, through Flask's after_request, and at
the token endpoint through an extension of the code grant (Authlib's own seam, as PKCE
and OpenID use) that keeps the grant, whose checks name themselves as they run
(oauth2.py). oauth2.config_oauth(app) switches it on. A flow is found by its
request_uri, or by its code (stored only as a hash). POST /oauth/flow-trace
(views/flows.py) answers only the client that owns the flow.
"""

import logging
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.endpoint import Endpoint
from authlib.oauth2.rfc6749.endpoint import EndpointRequest
from flask import g
from flask import request
from flask import url_for
from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import bindparam
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .models import AuthorizationCode
from .models import Interaction
from .models import PushedRequest
from .models import db
from .models import now
from .models import per_database
from .models import sha256
from .models import this_database
from .par import REQUEST_URI_PREFIX

log = logging.getLogger("auth_server")

# Traces are teaching material, not an audit log: kept one day.
KEEP_SECONDS = 86400
# Traces older than that are deleted as every this-many-th flow starts (its browser
# arrives), not on every request.
PURGE_EVERY = 100
# A path (with its query) is stored up to this length.
MAX_PATH_CHARS = 2000

# Step 9: the checks the token endpoint makes on an authorization_code grant, in the
# order Authlib (and oauth2.py) makes them. A failed check stops the rest. oauth2.py's
# grant names each by its id as it starts; Authlib checks code_present right after
# grant_type_allowed, and a traced request always carries a code (it finds the flow).
CHECKS = (
    ("client_authenticated", "The client proved who it is (client_id and secret)",
     "RFC 6749 §2.3.1, §3.2.1"),
    ("grant_type_allowed", "The client is registered for grant_type=authorization_code",
     "RFC 6749 §5.2 (unauthorized_client)"),
    ("code_present", "The request carries a code", "RFC 6749 §4.1.3"),
    ("code_valid", "The code exists, was issued to this client, is unused and unexpired "
     "(and is used up now, in one UPDATE)", "RFC 6749 §4.1.2, §4.1.3; RFC 9700 §4.2.1"),
    ("redirect_uri_matches", "redirect_uri is identical to the one in the pushed request",
     "RFC 6749 §4.1.3"),
    ("pkce_verified", "PKCE: BASE64URL(SHA256(code_verifier)) equals the pushed code_challenge",
     "RFC 7636 §4.6"),
    ("user_exists", "The user who consented still exists", "RFC 6749 §4.1.3"),
    ("tokens_issued", "Tokens issued for the consented scope and audience",
     "RFC 6749 §5.1; RFC 9068 §2; OIDC Core §3.1.3.3"),
)
# The Flask endpoints (blueprint.view) this module watches after they answer, and the
# step each serves (step 2, the push, writes no trace: its stored request is the record).
WATCHED = {
    "authorize.authorize": 4,
    "authorize.login": 5,
    "authorize.consent": 5,  # GET shows consent (5); POST gives it (6), answered by 7
    "token.token": 9,
}


class FlowTrace(db.Model):
    """One pushed request's flow, owned by the client that pushed it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48))
    request_uri: Mapped[str] = mapped_column(String(160), unique=True)
    # SHA-256 of the code issued at step 7: the token request is matched by it.
    code_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[int] = mapped_column(Integer, default=now, index=True)


class FlowEvent(db.Model):
    """One request this server served for a flow (rows are only ever added)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    trace_id: Mapped[int] = mapped_column(ForeignKey("flow_trace.id"), index=True)
    # "request" (steps 2-7) or "token_request" (step 9).
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    at: Mapped[int] = mapped_column(Integer, default=now)


# The statements run for every watched request, built once: Core statements on the
# tables, as nothing reads the rows back. A request's record is one INSERT ... SELECT
# that finds its flow's trace and adds to it at once; no trace found (a flow without
# PAR, say), no row added.
flow_traces, flow_events = FlowTrace.__table__, FlowEvent.__table__


def _trace_of(key):
    """The condition that picks a flow's trace by one of the keys a request carries."""
    if key == "interaction_id":  # steps 5-7: the login's request_uri names the flow
        logins = Interaction.__table__
        return flow_traces.c.request_uri == db.select(logins.c.request_uri).where(
            logins.c.id == bindparam("interaction_id")).scalar_subquery()
    if key == "request_uri":  # step 4
        return flow_traces.c.request_uri == bindparam("request_uri")
    return flow_traces.c.code_hash == bindparam("code_hash")  # step 9: only the code's hash is kept


def _add_event_statement(key):
    """INSERT INTO flow_event (...) SELECT the trace's id and the event's values."""
    event = db.select(flow_traces.c.id, bindparam("kind", type_=String), bindparam("data", type_=JSON),
                      bindparam("at", type_=Integer)).where(_trace_of(key))
    return flow_events.insert().from_select(["trace_id", "kind", "data", "at"], event)


def _start_trace_statement(dialect):
    """Step 4: store a flow's trace from its pushed request, unless one is stored already."""
    pushed = PushedRequest.__table__.c
    start = dialect.insert(flow_traces).from_select(
        ["client_id", "request_uri", "created_at"],
        db.select(pushed.client_id, bindparam("request_uri", type_=String), pushed.created_at)
        .where(pushed.reference == bindparam("reference")))
    # Two browsers arriving at once with the same request_uri share one trace.
    return start.on_conflict_do_nothing(index_elements=["request_uri"]).returning(flow_traces.c.id)


ADD_EVENT = {key: _add_event_statement(key) for key in ("interaction_id", "request_uri", "code_hash")}
START_TRACE = per_database(_start_trace_statement)
# Step 7: the code's hash, by which the token request (step 9) finds its flow.
SET_CODE_HASH = {key: flow_traces.update().where(_trace_of(key)).values(code_hash=bindparam("issued_code_hash"))
                 for key in ("interaction_id", "request_uri")}


class FlowNotFoundError(InvalidRequestError):
    """No flow with that request_uri or code belongs to the authenticated client."""

    status_code = 404


class FlowTraceEndpoint(Endpoint):
    """POST /oauth/flow-trace: a flow's record, for the client that owns it."""

    ENDPOINT_NAME = "flow_trace"

    def __init__(self, client_auth_methods):
        super().__init__()
        self.client_auth_methods = client_auth_methods

    def validate_request(self, request):
        """Authenticate the client as at the token endpoint; exactly one of request_uri, code."""
        client = self.server.authenticate_client(request, self.client_auth_methods, endpoint="flow_trace")
        keys = [name for name in ("request_uri", "code") if request.form.get(name)]
        if len(keys) != 1:
            raise InvalidRequestError("Send exactly one of 'request_uri' or 'code'.")
        return EndpointRequest(request=request, client=client)

    def create_response(self, validated):
        """The flow's record; 404 alike for an unknown flow and another client's."""
        form = validated.request.form
        if form.get("request_uri"):
            trace = _trace_by_request_uri(form["request_uri"]) or _pushed_only(form["request_uri"])
        else:
            trace = db.session.scalar(db.select(FlowTrace).filter_by(code_hash=sha256(form["code"])))
        # Another client's flow gets the same answer as no flow: nothing leaks.
        if trace is None or trace.client_id != validated.client.client_id:
            raise FlowNotFoundError("No flow with this request_uri or code belongs to this client.")
        return 200, report(trace), [("Content-Type", "application/json"), ("Cache-Control", "no-store")]


def report(trace):
    """A flow's record as JSON-ready data: no secret, no token, no code, no password."""
    events = []
    if trace.id is not None:  # stored: the browser has arrived
        events = db.session.scalars(db.select(FlowEvent).filter_by(trace_id=trace.id).order_by(FlowEvent.id))
    # Step 2 as the pushed request records it: the push writes no trace of its own.
    requests = [{"step": 2, "channel": "back", "method": "POST", "path": url_for("token.pushed_authorization_request"),
                 "status": 201, "note": "pushed request stored; request_uri issued", "at": trace.created_at}]
    token_requests = []
    for event in events:
        (requests if event.kind == "request" else token_requests).append({**event.data, "at": event.at})
    return {
        "client_id": trace.client_id,
        "request_uri": trace.request_uri,
        "pushed_at": trace.created_at,
        "code_issued": trace.code_hash is not None,
        "requests": requests,
        "token_requests": token_requests,
    }


def observe(response):
    """after_request: add what this request did to its flow's trace (never fails it)."""
    step = WATCHED.get(request.endpoint)
    if step is None:
        return response
    try:
        if step == 9:
            _observe_token_request(response)
        else:
            _observe_flow_request(step, response)
    except Exception:  # noqa: BLE001 (deliberately broad, see below)
        # A trace is a teaching aid: losing one must never break the flow it watches.
        db.session.rollback()
        log.warning("flow trace not recorded for %s", request.endpoint, exc_info=True)
    return response


def _observe_flow_request(step, response):
    """Steps 4-7: record method, path, status (and where a redirect goes)."""
    if step == 4:
        request_uri = request.args.get("request_uri") or ""
        if not request_uri.startswith(REQUEST_URI_PREFIX):
            return  # no request_uri this server issued: not a flow it traces
        _start_trace(request_uri)
        key, flow = "request_uri", {"request_uri": request_uri}
    else:
        request_uri = None
        key, flow = "interaction_id", {"interaction_id": (request.view_args or {}).get("interaction_id", "")}
    if request.endpoint == "authorize.consent" and request.method == "POST":
        step = 6
    entry = {"step": step, "channel": "front", "method": request.method,
             "path": request.full_path.rstrip("?")[:MAX_PATH_CHARS], "status": response.status_code}
    location = response.headers.get("Location")
    if location:
        entry["location"], code = _without_values(location)
        if code:
            # Step 7: the code goes back to the client; remember only its hash.
            db.session.execute(SET_CODE_HASH[key], {**flow, "issued_code_hash": sha256(code)})
    entry["note"] = _note(step, response, request_uri)
    db.session.execute(ADD_EVENT[key], {**flow, "kind": "request", "data": entry, "at": now()})
    db.session.commit()


def _start_trace(request_uri):
    """Step 4: the flow's trace is stored when its browser first arrives, from its pushed request.

    Nothing is stored for a request_uri whose pushed request is gone (or never was).
    """
    started = db.session.scalar(this_database(START_TRACE), {
        "request_uri": request_uri, "reference": request_uri.removeprefix(REQUEST_URI_PREFIX)})
    if started is not None and started % PURGE_EVERY == 0:
        db.session.execute(db.delete(FlowEvent).where(FlowEvent.at < now() - KEEP_SECONDS))
        db.session.execute(db.delete(FlowTrace).where(FlowTrace.created_at < now() - KEEP_SECONDS))


def _trace_by_request_uri(request_uri):
    """The stored trace of the flow a request_uri started, if its browser has arrived."""
    if not request_uri:
        return None
    return db.session.scalar(db.select(FlowTrace).filter_by(request_uri=request_uri))


def _pushed_only(request_uri):
    """A flow whose browser has not arrived: its pushed request is all there is (step 2).

    An unsaved FlowTrace built from the stored request, or None once that is gone.
    """
    pushed = _pushed_request(request_uri)
    if pushed is None:
        return None
    return FlowTrace(client_id=pushed.client_id, request_uri=request_uri, created_at=pushed.created_at)


def _pushed_request(request_uri):
    """The stored pushed request a request_uri names, if this server issued it."""
    if not request_uri.startswith(REQUEST_URI_PREFIX):
        return None
    return db.session.scalar(db.select(PushedRequest).filter_by(reference=request_uri.removeprefix(REQUEST_URI_PREFIX)))


def _without_values(location):
    """A redirect's target with its query values hidden; and the code, if it carries one."""
    parts = urlsplit(location)
    params = parse_qsl(parts.query, keep_blank_values=True)
    shown = "&".join(f"{name}=…" for name, _ in params)
    target = parts._replace(query=shown).geturl()
    return target, dict(params).get("code")


def _note(step, response, request_uri):
    """One sentence saying what the request did, as far as its status tells (step 4: its request_uri)."""
    status = response.status_code
    if step == 4 and status >= 400:
        pushed = _pushed_request(request_uri)
        if pushed is not None and pushed.used_at is not None:
            return "refused: this request_uri was already used (one-time use, RFC 9126 §4)"
        return "refused: the request_uri has expired or is unknown (RFC 9126 §4)"
    if step == 4:
        return "request_uri used up; the pushed parameters are the request"
    if step == 5 and request.endpoint == "authorize.login":
        if request.method == "GET":
            return "login page shown"
        return "user authenticated" if status in (302, 303) else "login refused"
    if step == 5:
        return "consent page shown with the pushed scopes"
    location = response.headers.get("Location", "")
    if "error=access_denied" in location:
        return "user denied; access_denied sent back to the client (step 7)"
    if "code=" in location:
        return "user allowed; code sent back to the client through the browser (step 7)"
    return "consent not completed"


def _observe_token_request(response):
    """Step 9: the checks made on an authorization_code token request, and their outcomes."""
    grant = g.get("flow_trace_grant")
    if grant is None or not request.form.get("code"):
        return
    code = request.form["code"]
    body = response.get_json(silent=True) or {}
    entry = {
        "step": 9,
        "status": response.status_code,
        "auth_method": grant.request.auth_method,
        "error": body.get("error"),
        "error_description": body.get("error_description"),
        "checks": checks(grant, response.status_code, body, code),
    }
    db.session.execute(ADD_EVENT["code_hash"], {"code_hash": sha256(code), "kind": "token_request", "data": entry,
                                                 "at": now()})
    db.session.commit()


def checks(grant, status, body, code):
    """The CHECKS list with outcomes: passed, failed, skipped or "not reached".

    The grant names each check as it starts, so a refused request stopped at the one
    it was running: that check failed, every one before it passed.
    """
    failed = None if status == 200 else grant.current_check
    stored_code = grant.request.authorization_code
    results, reached = [], True
    for check_id, label, rule in CHECKS:
        if check_id == failed:
            outcome, reached = "failed", False
        elif not reached:
            outcome = "not reached"
        elif check_id == "pkce_verified" and not stored_code.code_challenge:
            outcome = "skipped"
        else:
            outcome = "passed"
        results.append({"id": check_id, "check": label, "rule": rule, "outcome": outcome,
                        "detail": _detail(check_id, outcome, grant, body, code)})
    return results


def _detail(check_id, outcome, grant, body, code):
    """A short, secret-free explanation of one check's outcome."""
    if outcome == "not reached":
        return ""
    if outcome == "failed":
        if check_id == "code_valid":
            return _why_code_refused(code, grant.request.client.client_id)
        return body.get("error_description") or body.get("error") or ""
    stored_code = grant.request.authorization_code
    if check_id == "client_authenticated":
        return f"{grant.request.client.client_id} via {grant.request.auth_method}"
    if check_id == "redirect_uri_matches":
        return stored_code.redirect_uri
    if check_id == "pkce_verified":
        if outcome == "skipped":
            return "no code_challenge was pushed, so there is no verifier to check (PKCE optional for this client)"
        return f"method {stored_code.code_challenge_method}"
    if check_id == "tokens_issued":
        # Which tokens came out (OpenID's own hook adds the ID token), never their values.
        issued = ", ".join(name for name in ("access_token", "refresh_token", "id_token") if name in body)
        return f"{issued}; scope {body.get('scope', '')!r}"
    return ""


def _why_code_refused(code, client_id):
    """Why the code check failed, read from the stored code (never shown: only its state)."""
    row = db.session.scalar(db.select(AuthorizationCode).filter_by(code=code))
    if row is None:
        return "no such code"
    if row.client_id != client_id:
        return "the code was issued to another client"
    if row.used_at is not None:
        return "the code was already used: a replay, so the tokens it issued were revoked (RFC 6749 §4.1.2)"
    if row.expires_at < now():
        return "the code has expired"
    return "the code was refused"


def watch_token_checks(grant):
    """Code-grant extension (registered in oauth2.py): watch this grant's token request."""
    grant.register_hook("before_validate_token_request", _keep_grant)


def _keep_grant(grant):
    """A token request starts: keep its grant, whose checks the response will be read against."""
    g.flow_trace_grant = grant


def init_app(app, server):
    """Serve POST /oauth/flow-trace from the app's Authlib server; watch every response."""
    server.register_endpoint(FlowTraceEndpoint(app.config["CLIENT_AUTH_METHODS"]))
    app.after_request(observe)

"""RFC 9126, Pushed Authorization Requests, built on Authlib's own seams.

Two pieces, as Authlib's JAR support (RFC 9101) is built:
- `PushedAuthorizationEndpoint`: POST /oauth/par. The client authenticates, its
  request is validated exactly as an authorization request would be, and it is
  stored under a fresh `request_uri` (§2).
- `PushedAuthorizationRequests`: an extension hooked on `before_get_authorization_grant`
  that, at /authorize, swaps `client_id` + `request_uri` for the pushed parameters (§4).
"""

import logging
import secrets

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.endpoint import Endpoint
from authlib.oauth2.rfc6749.endpoint import EndpointRequest
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from sqlalchemy import bindparam
from sqlalchemy import case

from . import dpop
from . import fapi
from .error_text import quoted
from .models import PushedRequest
from .models import PushRateWindow
from .models import db
from .models import now
from .models import per_database
from .models import this_database
from .request_object import request_parameters

log = logging.getLogger("auth_server")

# RFC 9126 §2.2: the request_uri is a URN with this prefix and a one-time reference.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"

# Parameters that authenticate the client; they are never stored with the request.
CLIENT_CREDENTIALS = ("client_secret", "client_assertion", "client_assertion_type")


class TooManyPushesError(OAuth2Error):
    """RFC 9126 §2.3: 429 when a client pushes more often than the server allows."""

    error = "invalid_request"
    status_code = 429

    def __init__(self, retry_after):
        super().__init__(f"Too many pushed requests; retry after {retry_after} seconds.")
        self.retry_after = retry_after

    def get_headers(self):
        """RFC 6585 §4: say when to come back."""
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class PushedAuthorizationEndpoint(Endpoint):
    """POST /oauth/par: validate and store an authorization request (RFC 9126 §2)."""

    ENDPOINT_NAME = "pushed_authorization"

    def __init__(self, client_auth_methods, expires_in, rate_limit, rate_window):
        super().__init__()
        self.client_auth_methods = client_auth_methods
        self.expires_in = expires_in
        self.rate_limit = rate_limit
        self.rate_window = rate_window

    def validate_request(self, request):
        """Authenticate the client, then validate its request as /authorize would."""
        # RFC 9126 §2: client authentication as at the token endpoint (§2.3: 401 on failure).
        client = self.server.authenticate_client(request, self.client_auth_methods, endpoint="par")
        form = request.form
        # RFC 9126 §2.1: the request_uri parameter MUST NOT be pushed.
        if "request_uri" in form:
            raise InvalidRequestError("The 'request_uri' parameter must not be pushed.")
        if form.get("client_id", client.client_id) != client.client_id:
            raise InvalidRequestError("The 'client_id' does not match the authenticated client.")
        # RFC 6749 §3.1: no parameter may appear twice.
        for name in form:
            if len(form.getlist(name)) > 1:
                raise InvalidRequestError(f"Multiple '{quoted(name)}' in request.")
        params = pushed_parameters(form, client)
        params["client_id"] = client.client_id
        # RFC 9449 §10: bind the code to a DPoP key (dpop_jkt, or this push's proof).
        if dpop_jkt := dpop.jkt_for_push(params):
            params["dpop_jkt"] = dpop_jkt
        request.payload = BasicOAuth2Payload(params)
        request.pushed = True
        try:
            # RFC 9126 §2.1: validated exactly as an authorization request would be
            # (redirect_uri, response_type, scope, PKCE, audience), by the same grant.
            grant = self.server.get_authorization_grant(request)
            grant.validate_authorization_request()
        except OAuth2Error as error:
            # RFC 9126 §2.3: errors go back in the push response, never to a redirect.
            error.redirect_uri = None
            error.state = None
            raise
        return EndpointRequest(request=request, client=client)

    def create_response(self, validated):
        """Count the push, store the request under a fresh request_uri; 201 with its lifetime (§2.2).

        Everything above only read the database; every write is here, in one short
        transaction, so a worker holds SQLite's write lock for as little time as possible.
        """
        client = validated.client
        client_id = client.client_id
        self.check_rate(client_id)
        # A client may be registered with a lifetime of its own (the attack lab's: 2 s);
        # a FAPI client's stays under 600 s (FAPI 2.0 §5.3.2.2).
        expires_in = fapi.request_uri_lifetime(client, self.expires_in)
        # RFC 9126 §7.1: the reference must be unguessable; 256 bits from a CSPRNG.
        reference = secrets.token_urlsafe(32)
        pushed_at = now()
        db.session.execute(STORE_PUSHED_REQUEST, {
            "reference": reference, "client_id": client_id, "params": dict(validated.request.payload.data),
            "created_at": pushed_at, "expires_at": pushed_at + expires_in,
        })
        db.session.commit()
        log.info("step 2-3 par: pushed request stored client=%s ref=%s… expires_in=%d",
                 client_id, reference[:8], expires_in)
        body = {"request_uri": REQUEST_URI_PREFIX + reference, "expires_in": expires_in}
        return 201, body, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]

    def check_rate(self, client_id):
        """RFC 9126 §2.3: count this push in the client's window; refuse it over the limit.

        Only a valid push gets here, and a refused one is rolled back: only stored
        pushes count.
        """
        pushes = count_push(client_id, self.rate_window)
        if pushes > self.rate_limit:
            db.session.rollback()
            log.warning("par: client=%s over its rate limit (%d in %d s)", client_id, self.rate_limit, self.rate_window)
            raise TooManyPushesError(retry_after=self.rate_window)
        if pushes == 1:
            # A new window: purge at most once per client and window, not on every push.
            purge_expired()


class PushedAuthorizationRequests:
    """Authorization-server extension: resolve `request_uri` at /authorize (RFC 9126 §4)."""

    def __init__(self, require_for_all_clients=False):
        self.require_for_all_clients = require_for_all_clients

    def __call__(self, server):
        server.register_hook("before_get_authorization_grant", self.resolve_request_uri)

    def resolve_request_uri(self, server, request):
        """Swap client_id + request_uri for the pushed parameters, using it up."""
        if getattr(request, "pushed", False):
            return  # already the pushed parameters (the push itself, or a login in progress)
        client_id = request.payload.client_id
        client = server.query_client(client_id) if client_id else None
        if client is None:
            # RFC 6749 §4.1.2.1: an unknown client is shown an error, never redirected.
            raise InvalidClientError(description="Unknown or missing 'client_id'.")
        request_uri = request.payload.data.get("request_uri")
        if not request_uri:
            # RFC 9126 §5-6: a client (or server) that requires PAR cannot skip it.
            if self.require_for_all_clients or client.require_pushed_authorization_requests:
                raise InvalidRequestError(
                    f"Client '{client_id}' must push its authorization request to the PAR "
                    "endpoint first (RFC 9126) and send only client_id and request_uri here."
                )
            return  # a plain authorization request from a client that may send one
        params = use_pushed_request(request_uri, client_id)
        # RFC 9126 §4: the pushed parameters are the request; anything else sent on
        # the front channel is ignored, so a tampered URL cannot change scope or
        # redirect_uri.
        ignored = sorted(set(request.payload.data) - {"client_id", "request_uri"})
        if ignored:
            log.warning("step 4 authorize: ignored front-channel parameters %s", ignored)
        request.payload = BasicOAuth2Payload(params)
        request.pushed = True
        request.request_uri = request_uri


def pushed_parameters(form, client):
    """The authorization request pushed: the form's parameters, or a signed request object's.

    RFC 9126 §3: with `request`, its claims are the request and the form's other
    parameters (but client authentication) are ignored. RFC 9101 §10.5: a client
    registered with require_signed_request_object must send one.
    """
    if "request" in form:
        ignored = sorted(set(form) - {"request", "client_id", *CLIENT_CREDENTIALS})
        if ignored:
            log.warning("par: parameters beside the request object ignored %s", ignored)
        return request_parameters(form["request"], client)
    if client.require_signed_request_object:
        raise InvalidRequestObjectError(
            description=f"Client '{client.client_id}' must push a signed request object as 'request' (RFC 9101).")
    return {k: v for k, v in form.items() if k not in CLIENT_CREDENTIALS}


def use_pushed_request(request_uri, client_id):
    """Use up a request_uri: it must exist, be unexpired, be the client's, and be unused.

    One UPDATE does the check and the marking, so two browsers (or two workers)
    racing with the same request_uri cannot both win (RFC 9126 section 4: one-time use).
    """
    reference = request_uri.removeprefix(REQUEST_URI_PREFIX)
    claimed = db.session.execute(CLAIM_PUSHED_REQUEST, {
        "the_reference": reference, "the_client": client_id, "now": now()}).one_or_none()
    db.session.commit()
    if claimed is None:
        pushed = db.session.scalar(db.select(PushedRequest).filter_by(reference=reference))
        raise InvalidRequestUriError(description=_why_unusable(pushed, request_uri, client_id))
    log.info("step 4 authorize: request_uri used client=%s ref=%s…", client_id, reference[:8])
    return claimed.params


def _why_unusable(pushed, request_uri, client_id):
    """Say exactly why a request_uri was refused, for the error page."""
    if pushed is None or not request_uri.startswith(REQUEST_URI_PREFIX):
        return "Unknown 'request_uri'."
    if pushed.client_id != client_id:
        return "This 'request_uri' was pushed by another client."
    if pushed.used_at is not None:
        return "This 'request_uri' has already been used (RFC 9126 section 4: one-time use)."
    return "This 'request_uri' has expired; the client must push its request again."


def count_push(client_id, window):
    """Count one push in the client's rate-limit window; return the pushes in it so far.

    One INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL alike) starts the
    client's window or counts up in it, atomically, so concurrent workers and replicas
    never lose a push. A window starts at a client's first push and lasts `window` s.
    """
    return db.session.scalar(this_database(COUNT_PUSH), {
        "client_id": client_id, "window_start": now(), "pushes": 1, "window": window})


def _count_push_statement(dialect):
    """The upsert count_push runs, built once per dialect: the stored row against the new one."""
    upsert = dialect.insert(PushRateWindow.__table__)
    stored, new = upsert.table.c, upsert.excluded
    over = stored.window_start <= new.window_start - bindparam("window")  # the stored window has ended
    return upsert.on_conflict_do_update(index_elements=[stored.client_id], set_={
        "pushes": case((over, 1), else_=stored.pushes + 1),
        "window_start": case((over, new.window_start), else_=stored.window_start),
    }).returning(stored.pushes)


# Statements built once, not on every push: building one costs more than running it.
COUNT_PUSH = per_database(_count_push_statement)
pushed_requests = PushedRequest.__table__
STORE_PUSHED_REQUEST = pushed_requests.insert()
# Step 4: use up a request_uri and read its parameters, in one statement (RETURNING).
# Core, not an ORM UPDATE: no object to keep in step, and it costs a seventh as much.
CLAIM_PUSHED_REQUEST = (
    pushed_requests.update()
    .where(pushed_requests.c.reference == bindparam("the_reference"),
           pushed_requests.c.client_id == bindparam("the_client"),
           pushed_requests.c.used_at.is_(None), pushed_requests.c.expires_at >= bindparam("now"))
    .values(used_at=bindparam("now"))
    .returning(pushed_requests.c.params)
)


def purge_expired(grace=300):
    """Delete pushed requests past their lifetime, so a flood cannot grow the store.

    Expired rows are kept a few minutes first, so a late browser is told "expired"
    rather than "unknown".
    """
    db.session.execute(db.delete(PushedRequest).where(PushedRequest.expires_at < now() - grace))

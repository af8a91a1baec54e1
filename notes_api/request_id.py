"""Request ids: every request gets one, for its log lines and its response."""

import re
import secrets

from flask import g
from flask import request

# A request id from a caller (say the client app's flow id) is reused only if it is
# plainly safe to print in a log line.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def assign_request_id():
    """Give every request an id, so its log lines can be told apart."""
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(4)


def echo_request_id(response):
    """Return the request id, so a caller can find our log lines for its request."""
    response.headers["X-Request-Id"] = g.request_id
    return response


def init_app(app):
    """Set g.request_id before every request, whichever blueprint serves it."""
    app.before_request(assign_request_id)
    app.after_request(echo_request_id)

"""The host names this API answers to (Flask's TRUSTED_HOSTS), against DNS rebinding.

A page on another site can point its own host name at our address (DNS rebinding)
and then call us as if it were the same site; but the browser still sends that name
in the Host header. So a request must name one of TRUSTED_HOSTS (the API has no URL
of its own to take a name from); RFC 9110 §7.4 lets a server refuse a request for a
host it does not serve. Flask refuses any other name with a 400 before a view runs;
the handler below says so in the channel's own format.
"""

from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from werkzeug.exceptions import SecurityError

from .errors import is_api

DESCRIPTION = "The Host header names a host this API does not answer to."


def untrusted_host(exc):
    """A foreign Host: 400 invalid_request as OAuth JSON under /api, a page elsewhere."""
    if is_api(request.path):
        return make_response(jsonify(error="invalid_request", error_description=DESCRIPTION), 400)
    return make_response(render_template("untrusted_host.html", description=DESCRIPTION), 400)


def init_app(app):
    """Any Host header not in TRUSTED_HOSTS gets a clear 400 (Flask checks, we answer)."""
    app.register_error_handler(SecurityError, untrusted_host)

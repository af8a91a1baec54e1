"""The host names this server answers to (Flask's TRUSTED_HOSTS), against DNS rebinding.

A page on another site can point its own host name at our address (DNS rebinding) and
then read our answers as if they were its own; but the browser still sends that name
in the Host header. So a request must name us: ISSUER's host, or one of TRUSTED_HOSTS;
RFC 9110 §7.4 lets a server refuse a request for a host it does not serve. Flask
refuses any other name with a 400 before a view runs; the handler below says so in the
channel's own format.
"""

from urllib.parse import urlsplit

from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from werkzeug.exceptions import SecurityError

from .views import BACK_CHANNEL_PREFIXES

DESCRIPTION = "The Host header names a host this server does not answer to."


def trusted_hosts(config):
    """ISSUER's host name, then the names in TRUSTED_HOSTS, each once."""
    names = [urlsplit(config["ISSUER"]).hostname, *config["TRUSTED_HOSTS"]]
    return list(dict.fromkeys(name for name in names if name))


def untrusted_host(exc):
    """A foreign Host: 400 invalid_request as OAuth JSON on the back channel, a page elsewhere."""
    if request.path.startswith(BACK_CHANNEL_PREFIXES):
        return make_response(jsonify(error="invalid_request", error_description=DESCRIPTION), 400)
    return make_response(render_template("untrusted_host.html", description=DESCRIPTION), 400)


def init_app(app):
    """Answer only to our own host names; any other Host header gets a clear 400."""
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    app.register_error_handler(SecurityError, untrusted_host)

"""The host names this client answers to (Flask's TRUSTED_HOSTS), against DNS rebinding.

A page on another site can point its own host name at our address (DNS rebinding)
and then read our pages as if they were its own (the flow inspector shows tokens)
or drive a login; but the browser still sends that name in the Host header. So a
request must name us: the host of REDIRECT_URI or CLIENT_BASE_URL, or one of
TRUSTED_HOSTS; RFC 9110 §7.4 lets a server refuse a request for a host it does not
serve. Flask refuses any other name with a 400 before a view runs; the handler below
answers it with a page.
"""

from urllib.parse import urlsplit

from flask import render_template
from werkzeug.exceptions import SecurityError

DESCRIPTION = "The Host header names a host this client does not answer to."


def trusted_hosts(config):
    """The hosts of REDIRECT_URI and CLIENT_BASE_URL, then the names in TRUSTED_HOSTS, each once."""
    urls = (config["REDIRECT_URI"], config["CLIENT_BASE_URL"])
    names = [*(urlsplit(url).hostname for url in urls), *config["TRUSTED_HOSTS"]]
    return list(dict.fromkeys(name for name in names if name))


def untrusted_host(exc):
    """A foreign Host: a 400 page (every page of the client is front channel)."""
    return render_template("untrusted_host.html", description=DESCRIPTION), 400


def init_app(app):
    """Answer only to our own host names; any other Host header gets a clear 400."""
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    app.register_error_handler(SecurityError, untrusted_host)

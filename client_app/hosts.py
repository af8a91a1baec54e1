"""The host names this client answers to (Flask's TRUSTED_HOSTS), against DNS rebinding.

A page on another site can point its own host name at our address (DNS rebinding)
and then read our pages as if they were its own (the flow inspector shows tokens)
or drive a login; but the browser still sends that name in the Host header. So a
request must name us: the host of REDIRECT_URI or CLIENT_BASE_URL, or one of
TRUSTED_HOSTS; RFC 9110 §7.4 lets a server refuse a request for a host it does not
serve. Flask refuses any other name with a 400 before a view runs, and errors.py
answers it with a page.
"""

from urllib.parse import urlsplit


def trusted_hosts(config):
    """The hosts of REDIRECT_URI and CLIENT_BASE_URL, then the names in TRUSTED_HOSTS, each once."""
    urls = (config["REDIRECT_URI"], config["CLIENT_BASE_URL"])
    names = [*(urlsplit(url).hostname for url in urls), *config["TRUSTED_HOSTS"]]
    return list(dict.fromkeys(name for name in names if name))


def init_app(app):
    """Answer only to our own host names; any other Host header gets a 400 page."""
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)

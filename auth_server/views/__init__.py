"""The server's blueprints, one per concern, and what every response shares."""

from authlib.integrations.flask_oauth2.errors import _HTTPException as OAuthHTTPError
from flask import current_app
from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import SecurityError

from . import authorize
from . import discovery
from . import flows
from . import token
from . import userinfo

# Paths that speak JSON to other services (back channel); everything else is a page.
BACK_CHANNEL_PREFIXES = ("/oauth/", "/userinfo", "/.well-known/")


def init_app(app, csrf):
    """Register the blueprints, the error pages and the security headers."""
    for module in (authorize, discovery, token, userinfo, flows):
        app.register_blueprint(module.bp)
    # Back-channel endpoints authenticate the client, not a cookie: no CSRF token.
    csrf.exempt(token.bp)
    csrf.exempt(userinfo.bp)
    csrf.exempt(flows.bp)
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(SecurityError, untrusted_host)
    app.register_error_handler(Exception, unexpected_error)
    app.after_request(security_headers)


def error_response(status, error, description):
    """An OAuth JSON error on the back channel, a readable page on the front channel."""
    if request.path.startswith(BACK_CHANNEL_PREFIXES):
        return make_response(jsonify(error=error, error_description=description), status)
    return make_response(render_template("error.html", error=error, description=description), status)


def csrf_error(exc):
    """A form posted without its CSRF token (or with a stale one)."""
    return error_response(400, "invalid_request", "The form expired or was not sent by this site; go back and try again.")


def http_error(exc):
    """404, 405, 413 and friends, in the channel's own format."""
    if isinstance(exc, OAuthHTTPError):
        return exc  # already an OAuth error response, made by Authlib (e.g. RFC 6750 at /userinfo)
    error = "invalid_request" if exc.code < 500 else "server_error"
    response = error_response(exc.code, error, exc.description)
    if exc.code == 405:
        response.headers["Allow"] = ", ".join(exc.valid_methods or [])
    return response


def untrusted_host(exc):
    """A Host we do not answer to (TRUSTED_HOSTS; DNS rebinding): 400 invalid_request.

    RFC 9110 §7.4 lets a server refuse a request for a host it does not serve. Flask
    refused it before building any URL for it, so the page is one without url_for.
    """
    description = "The Host header names a host this server does not answer to."
    if request.path.startswith(BACK_CHANNEL_PREFIXES):
        return make_response(jsonify(error="invalid_request", error_description=description), 400)
    return make_response(render_template("untrusted_host.html", description=description), 400)


def unexpected_error(exc):
    """Never a traceback: log it, answer with a plain server_error."""
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "server_error", "Something went wrong on the authorization server.")


def security_headers(response):
    """Pages must not be framed (clickjacking) nor load anything from elsewhere."""
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

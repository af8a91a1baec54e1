"""HTTP errors in OAuth's words: JSON under /api, a readable page on the API's own pages.

Any 4xx is `invalid_request` and any 5xx is `server_error`, the codes the
authorization server uses too (RFC 6749 §4.1.2.1, §5.2). Bearer-token failures keep
their RFC 6750 codes: bearer.py answers those itself. Every response, error or not,
gets the security headers here too.
"""

from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import SecurityError


def is_api(path):
    """True for /api and everything under /api/, the part of the service that speaks JSON."""
    return path == "/api" or path.startswith("/api/")


def error_response(status, error, description):
    """An OAuth JSON error under /api, a readable page elsewhere."""
    if is_api(request.path):
        return make_response(jsonify(error=error, error_description=description), status)
    page = render_template("error.html", status=status, error=error, description=description)
    return make_response(page, status)


def http_error(exc):
    """404, 405, 413, 500 and friends: invalid_request or server_error, with what happened."""
    error = "invalid_request" if exc.code < 500 else "server_error"
    response = error_response(exc.code, error, exc.description)
    if exc.code == 405:
        # RFC 9110 §15.5.6: a 405 lists the methods the resource does support.
        response.headers["Allow"] = ", ".join(exc.valid_methods or [])
    return response


def untrusted_host(exc):
    """A Host not in TRUSTED_HOSTS (DNS rebinding): 400 invalid_request, JSON under /api, a page elsewhere.

    RFC 9110 §7.4 lets a server refuse a request for a host it does not serve. Flask
    refused it before building any URL for it, so the page is one without url_for.
    """
    description = "The Host header names a host this API does not answer to."
    if is_api(request.path):
        return make_response(jsonify(error="invalid_request", error_description=description), 400)
    return make_response(render_template("untrusted_host.html", description=description), 400)


def security_headers(response):
    """Every response: no framing, no MIME sniffing, no Referer, nothing loaded from elsewhere."""
    # CSP: this service's own stylesheet (static/), no script, never in a frame
    # (clickjacking; X-Frame-Options says it to older browsers).
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app):
    """Answer every HTTP error, including an unexpected exception's 500, this way; secure every response."""
    # Flask turns an unhandled exception into a 500 HTTPException, after logging its
    # traceback; the traceback never reaches the response.
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(SecurityError, untrusted_host)
    app.after_request(security_headers)

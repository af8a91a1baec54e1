"""Failure pages: every error the browser can meet becomes a readable page.

Protocol code raises a PageError subclass that says what the user should read and
with which status; the handlers here render it. Nothing reaches the browser as a
traceback.
"""

import logging

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import SecurityError

from .models import forget_login

log = logging.getLogger("client_app")


class PageError(Exception):
    """A failure shown to the user as a page (subclasses set status and title)."""

    status = 400
    title = "Something went wrong"
    # What the page offers next: a fresh login, and/or a way back to the notes.
    offer_login = False
    offer_notes = False
    # True when the stored login is no longer any use: the page also logs the user out.
    ends_session = False
    # Seconds after which trying again may work: sent as Retry-After (RFC 9110 §10.2.3).
    retry_after = None

    def __init__(self, message, error=None, error_description=None):
        super().__init__(message)
        self.message = message
        # An RFC error code (e.g. "invalid_grant") and its description, when we have them.
        self.error = error
        self.error_description = error_description


def render_error(status, title, message, error=None, error_description=None,
                 offer_login=False, offer_notes=False):
    """Render the shared error page with the given status."""
    page = render_template(
        "error.html", title=title, message=message, error=error,
        error_description=error_description, offer_login=offer_login, offer_notes=offer_notes,
    )
    return page, status


def handle_page_error(e):
    """Show a PageError as its page; forget the login when it is dead."""
    log.warning("page %s: %s (%s)", e.status, e.title, e.error or "no error code")
    if e.ends_session:
        forget_login()
    page, status = render_error(e.status, e.title, e.message, e.error, e.error_description,
                                e.offer_login, e.offer_notes)
    return page, status, {"Retry-After": str(e.retry_after)} if e.retry_after else {}


def handle_csrf_error(e):
    """A form came without a valid CSRF token: refuse it readably."""
    return render_error(400, "Form rejected (CSRF check)",
                        f"{e.description} Go back, reload the page and try again.")


def handle_http_error(e):
    """404, 405 and friends as readable pages."""
    return render_error(e.code, e.name, e.description)


def handle_untrusted_host(e):
    """A Host the client does not answer to (TRUSTED_HOSTS, DNS rebinding): 400, a page without links."""
    # No URL can be built for a host that is not ours, so this page has none.
    return render_template("untrusted_host.html"), 400


def handle_internal_error(e):
    """A bug: Flask has logged the traceback; the user gets a calm 500 page."""
    return render_error(500, "Internal error", "The notes app hit an unexpected error. "
                        "The details are in its log.")


def init_app(app):
    """Register the handlers that turn every failure into a page."""
    app.register_error_handler(PageError, handle_page_error)
    # Flask picks the most specific handler: CSRFError is also a 400 HTTPException.
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(SecurityError, handle_untrusted_host)
    # An unhandled exception reaches the browser as a 500, never as a traceback.
    app.register_error_handler(500, handle_internal_error)

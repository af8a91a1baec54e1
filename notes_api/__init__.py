"""The notes API: PAR Lab's resource server (port 8000, audience urn:my-notes-api)."""

import logging
import os

from flask import Flask

from . import bearer
from . import errors
from . import models
from . import request_id
from . import routes
from .config import Config
from .config import database_url
from .config import trusted_hosts


def create_app(test_config=None):
    """Create and configure the notes API; `test_config` overrides any setting."""
    app = Flask(__name__, instance_relative_config=True)

    # Settings: the documented defaults in config.py, then the caller's overrides.
    app.config.from_object(Config)
    if test_config is not None:
        app.config.from_mapping(test_config)

    # Answer only to our own host names, PUBLIC_URL's and TRUSTED_HOSTS (no DNS rebinding):
    # Flask refuses any other Host header with a 400 (errors.py words it).
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)

    # Where the notes live: DATABASE_URL, or a SQLite file in the instance folder.
    if not app.config["DATABASE_URL"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "notes_api.sqlite")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["DATABASE_URL"])

    # Log each protocol step on the "notes_api" logger, at LOG_LEVEL, in LOG_FORMAT.
    configure_logging(app)

    # Every request gets an id for its log lines, whichever blueprint serves it.
    request_id.init_app(app)

    # The table and the demo notes; the engine is disposed for gunicorn's forked workers.
    models.init_app(app)

    # Bearer tokens: the issuer's key cache and the RFC 6750 error responses.
    bearer.init_app(app)

    # The endpoints: the notes API, the info page, the health check.
    app.register_blueprint(routes.bp)

    # Every other failure: OAuth JSON under /api, a readable page elsewhere; and the
    # security headers (CSP, nosniff, no Referer) on every response.
    errors.init_app(app)

    return app


def configure_logging(app):
    """Log on the app's logger at LOG_LEVEL, every line in LOG_FORMAT, to stderr."""
    # basicConfig sets up the root logger once per process and is a no-op after
    # that (a second app, or pytest's log capture, which already has a handler).
    # Control characters a request put in a message are escaped: one record, one line.
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(app.config["LOG_FORMAT"]))
    logging.basicConfig(handlers=[handler])
    app.logger.setLevel(app.config["LOG_LEVEL"])


def printable(text):
    """The text with every unprintable character (newline, ESC, ...) written as an escape.

    A value from a request (a decoded path, a parameter) could otherwise end a log line
    and start a forged one, or hide the rest behind a terminal escape (CWE-117).
    """
    if text.isprintable():
        return text  # nearly every line: one pass in C, not one Python step per character
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


class OneLineFormatter(logging.Formatter):
    """LOG_FORMAT, with the message's unprintable characters escaped (a traceback still follows)."""

    def formatMessage(self, record):
        """The formatted line, escaped."""
        return printable(super().formatMessage(record))

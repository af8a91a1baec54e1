"""The "notes" web client: a confidential OAuth client that logs users in with PAR.

Run it with: gunicorn -c client_app/gunicorn.conf.py "client_app:create_app()"
"""

import logging
import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import errors
from . import fapi
from . import flow
from . import inspector
from . import lab
from . import models
from . import oauth_client
from . import routes
from .config import Config
from .config import trusted_hosts

csrf = CSRFProtect()


def create_app(test_config=None):
    """Build the client app: settings, logging, database, CSRF, protocol, pages."""
    app = Flask(__name__, instance_relative_config=True)

    # Settings: environment with demo defaults (config.py), then a test's overrides.
    app.config.from_object(Config)
    if test_config is not None:
        app.config.from_mapping(test_config)

    # Answer only to our own host names, our URLs' and TRUSTED_HOSTS (no DNS rebinding):
    # Flask refuses any other Host header with a 400 (errors.py shows the page).
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)

    # Default database: a SQLite file in the instance folder (created if missing).
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{app.instance_path}/client_app.sqlite"

    # Log each protocol step on the "client_app" logger, at LOG_LEVEL, in LOG_FORMAT.
    configure_logging(app)

    # State lives in the database: one LoginSession row per browser login.
    models.init_app(app)

    # The flow's recorder (for the inspector) stores each request's messages as it ends.
    flow.init_app(app)

    # Every form (log in, add a note, log out) carries a CSRF token.
    csrf.init_app(app)

    # What this client knows about the authorization server (discovery, JWKS).
    oauth_client.init_app(app)

    # With fapi2 in PROFILES: the client's key pairs (made at first start) and its JWKS endpoint.
    fapi.init_app(app)

    # The pages, and a readable page for every failure.
    routes.init_app(app)
    errors.init_app(app)

    # The flow inspector: the seed's diagram with this browser's real messages.
    inspector.init_app(app)

    # The attack lab: every attack on the flow, run live from a page (lab/).
    lab.init_app(app)

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

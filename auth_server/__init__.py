"""The authorization server: PAR, login and consent, codes and tokens."""

import logging
import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import keys
from . import models
from . import oauth2
from . import views
from .clients import load_clients
from .config import Config
from .config import trusted_hosts


def create_app(test_config=None):
    """Create and configure the authorization server."""
    app = Flask(__name__, instance_relative_config=True)
    # Settings: documented defaults from config.py, then a test's overrides.
    app.config.from_object(Config)
    if test_config is not None:
        app.config.update(test_config)
        # A clients file handed in (a test's own relying party) is read as at start.
        if "CLIENTS_FILE" in test_config and "CLIENTS" not in test_config:
            app.config["CLIENTS"] = load_clients(app.config["CLIENTS_FILE"], app.config["CLIENT_AUTH_METHODS"],
                                                 app.config["SIGNING_ALGS"], app.config["CLIENT_SIGNING_ALGS"])

    # Answer only to our own host names, ISSUER's and TRUSTED_HOSTS (no DNS rebinding):
    # Flask refuses any other Host header with a 400 (views/__init__.py words it).
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)

    # State lives in a database every worker shares: SQLite in the instance folder by default.
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{app.instance_path}/auth_server.sqlite"

    # DEMO ONLY: Authlib refuses plain http unless told; the demo runs on http://localhost.
    if app.config["ISSUER"].startswith("http://"):
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

    # Log each protocol step (never a secret) on the "auth_server" logger, at LOG_LEVEL.
    configure_logging(app)

    # Tables and demo clients/users, then the first signing key if there is none.
    models.init_app(app)
    keys.init_app(app)
    with app.app_context():
        keys.ensure_signing_key()

    # CSRF tokens on the login and consent forms.
    csrf = CSRFProtect(app)

    # OAuth: grants, PKCE, PAR, OpenID Connect (oauth2.py), then the views.
    oauth2.config_oauth(app)
    views.init_app(app, csrf)

    # Gunicorn forks its workers after this; each must open its own connections.
    with app.app_context():
        models.db.engine.dispose()
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

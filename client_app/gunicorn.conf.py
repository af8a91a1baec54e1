"""gunicorn settings for the notes client.

Run from the repository root:
    gunicorn -c client_app/gunicorn.conf.py "client_app:create_app()"
"""

import gc

from gunicorn.glogging import Logger

from client_app.config import Config
from client_app import printable

wsgi_app = "client_app:create_app()"
# HOST, PORT and WEB_CONCURRENCY live in config.py with every other setting
# (defaults 127.0.0.1, 3000 and 2 workers; docker sets HOST=0.0.0.0).
bind = f"{Config.HOST}:{Config.PORT}"
# The workers share only the database: no state lives in a process.
workers = Config.WEB_CONCURRENCY
# Build the app once, then fork: create_app() disposes its connections for this.
preload_app = True
# gunicorn's default: a worker silent this long is killed. No request here needs more:
# the attack lab's longest wait is 3 s (its client's request_uri lives 2 s), Run all
# takes seconds, and a second lab run is refused while one is in flight.
timeout = 30
# No control socket: its default path is shared by every gunicorn run by this user.
control_socket_disable = True


def pre_fork(server, worker):
    """Freeze what the preloaded app built: no worker's full collection walks it (benchmark.md, round ten)."""
    gc.freeze()


class AccessLogger(Logger):
    """gunicorn's logger, with one more access-log atom: %(path)s."""

    def atoms(self, resp, req, environ, request_time):
        """gunicorn's atoms, plus `path`: the path as sent, without its query, escaped.

        RAW_URI is never percent-decoded, so "%0a" stays three characters and cannot
        end the line (gunicorn's %(U)s is decoded); the query, which carries
        /callback's authorization code and state, is left out.
        """
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["path"] = printable(environ["RAW_URI"].partition("?")[0])
        return atoms


# Access log to stdout, errors (and the app's step log) to stderr.
logger_class = AccessLogger
accesslog = "-"
errorlog = "-"
# gunicorn's default format logs the whole request line, and /callback's query string
# holds the authorization code and state: log the AccessLogger's %(path)s (CWE-117).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(path)s %(H)s" %(s)s %(b)s "%(a)s"'

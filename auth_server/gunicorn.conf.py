"""Gunicorn settings for the authorization server (`gunicorn -c auth_server/gunicorn.conf.py`)."""

import gc

from gunicorn.glogging import Logger

from auth_server.config import Config
from auth_server import printable

wsgi_app = "auth_server:create_app()"
# HOST, PORT and WEB_CONCURRENCY live in config.py with every other setting
# (defaults 127.0.0.1, 9000 and 2 workers; docker sets HOST=0.0.0.0).
bind = f"{Config.HOST}:{Config.PORT}"
# The workers share only the database: no state lives in a process.
workers = Config.WEB_CONCURRENCY
# Build the app once in the master (tables, demo data, first key), then fork the workers.
preload_app = True
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
        end the line (gunicorn's %(U)s is decoded); the query, which may carry a
        request_uri or a code, is left out.
        """
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["path"] = printable(environ["RAW_URI"].partition("?")[0])
        return atoms


# Logs to stdout, the access log with the AccessLogger's %(path)s (CWE-117): no
# request_uri or code from a URL ever reaches it.
logger_class = AccessLogger
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(path)s %(H)s" %(s)s %(b)s %(M)sms'

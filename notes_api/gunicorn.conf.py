"""Gunicorn settings for the notes API (`gunicorn -c notes_api/gunicorn.conf.py`, from the repo root)."""

import os

from notes_api.config import Config

wsgi_app = "notes_api:create_app()"
# HOST and PORT come from config.py (defaults 127.0.0.1 and 8000).
bind = f"{Config.HOST}:{Config.PORT}"
# Two worker processes unless WEB_CONCURRENCY says otherwise; they share only the database.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Build the app once in the master (table, demo notes), then fork the workers.
preload_app = True
# No control socket: its default path is shared, and all three services may run
# side by side as the same user.
control_socket_disable = True
# Logs to stdout/stderr. %(U)s is the path without the query string, so a token
# someone wrongly put in the URL never reaches the access log (RFC 9700 §4.3.2).
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

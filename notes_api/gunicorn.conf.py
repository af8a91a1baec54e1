"""Gunicorn settings for the notes API (`gunicorn -c notes_api/gunicorn.conf.py`, from the repo root)."""

from notes_api.config import Config

wsgi_app = "notes_api:create_app()"
# HOST, PORT and WEB_CONCURRENCY live in config.py with every other setting
# (defaults 127.0.0.1, 8000 and 2 workers; docker sets HOST=0.0.0.0).
bind = f"{Config.HOST}:{Config.PORT}"
# The workers share only the database: no state lives in a process.
workers = Config.WEB_CONCURRENCY
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

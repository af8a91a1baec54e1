"""Gunicorn settings for the authorization server (`gunicorn -c auth_server/gunicorn.conf.py`)."""

from auth_server.config import Config

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
# Logs to stdout. %(U)s is the path without the query string: no request_uri or
# code from a URL ever reaches the access log.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

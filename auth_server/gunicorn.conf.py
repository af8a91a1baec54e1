"""Gunicorn settings for the authorization server (`gunicorn -c auth_server/gunicorn.conf.py`)."""

import os

wsgi_app = "auth_server:create_app()"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '9000')}"
# Two worker processes unless WEB_CONCURRENCY says otherwise; they share only the database.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Build the app once in the master (tables, demo data, first key), then fork the workers.
preload_app = True
# No control socket: its default path is shared by every gunicorn run by this user.
control_socket_disable = True
# Logs to stdout. %(U)s is the path without the query string: no request_uri or
# code from a URL ever reaches the access log.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

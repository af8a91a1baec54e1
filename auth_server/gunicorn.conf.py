"""Gunicorn settings for the authorization server (`gunicorn -c auth_server/gunicorn.conf.py`)."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '9000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Build the app once (tables, demo data, first key) before forking the workers.
preload_app = True
wsgi_app = "auth_server:create_app()"
accesslog = "-"
errorlog = "-"

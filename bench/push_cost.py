"""What one push costs in process: milliseconds, SQL statements, commits, the write lock.

    .venv/bin/python -m bench.push_cost [pushes]

The auth server runs in this process (Flask's test client, no HTTP, no gunicorn) on a
SQLite file, with the PAR rate limit lifted, so the figures are the server's own work
on POST /oauth/par: the floor that `make bench` measures over HTTP sits on top of this.

It also times how long each push holds SQLite's write lock: from its first write
statement to its commit. Under load, another worker's push waits that long, or sleeps
in SQLite's busy handler (benchmark.md, round eleven).
"""

import base64
import hashlib
import logging
import secrets
import statistics
import sys
import tempfile
import time

from sqlalchemy import event

from auth_server import create_app
from auth_server.models import db

WEB = ("notes-web", "notes-web-secret")
# SQLite takes its write lock at a transaction's first statement of these.
WRITES = ("INSERT", "UPDATE", "DELETE")


def push_form():
    """A valid pushed authorization request for the web client."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {"response_type": "code", "redirect_uri": "http://localhost:3000/callback",
            "scope": "openid read:notes", "audience": "urn:my-notes-api", "state": "bench",
            "code_challenge": challenge, "code_challenge_method": "S256"}


def main(pushes):
    """Push `pushes` times; print ms, statements and commits per push, and the write lock's hold."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/as.sqlite",
                          "PAR_RATE_LIMIT": 10**9, "LOG_LEVEL": "WARNING"})
        logging.getLogger("auth_server").setLevel(logging.WARNING)
        counts = {"statements": 0, "commits": 0}
        first_write, holds = [], []
        with app.app_context():
            engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def count_statement(connection, cursor, statement, *args):
            counts["statements"] += 1
            if not first_write and statement.lstrip().upper().startswith(WRITES):
                first_write.append(time.perf_counter())

        @event.listens_for(engine, "commit")
        def count_commit(*args):
            counts["commits"] += 1
            if first_write:
                holds.append(time.perf_counter() - first_write.pop())

        browser = app.test_client()
        form = push_form()
        for _ in range(50):  # warm-up: connections, caches, compiled statements
            assert browser.post("/oauth/par", auth=WEB, data=form).status_code == 201
        counts.update(statements=0, commits=0)
        holds.clear()
        started = time.perf_counter()
        for _ in range(pushes):
            browser.post("/oauth/par", auth=WEB, data=form)
        elapsed = time.perf_counter() - started
    print(f"{pushes} pushes: {elapsed / pushes * 1000:.2f} ms each, "
          f"{counts['statements'] / pushes:.1f} SQL statements and {counts['commits'] / pushes:.1f} commits per push; "
          f"the write lock held {statistics.median(holds) * 1e6:.0f} µs (median, first write to commit)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)

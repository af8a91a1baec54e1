"""What one push costs in process: milliseconds, SQL statements, commits, the write lock.

    .venv/bin/python -m bench.push_cost [pushes]

The auth server runs in this process (Flask's test client, no HTTP, no gunicorn) on a
SQLite file, with the PAR rate limit lifted, so the figures are the server's own work
on POST /oauth/par: the floor that `make bench` measures over HTTP sits on top of this.

It also times how long each push holds SQLite's write lock, from its first write
statement to the start of its COMMIT: under load, a push that finds the lock taken
sleeps in SQLite's busy handler, 1 ms at first (benchmark.md, round eleven).
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
# A deferred transaction (pysqlite's implicit BEGIN) takes SQLite's write lock at its
# first write (sqlite.org/lang_transaction.html).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteLockTimer:
    """How long each transaction of an engine holds SQLite's write lock.

    Read from SQLite's own trace of the statements it runs: a span starts at a
    transaction's first write and ends at the start of its COMMIT. A ROLLBACK ends it
    without a hold, so no span runs on into the next transaction.
    """

    def __init__(self, engine):
        self.holds = []  # seconds, one for each committed transaction that wrote
        self.write_started = None
        event.listen(engine, "connect", self.trace_connection)
        engine.dispose()  # the connections made from now on are traced

    def trace_connection(self, dbapi_connection, connection_record):
        """Have SQLite report each statement this connection runs."""
        dbapi_connection.set_trace_callback(self.on_statement)

    def on_statement(self, statement):
        """Start a span at the first write, end it at COMMIT or ROLLBACK."""
        verb = statement.lstrip()[:8].upper()
        if verb.startswith(("COMMIT", "ROLLBACK")):
            if verb.startswith("COMMIT") and self.write_started is not None:
                self.holds.append(time.perf_counter() - self.write_started)
            self.write_started = None
        elif self.write_started is None and verb.startswith(WRITES):
            self.write_started = time.perf_counter()


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
        with app.app_context():
            engine = db.engine
        lock = WriteLockTimer(engine)

        @event.listens_for(engine, "before_cursor_execute")
        def count_statement(*args):
            counts["statements"] += 1

        @event.listens_for(engine, "commit")
        def count_commit(*args):
            counts["commits"] += 1

        browser = app.test_client()
        form = push_form()
        for _ in range(50):  # warm-up: connections, caches, compiled statements
            assert browser.post("/oauth/par", auth=WEB, data=form).status_code == 201
        counts.update(statements=0, commits=0)
        lock.holds.clear()
        started = time.perf_counter()
        for _ in range(pushes):
            browser.post("/oauth/par", auth=WEB, data=form)
        elapsed = time.perf_counter() - started
    print(f"{pushes} pushes: {elapsed / pushes * 1000:.2f} ms each, "
          f"{counts['statements'] / pushes:.1f} SQL statements and {counts['commits'] / pushes:.1f} commits per push; "
          f"the write lock held {statistics.median(lock.holds) * 1e6:.0f} µs "
          "(median: first write to the start of COMMIT)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)

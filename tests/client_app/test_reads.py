"""Each request of a login reads a row once: the LoginSession it loaded, it keeps across its own commits."""

from flask import request_started
from sqlalchemy import event

from client_app.models import db


def test_no_request_of_a_login_reads_the_same_row_twice(flow):
    """Log in, come back, see the notes: no SELECT runs twice with the same parameters in one request."""
    requests = []

    def new_request(sender, **extra):
        """A request starts: its statements get a list of their own."""
        requests.append([])

    def keep(connection, cursor, statement, parameters, context, executemany):
        """One more statement of the current request."""
        if requests and statement.lstrip().startswith("SELECT"):
            requests[-1].append((" ".join(statement.split()), tuple(parameters)))

    with flow.app.app_context():
        engine = db.engine
    request_started.connect(new_request, flow.app)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        flow.complete()
        notes = flow.client.get("/notes")
    finally:
        event.remove(engine, "before_cursor_execute", keep)
        request_started.disconnect(new_request, flow.app)
    assert notes.status_code == 200
    assert len(requests) >= 3  # the login POST, the callback, the notes (and the pages with forms)
    for statements in requests:
        repeated = {s for s in statements if statements.count(s) > 1}
        assert not repeated, repeated

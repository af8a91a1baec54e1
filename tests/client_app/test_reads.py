"""Each request of a login reads a row once: the LoginSession it loaded, it keeps across its own commits."""

from client_app.models import db

from tests.reads import repeated
from tests.reads import selects_by_request


def test_no_request_of_a_login_reads_the_same_row_twice(flow):
    """Log in, come back, see the notes: no SELECT runs twice with the same parameters in one request."""
    with flow.app.app_context():
        engine = db.engine
    with selects_by_request(flow.app, engine) as requests:
        flow.complete()
        notes = flow.client.get("/notes")
    assert notes.status_code == 200
    assert len(requests) >= 3  # the login POST, the callback, the notes (and the pages with forms)
    for statements in requests:
        assert not repeated(statements), statements

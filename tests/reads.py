"""The SELECTs each request ran, for the tests that a request reads a row once (any service)."""

from contextlib import contextmanager

from flask import request_started
from sqlalchemy import event


@contextmanager
def selects_by_request(app, engine):
    """Within the block, for each request the app serves, a list of its SELECTs (text, parameters)."""
    requests = []

    def new_request(sender, **extra):
        """A request starts: its statements get a list of their own."""
        requests.append([])

    def keep(connection, cursor, statement, parameters, context, executemany):
        """One more statement of the current request."""
        if requests and statement.lstrip().startswith("SELECT"):
            requests[-1].append((" ".join(statement.split()), tuple(parameters)))

    request_started.connect(new_request, app)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield requests
    finally:
        event.remove(engine, "before_cursor_execute", keep)
        request_started.disconnect(new_request, app)


def repeated(statements, allowed=""):
    """The SELECTs one request ran more than once (but those whose text contains `allowed`)."""
    return {s for s in statements if statements.count(s) > 1 and not (allowed and allowed in s[0])}

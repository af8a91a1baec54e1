"""Each request of a flow reads a row once: what a step loaded, it keeps across its own commits."""

from flask import request_started
from sqlalchemy import event

from auth_server.models import db

# Authlib validates the authorization request twice when consent is given
# (get_consent_grant, then create_authorization_response), and each validation asks
# whether the nonce was used before (OIDC Core §15.5.2).
ASKED_TWICE_BY_AUTHLIB = "FROM authorization_code WHERE authorization_code.client_id = ? AND authorization_code.nonce = ?"


def test_no_request_of_a_flow_reads_the_same_row_twice(app, flow):
    """Steps 2-10, every request: no SELECT runs twice with the same parameters."""
    requests = []

    def new_request(sender, **extra):
        """A request starts: its statements get a list of their own."""
        requests.append([])

    def keep(connection, cursor, statement, parameters, context, executemany):
        """One more statement of the current request."""
        if requests and statement.lstrip().startswith("SELECT"):
            requests[-1].append((" ".join(statement.split()), tuple(parameters)))

    with app.app_context():
        engine = db.engine
    request_started.connect(new_request, app)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        tokens = flow.tokens()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
        request_started.disconnect(new_request, app)
    assert "access_token" in tokens
    assert len(requests) == 7  # push, /authorize, login page and POST, consent page and POST, token
    for statements in requests:
        repeated = {s for s in statements if statements.count(s) > 1 and ASKED_TWICE_BY_AUTHLIB not in s[0]}
        assert not repeated, repeated

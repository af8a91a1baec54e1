"""Each request of a flow reads a row once: what a step loaded, it keeps across its own commits."""

from auth_server.models import db

from tests.reads import repeated
from tests.reads import selects_by_request

# Authlib validates the authorization request twice when consent is given
# (get_consent_grant, then create_authorization_response), and each validation asks
# whether the nonce was used before (OIDC Core §15.5.2).
ASKED_TWICE_BY_AUTHLIB = "FROM authorization_code WHERE authorization_code.client_id = ? AND authorization_code.nonce = ?"


def test_no_request_of_a_flow_reads_the_same_row_twice(app, flow):
    """Steps 2-10, every request: no SELECT runs twice with the same parameters."""
    with app.app_context():
        engine = db.engine
    with selects_by_request(app, engine) as requests:
        tokens = flow.tokens()
    assert "access_token" in tokens
    assert len(requests) == 7  # push, /authorize, login page and POST, consent page and POST, token
    for statements in requests:
        assert not repeated(statements, allowed=ASKED_TWICE_BY_AUTHLIB), statements

"""The auth_server container restarts between the push and /authorize."""

from tests.stack import authorize
from tests.stack import finish
from tests.stack import push


def test_flow_survives_an_auth_server_restart_after_the_push(browser, stack):
    """The pushed request lives in the database, not in a process: the login completes."""
    authorize_url = push(browser, stack)
    auth_server = stack.container("auth_server")
    started_at = auth_server.attrs["State"]["StartedAt"]

    auth_server.restart(timeout=10)
    stack.wait_healthy(["auth_server"])

    assert stack.container("auth_server").attrs["State"]["StartedAt"] != started_at
    # RFC 9126 §2.2: the request_uri (30 s) is still good after the restart.
    notes = finish(browser, stack, authorize(browser, authorize_url))
    assert notes.status_code == 200
    assert "Alice Liddell" in notes.text
    assert "Buy oat milk and coffee beans." in notes.text

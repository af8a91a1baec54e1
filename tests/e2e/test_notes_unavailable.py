"""The notes_api container stops, then starts again, under a logged-in user."""

from tests.stack import log_in


def test_client_says_notes_unavailable_then_recovers(browser, stack):
    """A readable 503 page while the API is down; the same session sees the notes after."""
    assert log_in(browser, stack).status_code == 200
    notes_api = stack.container("notes_api")

    notes_api.stop(timeout=10)
    try:
        page = browser.get(stack.client + "/notes", allow_redirects=False)
        assert page.status_code == 503
        assert "Notes service unavailable" in page.text
        assert "Notes app" in page.text
        assert "Traceback" not in page.text
    finally:
        notes_api.start()
        stack.wait_healthy(["notes_api"])

    again = browser.get(stack.client + "/notes", allow_redirects=False)
    assert again.status_code == 200
    assert "Buy oat milk and coffee beans." in again.text

"""POST /logout: the row goes, the cookie session is cleared."""


def test_logout_deletes_the_row(flow):
    """Logging out deletes the LoginSession and its tokens, then 303 home."""
    flow.complete()
    response = flow.post_form("/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert flow.rows() == []
    assert "login_session_id" not in flow.cookie_session()
    assert flow.client.get("/notes").headers["Location"] == "/"


def test_logout_leaves_other_logins_alone(app, flow):
    """Only this browser's row is deleted."""
    other = app.test_client()
    other_flow = type(flow)(app, other, flow.auth_server)
    other_flow.complete()
    flow.complete()
    flow.post_form("/logout")
    assert [row.access_token for row in flow.rows()] == ["access-token-1"]


def test_logout_needs_a_csrf_token(flow, expect_page):
    """No other site can log the user out: the form is CSRF-protected."""
    flow.complete()
    expect_page(flow.client.post("/logout"), 400, "CSRF")
    assert flow.row().access_token == "access-token-1"


def test_home_page_when_logged_in(flow, expect_page):
    """After login the home page names the user and offers the notes and a Log out form."""
    flow.complete()
    expect_page(flow.client.get("/"), 200, "Alice Liddell", 'href="/notes"', 'action="/logout"')

"""The AS session is renewed at sign-in: a session fixed or copied before it is worth nothing after."""

from .conftest import csrf_token

COOKIE = "auth_server_session"


def session_of(client):
    """What the browser's signed session cookie holds."""
    with client.session_transaction() as session:
        return dict(session)


def test_sign_in_renews_the_browser_id_and_the_csrf_token(flow):
    """OWASP session management: a new session id (browser_id) and a new CSRF token at sign-in."""
    login_url = flow.authorize(flow.request_uri()).location
    form_token = csrf_token(flow.client.get(login_url).text)
    before, cookie_before = session_of(flow.client), flow.client.get_cookie(COOKIE).value
    signed_in = flow.client.post(login_url, data={"csrf_token": form_token, "username": "alice", "password": "alice"})
    assert signed_in.status_code == 303
    consent_page = flow.client.get(signed_in.location)
    assert consent_page.status_code == 200
    after = session_of(flow.client)
    assert after["browser_id"] != before["browser_id"]
    assert after["csrf_token"] != before["csrf_token"]
    assert flow.client.get_cookie(COOKIE).value != cookie_before
    # The form token from before sign-in is refused on the consent form.
    stale = flow.client.post(signed_in.location, data={"csrf_token": form_token, "allow": "Allow"})
    assert stale.status_code == 400
    assert "form expired" in stale.text
    # The renewed session goes on to the code.
    assert flow.consent(signed_in.location).status_code == 303


def test_the_session_from_before_sign_in_cannot_continue_the_login(app, flow):
    """Session fixation: whoever holds the pre-sign-in cookie cannot reach the signed-in login."""
    login_url = flow.authorize(flow.request_uri()).location
    flow.client.get(login_url)
    fixed_cookie = flow.client.get_cookie(COOKIE).value
    consent_url = flow.login(login_url).location
    attacker = app.test_client()
    attacker.set_cookie(COOKIE, fixed_cookie)
    assert attacker.get(consent_url).status_code == 400
    assert attacker.get(login_url).status_code == 400
    assert flow.client.get(consent_url).status_code == 200


def test_other_logins_of_this_browser_survive_the_renewal(flow):
    """A second tab's login in progress moves to the renewed session with the first."""
    first_tab = flow.authorize(flow.request_uri()).location
    second_tab = flow.authorize(flow.request_uri()).location
    assert flow.login(first_tab).status_code == 303
    assert flow.login(second_tab).status_code == 303

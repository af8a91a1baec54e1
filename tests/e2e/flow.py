"""The user's side of the 12 steps, as a browser does them, against the published ports.

Split where the tests need to step in: `push` is steps 1-4 up to the redirect to
/authorize (the client has pushed by then), `authorize` is steps 4-7 (login and
consent at the authorization server), `finish` is steps 7-12 (the client's callback,
then the notes page).
"""

import re
from urllib.parse import parse_qs
from urllib.parse import urlparse


def csrf_token(html):
    """The CSRF token in a page's form (Flask-WTF's hidden input)."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def query(url):
    """A URL's query parameters as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def push(browser, stack):
    """Steps 1-4: click "Log in" at the client; returns the /authorize URL it redirects to."""
    home = browser.get(stack.client + "/")
    assert home.status_code == 200
    redirect = browser.post(stack.client + "/login", data={"csrf_token": csrf_token(home.text)},
                            allow_redirects=False)
    assert redirect.status_code == 303
    authorize_url = redirect.headers["Location"]
    # RFC 9126 §4: the front channel carries only client_id and the request_uri.
    assert authorize_url.startswith(stack.auth + "/authorize?")
    params = query(authorize_url)
    assert set(params) == {"client_id", "request_uri"}
    assert params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    return authorize_url


def authorize(browser, stack, authorize_url, username="alice"):
    """Steps 4-7: arrive at /authorize, log in, consent; returns where the AS redirects."""
    arrival = browser.get(authorize_url, allow_redirects=False)
    assert arrival.status_code == 303
    login_url = stack.auth + arrival.headers["Location"]
    login_page = browser.get(login_url)
    assert "Authorization Server" in login_page.text
    logged_in = browser.post(login_url, allow_redirects=False, data={
        "csrf_token": csrf_token(login_page.text), "username": username, "password": username})
    assert logged_in.status_code == 303
    consent_url = stack.auth + logged_in.headers["Location"]
    consent_page = browser.get(consent_url)
    assert "Read your notes" in consent_page.text
    consented = browser.post(consent_url, allow_redirects=False, data={
        "csrf_token": csrf_token(consent_page.text), "allow": "Allow"})
    assert consented.status_code == 303
    return consented.headers["Location"]


def finish(browser, stack, callback_url):
    """Steps 7-12: the client checks the callback and swaps the code; returns the notes page."""
    assert callback_url.startswith(stack.client + "/callback?")
    # RFC 9207: the AS names itself by its public issuer URL, even inside docker.
    assert query(callback_url)["iss"] == stack.auth
    landed = browser.get(callback_url, allow_redirects=False)
    assert landed.status_code == 303
    return browser.get(stack.client + landed.headers["Location"], allow_redirects=False)


def log_in(browser, stack, username="alice"):
    """All 12 steps; returns the notes page."""
    return finish(browser, stack, authorize(browser, stack, push(browser, stack), username))


def add_note(browser, stack, text):
    """Add a note from the client's notes page (the client calls the API with write:notes)."""
    page = browser.get(stack.client + "/notes")
    added = browser.post(stack.client + "/notes", allow_redirects=False,
                         data={"csrf_token": csrf_token(page.text), "text": text})
    assert added.status_code == 303

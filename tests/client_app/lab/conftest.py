"""Peers for the attack lab's tests, on top of ../conftest.py's fake AS back channel.

- `front_channel`: the AS's browser pages (/authorize, the login and consent forms),
  with an account lockout a test can switch on;
- `client_peer`: this client app itself, in this process, where the lab reaches it over
  HTTP (CLIENT_BASE_URL), so an attack on the client meets the client's real code.
"""

import re
from collections import Counter
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest

LOGIN_PAGE = '<main><h1>Sign in</h1><form method="post"><input type="hidden" name="csrf_token" value="t0ken"></form></main>'


class FakeFrontChannel:
    """The AS's pages as a browser meets them; a demo user's password is their username.

    Attributes a test may change: `lock_after` (wrong passwords after which an account
    answers 429, None: never), `leaky_lock` (a locked account still lets the right
    password in), `closes_after` (wrong passwords that close one login, as MAX_FAILED_LOGINS).
    """

    def __init__(self, http, base, redirect_uri, issuer):
        self.redirect_uri = redirect_uri
        self.issuer = issuer
        self.lock_after = None
        self.leaky_lock = False
        self.closes_after = 5
        self.attempts = []  # (username, password, status), in order
        self.wrong = Counter()  # wrong passwords per account
        self.per_login = Counter()  # wrong passwords per login
        self.arrivals = 0
        interaction = re.escape(base) + r"/interaction/(\w+)/"
        http.add_callback("GET", f"{base}/authorize", self._authorize)
        http.add_callback("GET", re.compile(interaction + "login"), lambda request: (200, {}, LOGIN_PAGE))
        http.add_callback("POST", re.compile(interaction + "login"), self._login)
        http.add_callback("GET", re.compile(interaction + "consent"),
                          lambda request: (200, {}, LOGIN_PAGE.replace("Sign in", "Allow?")))
        http.add_callback("POST", re.compile(interaction + "consent"), self._consent)

    def _authorize(self, request):
        """Step 4: a new login, on to its login form."""
        self.arrivals += 1
        return 303, {"Location": f"/interaction/i{self.arrivals}/login"}, ""

    def _login(self, request):
        """Step 5: 303 to consent, 401 for a wrong password, 429 for a locked account."""
        login = urlsplit(request.url).path.split("/")[2]
        form = dict(parse_qsl(request.body))
        username, password = form.get("username", ""), form.get("password", "")
        right = password == username
        locked = self.lock_after is not None and self.wrong[username] >= self.lock_after
        if locked and not (right and self.leaky_lock):
            status, headers = 429, {"Retry-After": "600"}
        elif right:
            status, headers = 303, {"Location": f"/interaction/{login}/consent"}
        elif self.per_login[login] + 1 >= self.closes_after:
            self.wrong[username] += 1
            status, headers = 400, {}  # this login is closed
        else:
            self.wrong[username] += 1
            self.per_login[login] += 1
            status, headers = 401, {}
        self.attempts.append((username, password, status))
        return status, {"Content-Type": "text/html", **headers}, LOGIN_PAGE

    def _consent(self, request):
        """Steps 6-7: allowed; back to the client with a code."""
        return 303, {"Location": f"{self.redirect_uri}?code=code-1234567890abc&state=s&iss={self.issuer}"}, ""

    def usernames(self):
        """Every username that was typed, once each."""
        return {username for username, _, _ in self.attempts}


@pytest.fixture
def front_channel(http, app, auth_server):
    """The fake AS's pages, at its public issuer."""
    return FakeFrontChannel(http, app.config["ISSUER"].rstrip("/"), app.config["REDIRECT_URI"],
                            app.config["ISSUER"])


class ClientAppPeer:
    """This client app, answering the lab's HTTP requests to CLIENT_BASE_URL in this process."""

    def __init__(self, http, app):
        self.client = app.test_client(use_cookies=False)  # the lab's browsers keep the cookies
        self.hosts = []  # the Host each request named
        base = re.escape(app.config["CLIENT_BASE_URL"])
        for method in ("GET", "POST"):
            http.add_callback(method, re.compile(base + r"(/.*)?"), self._forward)

    def _forward(self, request):
        """Hand the request to the app as it came (Host and Cookie included)."""
        parts = urlsplit(request.url)
        headers = [(name, value) for name, value in request.headers.items() if name.lower() != "content-length"]
        response = self.client.open(parts.path or "/", method=request.method, query_string=parts.query,
                                    headers=headers, data=request.body)
        self.hosts.append(dict(headers).get("Host", parts.netloc))
        return response.status_code, list(response.headers.items()), response.get_data()


@pytest.fixture
def client_peer(http, app, auth_server):
    """The client app in this process, behind its CLIENT_BASE_URL."""
    return ClientAppPeer(http, app)

"""Our services as real gunicorn processes on free loopback ports, and a browser signing in.

Every suite that needs the running services starts them here: `Stack` is the three
of them (their URLs, their logs, how to stop them), `gunicorn` is one of them, and
`Service` is any process on a loopback port (the interop tests run Node peers too).

The browser is an HTTP session (requests.Session) that keeps cookies and follows
nothing by itself. `log_in` is the whole flow through the real pages; `push`,
`authorize` and `finish` are its parts, for tests that step in between, and
`sign_in` and `consent` are the two forms at the authorization server. They work
with any stack that has `client` and `auth` URLs: this module's, or the compose
stack's published ports in tests/e2e.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlparse

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# Our services' settings that a developer's shell must not leak into a test run.
SERVICE_SETTINGS = ("ISSUER", "AUTH_SERVER_INTERNAL_URL", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI",
                    "SCOPE", "AUDIENCE", "RESOURCE", "TOKEN_ENDPOINT_AUTH_METHOD", "NOTES_API_URL",
                    "JWKS_URL", "DATABASE_URL", "AUTHLIB_INSECURE_TRANSPORT", "HOST", "TRUSTED_HOSTS",
                    "PUBLIC_URL", "TOKEN_CHECK", "PROFILE", "PROFILES", "CLASSIC_CLIENT_ID",
                    "CLASSIC_CLIENT_SECRET", "FAPI_CLIENT_ID", "INSPECTOR_SHOWS_TOKENS", "CLIENTS_FILE")
# Where each service says it is ready, in the order they start: the authorization
# server first, since the other two read its metadata.
HEALTH = {"auth_server": "/.well-known/openid-configuration", "notes_api": "/healthz", "client_app": "/healthz"}
# Seconds a browser request may take, even under a thousand flows at once.
TIMEOUT = 30


def free_ports(count):
    """`count` distinct loopback ports nobody is listening on right now. The sockets stay
    open until all are bound: one closed before the next is asked for could be handed out
    again, and two services given one port would leave the second unable to start."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def free_port():
    """A loopback port nobody is listening on right now."""
    return free_ports(1)[0]


def environment(**settings):
    """This process's environment without our services' settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}
    return {**env, **settings, "PYTHONUNBUFFERED": "1"}


class Service:
    """One process on a loopback port: its URL, its log, how to wait for it and stop it."""

    def __init__(self, name, url, command, env, log_path):
        self.name = name
        self.url = url
        self.log_path = log_path
        with log_path.open("w") as log_file:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file,
                                            stderr=subprocess.STDOUT)

    def wait_until_up(self, path, timeout=30):
        """Poll a URL until it answers 200; fail with the log if the process dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited early:\n{self.log()}")
            try:
                if requests.get(self.url + path, timeout=1).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):  # not listening, or busy starting
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not come up:\n{self.log()}")

    def log(self):
        """Everything the process has printed so far."""
        return self.log_path.read_text()

    def stop(self):
        """Stop the process (gunicorn stops its workers on SIGTERM); kill one that hangs."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def gunicorn(name, port, log_path, env):
    """Start one of our services under its own gunicorn.conf.py, as `make demo` does."""
    command = [GUNICORN, "-c", f"{name}/gunicorn.conf.py", f"{name}:create_app()"]
    return Service(name, f"http://localhost:{port}", command, {**env, "PORT": str(port)}, log_path)


class Stack:
    """The three services (2 workers each), where they listen, and their logs.

    `overrides` adds environment variables per service, e.g. a shorter request_uri
    lifetime: {"auth_server": {"PAR_EXPIRES_IN": "3"}}.
    """

    def __init__(self, tmp, overrides=None):
        self.tmp = tmp
        self.overrides = overrides or {}
        self.ports = dict(zip(HEALTH, free_ports(len(HEALTH))))
        self.auth = f"http://localhost:{self.ports['auth_server']}"
        self.client = f"http://localhost:{self.ports['client_app']}"
        self.api = f"http://localhost:{self.ports['notes_api']}"
        self.processes = {}

    def env(self, name):
        """Each party's configuration, as a newcomer would set it: environment variables."""
        common = {"PORT": str(self.ports[name]), "WEB_CONCURRENCY": "2", "ISSUER": self.auth,
                  "DATABASE_URL": f"sqlite:///{self.tmp}/{name}.sqlite"}
        extra = {
            "auth_server": {"NOTES_WEB_REDIRECT_URI": self.client + "/callback",
                            "NOTES_FAPI_JWKS_URI": self.client + "/.well-known/jwks.json"},
            "client_app": {"REDIRECT_URI": self.client + "/callback", "NOTES_API_URL": self.api,
                           "CLIENT_BASE_URL": self.client},
            "notes_api": {"PUBLIC_URL": self.api},
        }[name]
        # A test's overrides win over the defaults above.
        return environment(**{**common, **extra, **self.overrides.get(name, {})})

    def start(self):
        """Start the three services, each waited for before the next."""
        for name, health_path in HEALTH.items():
            self.processes[name] = gunicorn(name, self.ports[name], self.tmp / f"{name}.log", self.env(name))
            self.processes[name].wait_until_up(health_path)

    def log(self, name):
        """Everything a service has logged so far."""
        return self.processes[name].log()

    def stop(self):
        """Stop every service that was started."""
        for service in self.processes.values():
            service.stop()


def run_stack(stack, request):
    """Start the three services, yield the stack, stop them; print their logs on failure."""
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if request.session.testsfailed:
            for name in stack.processes:
                print(f"\n===== {name} log =====\n{stack.log(name)}")


def csrf_token(html):
    """The CSRF token in a page's form (Flask-WTF's hidden input)."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def query(url):
    """A URL's query parameters as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


# Each profile's client at the AS (client_app's defaults).
PROFILE_CLIENTS = {"classic": "notes-classic", "par": "notes-web", "fapi2": "notes-fapi"}


def push(browser, stack, profile="par"):
    """Steps 1-4: pick a profile and click "Log in" at the client; returns the /authorize URL it redirects to."""
    home = browser.get(stack.client + "/", timeout=TIMEOUT)
    assert home.status_code == 200
    # Steps 2-3 (the push) happen on the back channel while the client answers.
    redirect = browser.post(stack.client + "/login", data={"csrf_token": csrf_token(home.text), "profile": profile},
                            allow_redirects=False, timeout=TIMEOUT)
    assert redirect.status_code == 303
    authorize_url = redirect.headers["Location"]
    assert authorize_url.startswith(stack.auth + "/authorize?")
    params = query(authorize_url)
    assert params["client_id"] == PROFILE_CLIENTS[profile]
    if profile == "classic":
        # No push: the whole request rides in the URL (RFC 6749 §4.1.1).
        assert {"response_type", "redirect_uri", "scope", "state", "code_challenge"} <= set(params)
        return authorize_url
    # RFC 9126 §4: the front channel carries only client_id and the request_uri.
    assert set(params) == {"client_id", "request_uri"}
    assert params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    return authorize_url


def sign_in(browser, login_url, username="alice", password=None):
    """Step 5: the AS's login form (a demo user's password is their name); returns the consent path."""
    login_page = browser.get(login_url, timeout=TIMEOUT)
    assert "Authorization Server" in login_page.text
    logged_in = browser.post(login_url, allow_redirects=False, timeout=TIMEOUT, data={
        "csrf_token": csrf_token(login_page.text), "username": username, "password": password or username})
    assert logged_in.status_code == 303, logged_in.text
    return logged_in.headers["Location"]


def consent(browser, consent_url, decision="allow"):
    """Step 6: the consent page, showing the pushed scopes, then Allow (or Deny).

    Returns where the AS redirects the browser (step 7), not followed.
    """
    consent_page = browser.get(consent_url, timeout=TIMEOUT)
    assert "Read your notes" in consent_page.text
    decided = browser.post(consent_url, allow_redirects=False, timeout=TIMEOUT, data={
        "csrf_token": csrf_token(consent_page.text), decision: decision.title()})
    assert decided.status_code == 303, decided.text
    return decided.headers["Location"]


def authorize(browser, authorize_url, username="alice", decision="allow"):
    """Steps 4-7: arrive at /authorize, sign in, consent; returns where the AS redirects."""
    arrival = browser.get(authorize_url, allow_redirects=False, timeout=TIMEOUT)
    assert arrival.status_code == 303, arrival.text
    login_url = urljoin(authorize_url, arrival.headers["Location"])
    consent_url = urljoin(login_url, sign_in(browser, login_url, username))
    return consent(browser, consent_url, decision)


def finish(browser, stack, callback_url):
    """Steps 7-12: the client checks the callback and swaps the code; returns the notes page."""
    assert callback_url.startswith(stack.client + "/callback?")
    # RFC 9207: the AS names itself by its public issuer URL (inside docker too).
    assert query(callback_url)["iss"] == stack.auth
    landed = browser.get(callback_url, allow_redirects=False, timeout=TIMEOUT)
    assert landed.status_code == 303
    return browser.get(stack.client + landed.headers["Location"], allow_redirects=False, timeout=TIMEOUT)


def log_in(browser, stack, username="alice", profile="par"):
    """All 12 steps through the real pages, in one of the client's profiles; returns the notes page."""
    return finish(browser, stack, authorize(browser, push(browser, stack, profile), username))


def add_note(browser, stack, text):
    """Add a note from the client's notes page (the client calls the API with write:notes)."""
    page = browser.get(stack.client + "/notes", timeout=TIMEOUT)
    added = browser.post(stack.client + "/notes", allow_redirects=False, timeout=TIMEOUT,
                         data={"csrf_token": csrf_token(page.text), "text": text})
    assert added.status_code == 303

"""Independent peers for our services: panva's Node libraries, run for real.

- auth_server (gunicorn) <- openid-client / oauth4webapi relying parties (Node scripts)
- client_app + notes_api (gunicorn) -> oidc-provider (a Node server)

Every party is configured by environment variables only, as a newcomer would do.
The npm packages come from tests/interop/package-lock.json (`npm ci`).
"""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.stack import Service
from tests.stack import authorize
from tests.stack import environment
from tests.stack import free_port
from tests.stack import free_ports
from tests.stack import gunicorn
from tests.stack import query

INTEROP = Path(__file__).resolve().parent

# The oldest Node the peers support (openid-client 6 and oidc-provider 9 need 20+).
NODE_MAJOR = 20

# Our demo client, as registered at both authorization servers. The redirect URI is
# never listened on when openid-client plays the client: the test reads the redirect.
CLIENT_ID = "notes-web"
RP_REDIRECT_URI = "http://localhost:3000/callback"
# A secret with a space and the characters form encoding treats specially: RFC 6749
# §2.3.1 says client_secret_basic form-urlencodes it, and a conforming client does.
RP_CLIENT_SECRET = "notes web secret+/:%&="
NOTES_API = "urn:my-notes-api"


def our_service(name, port, tmp, **settings):
    """One of our services under gunicorn (2 workers), configured by environment alone."""
    env = environment(WEB_CONCURRENCY="2", DATABASE_URL=f"sqlite:///{tmp}/{name}.sqlite", **settings)
    return gunicorn(name, port, tmp / f"{name}.log", env)


@pytest.fixture(scope="session")
def node():
    """The node binary, with tests/interop's locked npm packages installed."""
    node = shutil.which("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout if node else ""
    major = int(re.match(r"v(\d+)", version).group(1)) if version else 0
    if major < NODE_MAJOR:
        reason = f"the interop tests need Node {NODE_MAJOR}+ and npm (found: {version.strip() or 'no node'})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but {reason}")
        pytest.skip(f"{reason}; install Node from https://nodejs.org to run them")
    installed = INTEROP / "node_modules" / ".package-lock.json"
    lock = INTEROP / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("node is installed but npm is not: cannot install tests/interop's packages")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=INTEROP,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"npm ci in tests/interop failed:\n{done.stdout}\n{done.stderr}")
    return node


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, request):
    """Our authorization server under gunicorn; its log is printed if a test failed."""
    port = free_port()
    server = our_service("auth_server", port, tmp_path_factory.mktemp("auth_server"),
                         ISSUER=f"http://localhost:{port}", NOTES_WEB_SECRET=RP_CLIENT_SECRET,
                         NOTES_WEB_REDIRECT_URI=RP_REDIRECT_URI)
    try:
        yield server.wait_until_up("/.well-known/openid-configuration")
    finally:
        server.stop()
        if request.session.testsfailed:
            print(f"\n===== auth_server log =====\n{server.log()}")


class RelyingParty:
    """A Node relying party (openid_client_rp.js or oauth4webapi_rp.js) for our auth_server.

    Each call is one request to the web app it plays: `authorize` (the login button)
    and `callback` (the redirect back). The session dict stands in for its cookie.
    """

    def __init__(self, node, script, issuer, secret=RP_CLIENT_SECRET, **settings):
        """`settings` replace the defaults below; a client without a secret passes secret=None."""
        self.command = [node, str(INTEROP / script)]
        defaults = {"CLIENT_ID": CLIENT_ID, "REDIRECT_URI": RP_REDIRECT_URI, "AUDIENCE": NOTES_API,
                    "SCOPE": "openid profile email read:notes offline_access"}
        if secret is not None:
            defaults["CLIENT_SECRET"] = secret
        self.env = environment(ISSUER=issuer, **{**defaults, **settings})

    def run(self, mode, session=None):
        """Run the script once; (True, result) on success, (False, error) if it refused."""
        done = subprocess.run(self.command + [mode], cwd=INTEROP, env=self.env, capture_output=True,
                              text=True, timeout=60, input=json.dumps(session) if session else None)
        lines = done.stdout.strip().splitlines()
        if done.returncode not in (0, 2) or not lines:
            pytest.fail(f"{self.command[1]} {mode} crashed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.returncode == 0, json.loads(lines[-1])

    def authorize(self):
        """Discovery and PAR; the session to keep and the URL to send the browser to."""
        ok, result = self.run("authorize")
        assert ok, result
        return result

    def callback(self, session, callback_url):
        """Process the redirect back: (True, tokens and claims) or (False, error)."""
        return self.run("callback", {**session, "callback_url": callback_url})


class Form(HTMLParser):
    """The first form on a page: its action, and the values of its inputs (hidden ones too)."""

    def __init__(self, html):
        super().__init__()
        self.action = None
        self.fields = {}
        self._in_form = False
        self._done = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        """Collect the form's action and its named inputs' values."""
        attrs = dict(attrs)
        if tag == "form" and not self._done:
            self.action = attrs.get("action", "")
            self._in_form = True
        elif tag == "input" and self._in_form and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        """Stop at the end of the first form."""
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


class Browser:
    """An HTTP session playing the browser: it keeps cookies and follows redirects by hand."""

    def __init__(self, session):
        self.session = session

    def get(self, url):
        """GET one URL without following its redirect."""
        return self.session.get(url, allow_redirects=False, timeout=10)

    def submit(self, page, **values):
        """Post the page's first form with its hidden fields plus `values`."""
        form = Form(page.text)
        assert form.action is not None, f"no form on {page.url}:\n{page.text[:500]}"
        return self.session.post(urljoin(page.url, form.action), data={**form.fields, **values},
                                 allow_redirects=False, timeout=10)

    def follow(self, response, stop_at):
        """Follow redirects until a page (200) or a Location starting with `stop_at`.

        Returns the page, or the Location string that was not followed.
        """
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307, 308):
                assert response.status_code == 200, f"{response.url}: {response.status_code}\n{response.text[:500]}"
                return response
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(stop_at):
                return location
            response = self.get(location)
        pytest.fail(f"too many redirects, last at {response.url}")


@pytest.fixture
def browser():
    """A fresh browser (its own cookie jar) for one test."""
    with requests.Session() as session:
        yield Browser(session)


class AuthServerUser:
    """A person at our auth_server's pages: logs in and consents (or declines)."""

    def __init__(self, browser):
        self.browser = browser

    def answer(self, authorization_url, decision="allow", username="alice"):
        """Steps 4-7: arrive, log in, decide; returns the redirect to the client (not followed)."""
        return authorize(self.browser.session, authorization_url, username, decision)


@pytest.fixture
def alice(browser, auth_server):
    """Alice, at our auth_server's login and consent pages."""
    return AuthServerUser(browser)


class ProviderStack:
    """oidc-provider and our two services pointed at it: their processes and the issuer."""

    def __init__(self, issuer, processes):
        self.issuer = issuer
        self.processes = processes
        self.provider, self.notes_api, self.client_app = processes


def start_provider_stack(node, tmp, issuer_path="", profile="par"):
    """oidc-provider (in `profile`), our notes_api and client_app pointed at it; yields the stack.

    profile "par": notes-web with its client secret. "fapi2": the FAPI 2.0 Security
    Profile at the provider, and client_app as notes-fapi (its one profile), whose keys
    the provider fetches from client_app's jwks_uri.
    """
    ports = dict(zip(("provider", "client_app", "notes_api"), free_ports(3)))
    provider_url = f"http://localhost:{ports['provider']}"
    issuer = provider_url + issuer_path
    client_url = f"http://localhost:{ports['client_app']}"
    api_url = f"http://localhost:{ports['notes_api']}"
    env = environment(PORT=str(ports["provider"]), ISSUER=issuer, CLIENT_REDIRECT_URI=client_url + "/callback",
                      PROFILE=profile, CLIENT_JWKS_URI=client_url + "/.well-known/jwks.json")
    if profile == "fapi2":
        registration = {"PROFILES": "fapi2", "PROFILE": "fapi2", "FAPI_CLIENT_ID": "notes-fapi"}
    else:
        registration = {"PROFILES": "par", "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": "notes-web-secret"}
    processes = [Service("oidc-provider", provider_url, [node, str(INTEROP / "provider.js")], env,
                         tmp / "provider.log")]
    try:
        # Node's start-up (the import, a key pair, the provider) stalled past 30 s once on a
        # loaded CI machine, before printing anything of its own; it is seconds otherwise.
        processes[-1].wait_until_up("/.well-known/openid-configuration", timeout=90)
        # The API trusts the provider's tokens for our audience: issuer and audience, no more.
        processes.append(our_service("notes_api", ports["notes_api"], tmp, ISSUER=issuer, AUDIENCE=NOTES_API,
                                     PUBLIC_URL=api_url))
        processes[-1].wait_until_up("/healthz")
        # The client: issuer, its registration there, and the API it wants a token for.
        processes.append(our_service(
            "client_app", ports["client_app"], tmp, ISSUER=issuer, REDIRECT_URI=client_url + "/callback",
            CLIENT_BASE_URL=client_url, AUDIENCE="", RESOURCE=NOTES_API, NOTES_API_URL=api_url, **registration))
        processes[-1].wait_until_up("/healthz")
        yield ProviderStack(issuer, processes)
    finally:
        for process in processes:
            process.stop()


# Issuer identifiers are compared as exact strings (RFC 8414 §3.3, RFC 9207 §2.4), and
# real ones come both ways: ours has no trailing slash, Auth0's has one
# ("https://tenant.auth0.com/"). oidc-provider takes either; both must work.
@pytest.fixture(scope="session", params=["", "/"], ids=["issuer", "issuer-with-trailing-slash"])
def provider_stack(node, tmp_path_factory, request):
    """oidc-provider, with our notes_api and client_app pointed at it by environment alone."""
    stack = None
    try:
        for stack in start_provider_stack(node, tmp_path_factory.mktemp("provider_stack"), request.param):
            yield stack
    finally:
        if stack and request.session.testsfailed:
            for process in stack.processes:
                print(f"\n===== {process.name} log =====\n{process.log()}")


class ProviderUser:
    """Alice, using our client_app, logging in at oidc-provider's own pages."""

    def __init__(self, browser, stack):
        self.browser = browser
        self.client = stack.client_app.url
        self.provider = stack.provider.url

    def start(self):
        """Steps 1-4: click "Log in" at the client; returns the provider's login page."""
        home = self.browser.get(self.client + "/")
        pushed = self.browser.submit(home)
        assert pushed.status_code == 303, pushed.text
        # RFC 9126 §4: the browser carries client_id and request_uri only.
        authorize_url = pushed.headers["Location"]
        assert authorize_url.startswith(self.provider + "/auth?")
        params = query(authorize_url)
        assert set(params) == {"client_id", "request_uri"}
        assert params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
        login_page = self.browser.follow(self.browser.get(authorize_url), stop_at=self.client)
        assert Form(login_page.text).fields["prompt"] == "login"
        return login_page

    def consent_page(self):
        """Step 5: log in as alice (devInteractions take any password)."""
        logged_in = self.browser.submit(self.start(), login="alice", password="any")
        consent_page = self.browser.follow(logged_in, stop_at=self.client)
        assert Form(consent_page.text).fields["prompt"] == "consent"
        # The consent page lists what the client pushed: the API's scopes included.
        assert "read:notes" in consent_page.text
        return consent_page

    def allow(self):
        """Steps 6-7: consent; returns the redirect back to the client (not followed)."""
        return self.browser.follow(self.browser.submit(self.consent_page()), stop_at=self.client)

    def deny(self):
        """Steps 6-7: cancel at the consent page (oidc-provider's abort route)."""
        consent_page = self.consent_page()
        abort = re.search(r'href="([^"]*/abort)"', consent_page.text).group(1)
        return self.browser.follow(self.browser.get(urljoin(consent_page.url, abort)), stop_at=self.client)

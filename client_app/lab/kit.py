"""The attack lab's toolkit: what it attacks, how it sends, what it records, how it judges.

The attacks themselves are in attacks.py. Everything here is shared by them:
- `Target`: the stack as this client knows it, from its own settings (config.py);
- `Run`: one attack in progress. It sends each request (as the client on the back
  channel, or as a browser on the front channel), records the request and the
  response, and collects the checks that make the verdict;
- masking: a recorded exchange never shows a secret, a code or a whole token, only
  its first characters and an ellipsis (the client's one policy, masking.py);
- verdicts: BLOCKED (the spec's refusal, exactly), NOT BLOCKED (the attack worked),
  UNEXPECTED (refused, but not the way the spec says), COULD NOT RUN (a service was
  down, or the setup failed before the attack could be tried).
"""

import html
import json
import re
import secrets
import time
from base64 import b64decode
from contextlib import nullcontext
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import parse_qsl
from urllib.parse import quote
from urllib.parse import quote_plus
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ..errors import PageError
from ..masking import SECRET_FIELDS
from ..masking import mask
from ..masking import mask_header
from ..masking import mask_json
from ..masking import mask_jwts
from ..masking import mask_params
from ..masking import mask_url
from ..oauth_client import AuthServer
from ..oauth_client import client_authentication
from ..oauth_client import http_session

# The four verdicts, as the page and the command line print them.
BLOCKED = "BLOCKED"
NOT_BLOCKED = "NOT BLOCKED"
UNEXPECTED = "UNEXPECTED"
COULD_NOT_RUN = "COULD NOT RUN"
# The worst verdict among an attack's checks wins.
_SEVERITY = {BLOCKED: 0, UNEXPECTED: 1, NOT_BLOCKED: 2}

# DEMO ONLY: the lab's own accounts at the AS (auth_server/config.py's demo users),
# never a real user's: it signs in as `lab`, and its brute-force attack guesses at
# `lab-target`, so that a lockout leaves `lab` free for the other attacks.
LAB_USERNAME = "lab"
LAB_PASSWORD = "lab"
LAB_TARGET = "lab-target"
LAB_TARGET_PASSWORD = "lab-target"

# The longest an attack may wait (the expiry attack, a rate limit's Retry-After): from
# the page it holds a client worker meanwhile, so a couple of seconds at most.
MAX_WAIT_SECONDS = 3

# How much of a response body a recorded exchange keeps.
BODY_LIMIT = 700

SERVICE_NAMES = {
    "auth_server": "the authorization server (auth_server)",
    "client_app": "the notes client (client_app)",
    "notes_api": "the Notes API (notes_api)",
}


class CouldNotRun(Exception):
    """The attack could not be tried: a service is down, or its setup failed."""


class Unreachable(CouldNotRun):
    """A service did not answer at all (connection refused, timeout...)."""

    def __init__(self, service, url, reason):
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        message = f"Could not reach {SERVICE_NAMES.get(service, service)} at {origin} ({reason})."
        if service == "client_app" and reason.startswith("no answer"):
            # The page runs inside a client worker; the attack needs another one free.
            message += (" When the lab runs from the client's own page, the client needs a "
                        "second worker to answer the attack (WEB_CONCURRENCY >= 2).")
        else:
            message += " Is the stack running? Start it with `make demo`."
        super().__init__(message)
        self.service = service


def page_text(markup):
    """The readable text of an HTML page's main part, as one line."""
    main = re.search(r"<main[^>]*>(.*?)</main>", markup, re.S | re.I)
    part = main.group(1) if main else markup
    part = re.sub(r"<(script|style|head)[^>]*>.*?</\1>", " ", part, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", part)).split())


def page_title(markup):
    """An HTML page's first heading (what the user reads first)."""
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", markup, re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", heading.group(1))).split()) if heading else ""


def error_code(response):
    """The OAuth error code a response carries: Bearer/Basic challenge, JSON, or error page."""
    challenge = re.search(r'error="([^"]*)"', response.headers.get("WWW-Authenticate", ""))
    if challenge:
        return challenge.group(1)
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return body["error"]
    if "html" in response.headers.get("Content-Type", ""):
        # The authorization server's error page shows the code as <code>invalid_...</code>.
        shown = re.search(r"<code>([a-z_]+)</code>", response.text)
        return shown.group(1) if shown else None
    return None


def observed(response):
    """What a response said, in a few words: status, then error code or page heading."""
    detail = error_code(response)
    if detail is None and "html" in response.headers.get("Content-Type", ""):
        detail = page_title(response.text)
    return f"{response.status_code} {detail}" if detail else str(response.status_code)


@dataclass
class Note:
    """A step of an attack told in words (what happened between the requests shown)."""

    text: str
    kind: str = "note"


@dataclass
class Exchange:
    """One request sent and the response received, masked and ready to print."""

    title: str
    method: str
    url: str
    request_headers: list
    request_body: str
    status: int
    reason: str
    response_headers: list
    response_body: str
    # Setup steps (pushing, signing in) are shown folded: the attack is the rest.
    setup: bool = False
    kind: str = "exchange"


@dataclass
class Check:
    """One expectation of an attack and what was seen."""

    verdict: str
    saw: str
    expected: str


@dataclass
class Result:
    """The outcome of one attack: verdict, what was seen, and every step (masked)."""

    attack: object
    verdict: str
    saw: str
    steps: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0

    @property
    def blocked(self):
        """True when the stack refused the attack exactly as the spec says."""
        return self.verdict == BLOCKED


class Target:
    """The stack as this client knows it: its own settings, and the AS's discovery.

    `config` is the client's configuration (app.config, or config.Config's values).
    The lab pushes as its own client (LAB_CLIENT_ID), whose request_uri lives 2 s; the
    app's own client (`web_client`) is only "another client" to it.
    """

    def __init__(self, config):
        self.issuer = config["ISSUER"]
        self.client_id = config["LAB_CLIENT_ID"]
        self.client_secret = config["LAB_CLIENT_SECRET"]
        self.web_client = (config["CLIENT_ID"], config["CLIENT_SECRET"])
        self.auth_method = config["TOKEN_ENDPOINT_AUTH_METHOD"]
        self.redirect_uri = config["REDIRECT_URI"]
        self.scope = config["SCOPE"]
        self.audience = config["AUDIENCE"]
        self.notes_api = config["NOTES_API_URL"].rstrip("/")
        self.client_base = config["CLIENT_BASE_URL"].rstrip("/")
        self.timeout = config["HTTP_TIMEOUT_SECONDS"]
        # The same discovery and back-channel rewrite as the client's own login code.
        self.server = AuthServer(config)

    def metadata(self):
        """The AS's endpoints from discovery (back-channel ones rewritten)."""
        try:
            return self.server.metadata()
        except PageError as e:
            hint = " Is the stack running? Start it with `make demo`." if "reach" in e.message else ""
            raise CouldNotRun(e.message + hint) from None

    def reach(self, url):
        """Where this process reaches a URL: an AS URL goes to the AS's internal base."""
        # Inside docker "localhost:9000" is not the AS; the lab's browser is this process.
        return self.server.back_channel(url)

    def service_of(self, url):
        """Which of the three services a URL belongs to."""
        bases = {"notes_api": self.notes_api, "client_app": self.client_base}
        for service, base in bases.items():
            if url == base or url.startswith(base + "/"):
                return service
        return "auth_server"


class Run:
    """One attack in progress: it sends, records, checks, and finally judges."""

    def __init__(self, target, announce=None):
        self.target = target
        self.steps = []
        self.checks = []
        self.message = ""
        # Every secret seen on the wire, so that no recorded text can show one whole.
        self.secrets = {target.client_secret, target.web_client[1]}
        # Where to say "waiting 3 s..." while it happens (the command line prints it).
        self.announce = announce or (lambda text: None)

    # -- sending ---------------------------------------------------------------

    def send(self, method, url, title="", browser=None, setup=False, record=True, **kwargs):
        """Send one request (never following redirects); record it unless told not to."""
        url = self.target.reach(url)
        service = self.target.service_of(url)
        try:
            # The browser's own session, or a fresh one for this request alone.
            with nullcontext(browser) if browser is not None else http_session() as sender:
                response = sender.request(method, url, timeout=self.target.timeout,
                                          allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise Unreachable(service, url, f"no answer within {self.target.timeout:g} s") from None
        except requests.RequestException as e:
            raise Unreachable(service, url, type(e).__name__) from None
        self._learn(response)
        if record:
            self.steps.append(self._capture(title, response, setup))
        return response

    def client_post(self, url, form, title, secret=None, authenticate=True, setup=False, record=True,
                    client_id=None):
        """POST a form as the lab's client (or `client_id`), authenticating as the client does (RFC 6749 §2.3.1)."""
        target = self.target
        client_id = client_id or target.client_id
        form = {"client_id": client_id, **form}
        auth = None
        if authenticate:
            secret = target.client_secret if secret is None else secret
            # The client's own code for it, so the lab authenticates exactly as the client does.
            form, auth = client_authentication(form, client_id, secret, target.auth_method)
            self.secrets.add(secret)
        return self.send("POST", url, title, data=form, auth=auth, setup=setup, record=record)

    def note(self, text):
        """Tell a step in words."""
        self.steps.append(Note(text))

    def wait(self, seconds, why):
        """Sleep as part of the attack, saying so (the command line shows it live); never long."""
        if seconds > MAX_WAIT_SECONDS:
            raise CouldNotRun(f"The attack would wait {seconds} s ({why}); the lab waits at most "
                              f"{MAX_WAIT_SECONDS} s, not to hold a worker of the client.")
        self.note(f"Waited {seconds} s: {why}.")
        self.announce(f"waiting {seconds} s: {why}")
        time.sleep(seconds)

    # -- checking ---------------------------------------------------------------

    def expect_error(self, response, status, error):
        """The response must be exactly this refusal: status and RFC error code."""
        saw = observed(response)
        if response.status_code == status and error_code(response) == error:
            verdict = BLOCKED
        elif response.status_code < 400:
            verdict = NOT_BLOCKED  # the server went along with the attack
        else:
            verdict = UNEXPECTED   # refused, but not the way the spec says
        self.checks.append(Check(verdict, saw, f"{status} {error}"))

    def expect_page(self, response, status):
        """The response must be an error page with this status (no error code to check)."""
        saw = observed(response)
        if response.status_code == status and "html" in response.headers.get("Content-Type", ""):
            verdict = BLOCKED
        elif response.status_code < 400:
            verdict = NOT_BLOCKED
        else:
            verdict = UNEXPECTED
        self.checks.append(Check(verdict, saw, f"{status} error page"))

    def expect_status(self, response, status):
        """The response must be a refusal with this status, whatever its body."""
        saw = observed(response)
        if response.status_code == status:
            verdict = BLOCKED
        elif response.status_code < 400:
            verdict = NOT_BLOCKED
        else:
            verdict = UNEXPECTED
        self.checks.append(Check(verdict, saw, str(status)))

    def expect(self, holds, saw, expected):
        """A property the defence guarantees; if it does not hold, the attack worked."""
        self.checks.append(Check(BLOCKED if holds else NOT_BLOCKED, saw, expected))

    def require(self, response, statuses, what):
        """A setup step must succeed, or the attack cannot be tried at all."""
        if response.status_code not in statuses:
            raise CouldNotRun(f"{what} failed: HTTP {observed(response)}.")

    # -- the result ---------------------------------------------------------------

    def result(self, attack, seconds):
        """Judge the run and mask everything it recorded."""
        if self.message:
            verdict, saw = COULD_NOT_RUN, "not run"
        elif not self.checks:
            verdict, saw = COULD_NOT_RUN, "no check was made"
            self.message = "The attack ended without checking anything (a bug in the lab)."
        else:
            verdict = max((check.verdict for check in self.checks), key=_SEVERITY.get)
            saw = "; ".join(dict.fromkeys(check.saw for check in self.checks))
        steps = [self._masked(step) for step in self.steps]
        checks = [Check(c.verdict, self.scrub(c.saw), self.scrub(c.expected)) for c in self.checks]
        return Result(attack, verdict, self.scrub(saw), steps, checks, self.scrub(self.message),
                      round(seconds, 1))

    def scrub(self, text):
        """Mask every secret this run has seen, and any JWT, wherever it appears in text."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 8:
                # A secret may also appear percent-encoded (in a URL inside a page).
                for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
                    text = text.replace(form, mask(secret))
        return mask_jwts(text)

    def _learn(self, response):
        """Remember the secrets on the wire: credentials, codes, tokens, states."""
        request = response.request
        found = parse_qsl(urlsplit(request.url).query)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        if "x-www-form-urlencoded" in request.headers.get("Content-Type", ""):
            found += parse_qsl(body)
        credentials = request.headers.get("Authorization", "").partition(" ")[2]
        if credentials:
            self.secrets.add(credentials)
            try:
                self.secrets.add(b64decode(credentials).decode().partition(":")[2])
            except ValueError:
                pass  # a Bearer token, not Basic credentials
        found += parse_qsl(urlsplit(response.headers.get("Location", "")).query)
        if "json" in response.headers.get("Content-Type", ""):
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                found += [(k, v) for k, v in answer.items() if isinstance(v, str)]
        self.secrets.update(value for name, value in found if name in SECRET_FIELDS)

    def _capture(self, title, response, setup):
        """Record a request and its response, keeping only what a reader needs."""
        request = response.request
        headers = []
        if "Authorization" in request.headers:
            headers.append(("Authorization", request.headers["Authorization"]))
        if request.body and "Content-Type" in request.headers:
            headers.append(("Content-Type", request.headers["Content-Type"]))
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        kept = ("Location", "WWW-Authenticate", "Retry-After", "Content-Type", "Cache-Control")
        response_headers = [(name, response.headers[name]) for name in kept if name in response.headers]
        return Exchange(title, request.method, request.url, headers, body, response.status_code,
                        response.reason or "", response_headers, response.text, setup)

    def _masked(self, step):
        """A recorded step with every secret masked, ready for the page or the terminal."""
        if isinstance(step, Note):
            return Note(self.scrub(step.text))
        return Exchange(
            title=self.scrub(step.title), method=step.method, url=self.scrub(mask_url(step.url)),
            request_headers=[(n, self.scrub(mask_header(n, v))) for n, v in step.request_headers],
            request_body=self.scrub(_readable_body(step.request_body)),
            status=step.status, reason=step.reason,
            response_headers=[(n, self.scrub(mask_header(n, v))) for n, v in step.response_headers],
            # A redirect's body only repeats its Location.
            response_body="" if 300 <= step.status < 400 else self.scrub(_readable_body(step.response_body)),
            setup=step.setup)


def _readable_body(body):
    """A body for reading: JSON pretty and masked, a form one field a line, a page as text."""
    if not body:
        return ""
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.dumps(mask_json(json.loads(body)), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    if stripped.startswith("<"):
        text = page_text(body)
    elif "=" in body and " " not in body and "\n" not in body:
        text = "\n".join(f"{name}={value}" for name, value in mask_params(parse_qsl(body)))
    else:
        text = body
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + " …"


# -- what every attack does on its way to the interesting request --------------------


@dataclass
class Pushed:
    """A pushed authorization request, as the lab keeps it."""

    request_uri: str
    expires_in: int
    verifier: str
    state: str


def push_form(target, **overrides):
    """An authorization request like the client's own (RFC 9126 §2.1), and its PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    form = {
        "response_type": "code",
        "redirect_uri": target.redirect_uri,
        "scope": target.scope,
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        "audience": target.audience,
    }
    form.update(overrides)
    return form, verifier


def push(run, title="Steps 2-3: push the authorization request", setup=True, record=True, **overrides):
    """Push a request (authenticated as the client) and return its request_uri and verifier."""
    form, verifier = push_form(run.target, **overrides)
    endpoint = run.target.metadata()["pushed_authorization_request_endpoint"]
    response = run.client_post(endpoint, form, title, setup=setup, record=record)
    if response.status_code == 429:
        # RFC 9126 §2.3: the AS rate-limits pushes; wait as told (briefly), then once more.
        delay = int(response.headers.get("Retry-After", "0") or 0)
        if not 0 < delay <= MAX_WAIT_SECONDS:
            raise CouldNotRun(f"The authorization server rate-limits this client's pushes "
                              f"(429, Retry-After {delay or '?'} s); try again later.")
        run.wait(delay, "the authorization server rate-limited the push (429 Retry-After)")
        response = run.client_post(endpoint, form, title, setup=setup, record=record)
    run.require(response, (201,), "Pushing the authorization request")
    body = response.json()
    return Pushed(body["request_uri"], int(body.get("expires_in", 0)), verifier, form["state"])


def authorize_url(run, request_uri, client_id=None, **extra):
    """Step 4's URL: the public authorization endpoint with client_id and request_uri."""
    endpoint = run.target.metadata()["authorization_endpoint"]
    params = {"client_id": client_id or run.target.client_id, "request_uri": request_uri, **extra}
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items())
    return endpoint + ("&" if "?" in endpoint else "?") + query


def csrf_token(response):
    """The CSRF token in a page's form, as a browser would submit it."""
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', response.text)
    value = re.search(r'value="([^"]+)"', tag.group(0)) if tag else None
    if value is None:
        raise CouldNotRun(f"No form with a CSRF token on the page at {mask_url(response.url)}.")
    return value.group(1)


def sign_in_and_allow(run, browser, url, setup=True):
    """Steps 4-7 in a browser: arrive, sign in as the demo user, allow.

    Returns the redirect back to the client (its Location).
    """
    arrival = run.send("GET", url, "Step 4: the browser opens the authorization URL",
                       browser=browser, setup=setup)
    location, _ = finish_sign_in(run, browser, arrival, setup=setup)
    return location


def finish_sign_in(run, browser, arrival, setup=True, show_consent=False):
    """Steps 5-7 after the browser's arrival at /authorize: sign in, then allow.

    Returns (the redirect back to the client, the consent page's response).
    """
    login_url, page = login_form(run, browser, arrival)
    signed_in = sign_in(run, browser, login_url, page, LAB_USERNAME, LAB_PASSWORD)
    run.require(signed_in, (302, 303), f"Signing in as {LAB_USERNAME}")
    run.note(f"Step 5: signed in as {LAB_USERNAME} on the authorization server's login page.")
    consent_url = urljoin(login_url, signed_in.headers["Location"])
    consent = run.send("GET", consent_url, "Steps 5-6: the consent page", browser=browser,
                       record=show_consent)
    allowed = run.send("POST", consent_url, "Steps 6-7: the user clicks Allow", browser=browser,
                       setup=setup, data={"csrf_token": csrf_token(consent), "allow": "Allow"})
    run.require(allowed, (302, 303), "Allowing at the consent page")
    return allowed.headers["Location"], consent


def login_form(run, browser, arrival):
    """Step 5's login form, after the browser's arrival at /authorize: (its URL, the page)."""
    run.require(arrival, (302, 303), "Arriving at /authorize")
    login_url = urljoin(arrival.url, arrival.headers["Location"])
    return login_url, run.send("GET", login_url, browser=browser, record=False)


def sign_in(run, browser, login_url, page, username, password, title="", record=False):
    """Post the AS's login form (`page`) with a username and password; the AS's answer."""
    return run.send("POST", login_url, title, browser=browser, record=record, data={
        "csrf_token": csrf_token(page), "username": username, "password": password})


def callback_params(location):
    """The query of the redirect back to the client (code, state, iss...)."""
    return dict(parse_qsl(urlsplit(location).query))


def code_from(location):
    """The authorization code in the redirect back to the client."""
    params = callback_params(location)
    if "code" not in params:
        raise CouldNotRun(f"The authorization server sent back {params.get('error', 'no code')} "
                          "instead of a code.")
    return params["code"]


def authorized_code(run, **overrides):
    """A push, then a browser sign-in: the Pushed request and a fresh authorization code."""
    pushed = push(run, **overrides)
    with http_session() as browser:
        location = sign_in_and_allow(run, browser, authorize_url(run, pushed.request_uri))
    return pushed, code_from(location)


def token_request(run, form, title, setup=False, client=None):
    """POST a grant to the token endpoint as the lab's client, or as `client` (id, secret) (RFC 6749 §3.2)."""
    client_id, secret = client or (None, None)
    return run.client_post(run.target.metadata()["token_endpoint"], form, title, setup=setup,
                           client_id=client_id, secret=secret)


def exchange_code(run, pushed, code, title="Step 8: the client exchanges the code", setup=False, **overrides):
    """The authorization_code grant for a code (RFC 6749 §4.1.3), with PKCE (RFC 7636 §4.5)."""
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": run.target.redirect_uri, "code_verifier": pushed.verifier}
    form.update(overrides)
    return token_request(run, form, title, setup=setup)


def tokens_for(run, **overrides):
    """A whole login, as the client would do it: the token response's JSON."""
    pushed, code = authorized_code(run, **overrides)
    response = exchange_code(run, pushed, code, setup=True)
    run.require(response, (200,), "Exchanging the code for tokens")
    return response.json()

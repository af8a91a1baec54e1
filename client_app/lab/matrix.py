"""The defence matrix: the same attacks against the client's three profiles, side by side.

Classic (no PAR), PAR and FAPI 2.0 log the same user in the same way but for what travels
where. Each row is an attack, each column a profile, each cell what happened when the
attack ran live: BLOCKED, with the rule and the RFC section that stopped it, or
SUCCEEDED, with what the attacker got. A cell that does not come out as the spec says
it should (a defence that stopped holding, or a weakness that stopped showing) is
marked, and fails the build (tests/client_app/lab/test_matrix.py, tests/integration).

Every cell acts as the lab's own client of its profile (notes-lab-classic, notes-lab,
notes-lab-fapi: config.profiles(config, lab=True)) and signs in as the lab's own
account: an attack that succeeds does so only against them, and changes no other
state. The mix-up row, whose defence is in this client's callback, logs in through the
client's own pages (its own clients, the lab account), and is blocked in every profile. The FAPI 2.0 lab client signs with this client's own keys (fapi/keys.py), so
the matrix runs inside the client app (the page, or `python -m client_app.lab --matrix`).

    run_matrix(target, config)      -> [Cell]   every attack against every profile
    as_markdown(cells), as_json(cells)           the downloads
"""

import json
import logging
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urljoin
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import JSON
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .. import fapi
from ..config import PROFILE_TITLES
from ..config import profiles
from ..fapi import assertions
from ..fapi import dpop
from ..fapi import request_object
from ..models import db
from ..models import now
from ..oauth_client import client_authentication
from .kit import BLOCKED
from .kit import COULD_NOT_RUN
from .kit import NOT_BLOCKED
from .kit import CouldNotRun
from .kit import Run
from .kit import callback_params
from .kit import code_from
from .kit import csrf_token
from .kit import error_code
from .kit import http_session
from .kit import sign_in_and_allow

log = logging.getLogger("client_app")

# The columns, left to right.
PROFILE_NAMES = ("classic", "par", "fapi2")
# What a cell says when the attack worked (the kit's NOT BLOCKED, in the matrix's words).
SUCCEEDED = "SUCCEEDED"
# The parameters of an authorization request that say something about it (RFC 6749 §4.1.1).
REQUEST_PARAMETERS = ("response_type", "scope", "redirect_uri", "state", "nonce", "code_challenge",
                      "code_challenge_method", "audience")
# The scope a cell's client asks for, and what the tampering attack adds.
ASKED_SCOPE = "openid read:notes offline_access"
ADDED_SCOPE = "write:notes"
ATTACKER_ISSUER = "https://attacker-as.example"
# A whole run stops starting cells after this long (gunicorn's worker timeout is 30 s).
DEADLINE_SECONDS = 20


@dataclass(frozen=True)
class Expected:
    """What the spec says a cell must show: BLOCKED (and by what) or SUCCEEDED (and what the attacker gets)."""

    outcome: str
    why: str


def blocked(why):
    """An Expected BLOCKED, stopped by `why` (the rule and its section)."""
    return Expected(BLOCKED, why)


def succeeds(why):
    """An Expected SUCCEEDED: `why` says what the attacker gets, and why nothing stops it."""
    return Expected(SUCCEEDED, why)


@dataclass(frozen=True)
class MatrixAttack:
    """One row: the attack, and per profile what must happen."""

    slug: str
    name: str
    tries: str
    expected: dict
    run: Callable


@dataclass
class Cell:
    """One attack against one profile, as it ran: outcome, what was seen, every step (masked)."""

    attack: str
    profile: str
    outcome: str
    expected: str
    why: str
    saw: str
    message: str
    steps: list
    seconds: float

    @property
    def as_expected(self):
        """True when the cell shows what the spec says it must."""
        return self.outcome == self.expected


ROWS = []


def row(slug, name, tries, **expected):
    """Add the decorated function to the matrix, with its expected outcome per profile."""

    def register(function):
        ROWS.append(MatrixAttack(slug, name, tries, expected, function))
        return function

    return register


# -- the lab's client of one profile, doing what the client app would ----------------------


@dataclass
class Request:
    """An authorization request the lab's client made: its parameters, verifier and request_uri (if pushed)."""

    params: dict
    verifier: str
    request_uri: str | None = None


class LabClient:
    """The lab's own client of one profile: its credentials, its flow, its keys."""

    def __init__(self, run, profile, config):
        self.run = run
        self.profile = profile
        self.config = config
        self.target = run.target
        if profile.client_secret:
            run.secrets.add(profile.client_secret)

    def authenticate(self, form):
        """The form and HTTP Basic credentials that authenticate this client (RFC 6749 §2.3.1; RFC 7523 §2.2)."""
        form = {"client_id": self.profile.client_id, **form}
        if self.profile.fapi:
            return {**form, **assertions.authentication_form(self.profile.client_id, self.target.issuer)}, None
        return client_authentication(form, self.profile.client_id, self.profile.client_secret,
                                     self.config["TOKEN_ENDPOINT_AUTH_METHOD"])

    def prepare(self, scope=ASKED_SCOPE):
        """Steps 1-3: a new request; pushed unless the profile is classic."""
        verifier = secrets.token_urlsafe(48)
        params = {
            "response_type": "code", "client_id": self.profile.client_id,
            "redirect_uri": self.target.redirect_uri, "scope": scope,
            "state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
            "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
            "audience": self.target.audience,
        }
        if not self.profile.pushes:
            return Request(params, verifier)
        form = params
        if self.profile.fapi:
            # RFC 9449 §10 and RFC 9126 §3: the code bound to our DPoP key; the request signed.
            signed = request_object.request_object({**params, "dpop_jkt": dpop.thumbprint()},
                                                   self.profile.client_id, self.target.issuer)
            form = {"request": signed}
        endpoint = self.target.metadata()["pushed_authorization_request_endpoint"]
        form, auth = self.authenticate(form)
        pushed = self.run.send("POST", endpoint, f"Steps 2-3: {self.profile.client_id} pushes its request",
                               data=form, auth=auth, setup=True)
        self.run.require(pushed, (201,), "Pushing the authorization request")
        return Request(params, verifier, pushed.json()["request_uri"])

    def authorization_url(self, request):
        """Step 4's URL: client_id and request_uri, or under classic the whole request."""
        endpoint = self.target.metadata()["authorization_endpoint"]
        query = ({"client_id": self.profile.client_id, "request_uri": request.request_uri}
                 if request.request_uri else request.params)
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)

    def authorize(self, request, url=None, setup=True):
        """Steps 4-7 in a fresh browser as the lab account: the code."""
        with http_session() as browser:
            location = sign_in_and_allow(self.run, browser, url or self.authorization_url(request), setup=setup)
        return code_from(location)

    def token_request(self, form, title, setup=False):
        """POST a grant to the token endpoint as this client; under FAPI 2.0 with a DPoP proof (and the AS's nonce)."""
        endpoint = self.target.metadata()["token_endpoint"]
        public_endpoint = self.target.server.metadata()["public_token_endpoint"]
        nonce = None
        for _ in range(2):
            data, auth = self.authenticate(form)
            headers = {"DPoP": dpop.proof("POST", public_endpoint, nonce=nonce)} if self.profile.fapi else {}
            response = self.run.send("POST", endpoint, title, data=data, auth=auth, headers=headers, setup=setup)
            # RFC 9449 §8: the AS asks for its nonce once (use_dpop_nonce); the proof is made again with it.
            nonce = response.headers.get("DPoP-Nonce")
            if not (self.profile.fapi and error_code(response) == "use_dpop_nonce" and nonce):
                return response
        return response

    def exchange(self, request, code, verifier=None, title="Step 8: the code exchanged", setup=False):
        """The authorization_code grant with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        return self.token_request({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": self.target.redirect_uri,
                                   "code_verifier": verifier or request.verifier}, title, setup=setup)

    def tokens(self, scope=ASKED_SCOPE):
        """A whole login as this client: the token response's JSON."""
        request = self.prepare(scope)
        response = self.exchange(request, self.authorize(request), setup=True)
        self.run.require(response, (200,), "Exchanging the code for tokens")
        return response.json()


def with_query(url, **params):
    """The URL with these query parameters set (replaced if present, else added)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return parts._replace(query=urlencode(query)).geturl()


def attacker_proof(method, url, access_token=None):
    """A DPoP proof signed by a key of the attacker's own (RFC 9449 §4.2), not the client's."""
    key = ECKey.generate_key("P-256", parameters={"alg": "ES256"})
    claims = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": now()}
    if access_token is not None:
        claims["ath"] = dpop.token_hash(access_token)
    header = {"typ": dpop.PROOF_TYPE, "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


# -- the rows ----------------------------------------------------------------------------------

PAR_IGNORES_THE_URL = "RFC 9126 §4: only the pushed request counts; parameters added to the URL are ignored"


@row("front-channel-tampering", "Scope tampering in the browser's URL",
     f"The client asks for '{ASKED_SCOPE}'. In the browser (an extension, malware, a curious "
     f"user), the /authorize URL is changed to ask for {ADDED_SCOPE} too; the user clicks Allow.",
     classic=succeeds("The URL is the request (RFC 6749 §4.1.1): what the browser changes, the "
                      "AS grants. RFC 9126 §1 names this the reason for PAR."),
     par=blocked(PAR_IGNORES_THE_URL),
     fapi2=blocked(PAR_IGNORES_THE_URL + "; the request is signed, too (RFC 9101 §6.3)"))
def front_channel_tampering(run, lab):
    """Widen the scope in the URL, click through, see what the token carries."""
    request = lab.prepare()
    tampered = with_query(lab.authorization_url(request), scope=f"{ASKED_SCOPE} {ADDED_SCOPE}")
    run.note(f"The browser's URL now asks for scope '{ASKED_SCOPE} {ADDED_SCOPE}'.")
    code = lab.authorize(request, tampered, setup=False)
    response = lab.exchange(request, code, setup=True)
    run.require(response, (200,), "Exchanging the code")
    granted = response.json().get("scope", "")
    widened = ADDED_SCOPE in granted.split()
    run.expect(not widened, f"the token carries {ADDED_SCOPE}, which the client never asked for"
               if widened else f"token scope '{granted}'", f"token scope '{ASKED_SCOPE}'")


@row("request-in-history", "The request read from browser history or a proxy log",
     "Read the /authorize URL where it is kept: the browser's history, the AS's access log, "
     "a proxy's log. What does it tell the reader?",
     classic=succeeds("Every parameter travels in the URL (RFC 6749 §4.1.1): state, nonce, the "
                      "PKCE challenge, scope and redirect URI are there for any reader (RFC 9126 §1)."),
     par=blocked("RFC 9126 §4: the URL holds only client_id and an opaque request_uri"),
     fapi2=blocked("RFC 9126 §4: the URL holds only client_id and an opaque request_uri"))
def request_in_history(run, lab):
    """Open the authorization URL, then read it as history and the access log keep it."""
    url = lab.authorization_url(lab.prepare())
    with http_session() as browser:
        arrival = run.send("GET", url, "Step 4: the browser opens the URL (history and the AS's "
                           "access log keep it)", browser=browser)
    run.require(arrival, (302, 303), "Opening the authorization URL")
    query = dict(parse_qsl(urlsplit(url).query))
    exposed = [name for name in REQUEST_PARAMETERS if name in query]
    run.note(f"The URL is {len(url)} characters long; its parameters: {', '.join(query)}.")
    run.expect(not exposed, f"read {', '.join(exposed)} from the URL" if exposed
               else "only client_id and an opaque request_uri", "only client_id and request_uri")


@row("request-replay", "The authorization request replayed",
     "After the user has opened the /authorize URL, open the same URL again in another browser.",
     classic=succeeds("Nothing makes a front-channel request single-use (RFC 6749 §4.1.1): the AS "
                      "starts a new login for the same state and PKCE challenge, as often as asked."),
     par=blocked("RFC 9126 §4: a request_uri is used once"),
     fapi2=blocked("RFC 9126 §4: a request_uri is used once"))
def request_replay(run, lab):
    """Use the request once, then replay it."""
    url = lab.authorization_url(lab.prepare())
    with http_session() as first:
        arrival = run.send("GET", url, "The user's browser opens the URL", browser=first, setup=True)
        run.require(arrival, (302, 303), "The first use")
    with http_session() as second:
        replay = run.send("GET", url, "Another browser opens the same URL", browser=second)
    if replay.status_code < 400:
        went_to = urljoin(replay.url, replay.headers.get("Location", ""))
        run.expect(False, f"accepted again: {replay.status_code} to {urlsplit(went_to).path}",
                   "400 invalid_request_uri")
    else:
        run.expect_error(replay, 400, "invalid_request_uri")


@row("stolen-access-token", "A stolen access token replayed at the Notes API",
     "Take the client's access token (a log, a leaky proxy, a compromised backend) and call "
     "GET /api/notes with it from the attacker's machine.",
     classic=succeeds("A bearer token works for whoever holds it (RFC 6750 §1.2)."),
     par=succeeds("A bearer token works for whoever holds it (RFC 6750 §1.2): PAR protects the "
                  "request, not the token."),
     fapi2=blocked("RFC 9449 §7.1: the token is bound to the client's DPoP key (cnf.jkt); "
                   "without a proof by that key it is refused"))
def stolen_access_token(run, lab):
    """Log in, then use the access token without the client."""
    token = lab.tokens()["access_token"]
    url = lab.target.notes_api + "/api/notes"
    if not lab.profile.fapi:
        response = run.send("GET", url, "The attacker calls the API with the stolen token",
                            headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            notes = response.json().get("notes", [])
            run.expect(False, f"read the lab account's notes ({len(notes)} notes)", "401 invalid_token")
        else:
            run.expect_error(response, 401, "invalid_token")
        return
    public_url = (lab.config["NOTES_API_PUBLIC_URL"] or lab.config["NOTES_API_URL"]).rstrip("/") + "/api/notes"
    as_bearer = run.send("GET", url, "The attacker sends it as a plain Bearer token",
                         headers={"Authorization": f"Bearer {token}"})
    run.expect_error(as_bearer, 401, "invalid_token")
    own_proof = run.send("GET", url, "The attacker sends it with a DPoP proof by its own key",
                         headers={"Authorization": f"DPoP {token}",
                                  "DPoP": attacker_proof("GET", public_url, access_token=token)})
    run.expect_error(own_proof, 401, "invalid_dpop_proof")


@row("leaked-client-secret", "A leaked client secret, with a refresh token from the client's database",
     "The client's configuration and database leak: its secret and a user's refresh token. "
     "From the attacker's machine, redeem the refresh token as the client.",
     classic=succeeds("With the secret the attacker is the client (RFC 6749 §2.3.1): the "
                      "stolen refresh token buys fresh tokens."),
     par=succeeds("With the secret the attacker is the client (RFC 6749 §2.3.1): PAR changes "
                  "nothing here."),
     fapi2=blocked("RFC 7523 §3 (private_key_jwt): only an assertion signed by the client's "
                   "registered key authenticates it; there is no shared secret to leak"))
def leaked_client_secret(run, lab):
    """Redeem the refresh token with whatever credentials a leak could hold."""
    refresh_token = lab.tokens().get("refresh_token")
    if not refresh_token:
        raise CouldNotRun("No refresh token was issued (was offline_access granted?).")
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    endpoint = lab.target.metadata()["token_endpoint"]
    client_id = lab.profile.client_id
    if not lab.profile.fapi:
        form, auth = client_authentication(grant, client_id, lab.profile.client_secret, "client_secret_basic")
        response = run.send("POST", endpoint, "The attacker redeems it with the leaked secret",
                            data=form, auth=auth)
        if response.status_code == 200:
            run.expect(False, f"fresh tokens for the lab account, as {client_id}", "401 invalid_client")
        else:
            run.expect_error(response, 401, "invalid_client")
        return
    # No secret exists: the best a leak holds is a guess, or an assertion by another key.
    public_endpoint = lab.target.server.metadata()["public_token_endpoint"]
    guessed = run.send("POST", endpoint, "The attacker tries a secret (the client has none)",
                       data={**grant, "client_id": client_id, "client_secret": "leaked-secret"},
                       headers={"DPoP": attacker_proof("POST", public_endpoint)})
    run.expect_error(guessed, 401, "invalid_client")
    key = ECKey.generate_key("P-256", parameters={"alg": "ES256"}, auto_kid=True)
    claims = {"iss": client_id, "sub": client_id, "aud": lab.target.issuer,
              "jti": secrets.token_urlsafe(16), "iat": now(), "exp": now() + 60}
    forged = jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])
    signed = run.send("POST", endpoint, "The attacker signs an assertion with its own key",
                      data={**grant, "client_id": client_id, "client_assertion": forged,
                            "client_assertion_type": assertions.ASSERTION_TYPE},
                      headers={"DPoP": attacker_proof("POST", public_endpoint)})
    run.expect_error(signed, 401, "invalid_client")


PKCE_HOLDS = "RFC 7636 §4.6: the code redeems only with the verifier of its challenge"


@row("code-injection", "A stolen code injected into the attacker's session",
     "Steal the code from the redirect back (history, a log) and feed it to the client in the "
     "attacker's own session: the client redeems it with that session's PKCE verifier.",
     classic=blocked(PKCE_HOLDS + " (the challenge was in the URL; the verifier never was)"),
     par=blocked(PKCE_HOLDS), fapi2=blocked(PKCE_HOLDS + "; the code is bound to the DPoP key too"))
def code_injection(run, lab):
    """Redeem the victim's code with another login's verifier."""
    request = lab.prepare()
    code = lab.authorize(request)
    response = lab.exchange(request, code, verifier=secrets.token_urlsafe(48),
                            title="The client redeems the injected code with the attacker session's verifier")
    run.expect_error(response, 400, "invalid_grant")


ISS_HOLDS = "RFC 9207 §2.4: the client checks that iss names the AS it sent the user to"


@row("mix-up", "Mix-up: an answer claiming another issuer",
     f"Log in through the client in this profile; before the redirect back, change iss to "
     f"{ATTACKER_ISSUER}.", classic=blocked(ISS_HOLDS), par=blocked(ISS_HOLDS), fapi2=blocked(ISS_HOLDS))
def mix_up(run, lab):
    """The client's own callback, with a foreign iss."""
    base = lab.target.client_base
    if lab.profile.name not in lab.config["PROFILES"]:
        raise CouldNotRun(f"This client does not offer the {lab.profile.name} profile (PROFILES).")
    with http_session() as browser:
        home = run.send("GET", base + "/", browser=browser, record=False)
        run.require(home, (200,), "Opening the client's home page")
        started = run.send("POST", base + "/login", f"Log in at the client, profile {lab.profile.name}",
                           browser=browser, setup=True,
                           data={"csrf_token": csrf_token(home), "profile": lab.profile.name})
        run.require(started, (302, 303), "Starting a login at the client")
        location = sign_in_and_allow(run, browser, urljoin(base + "/", started.headers["Location"]))
        params = {**callback_params(location), "iss": ATTACKER_ISSUER}
        response = run.send("GET", base + "/callback", "The callback, with iss from another server",
                            browser=browser, params=params)
    run.expect_page(response, 400)


# -- running it ----------------------------------------------------------------------------------


def run_cell(attack, profile, target, config):
    """Run one attack against one profile; a Cell, whatever happens."""
    run = Run(target)
    lab = LabClient(run, profile, config)
    started = time.monotonic()
    try:
        if profile.fapi and not fapi.enabled(config):
            raise CouldNotRun("This client does not offer the fapi2 profile (PROFILES), so it has no keys to sign with.")
        attack.run(run, lab)
    except CouldNotRun as e:
        run.message = str(e)
    except Exception as e:  # a bug in the lab itself: still a readable cell
        log.exception("defence matrix: %s against %s failed", attack.slug, profile.name)
        run.message = f"The attack itself failed ({type(e).__name__}); the client's log has the details."
    result = run.result(attack, time.monotonic() - started)
    outcome = SUCCEEDED if result.verdict == NOT_BLOCKED else result.verdict
    expected = attack.expected[profile.name]
    return Cell(attack.slug, profile.name, outcome, expected.outcome, expected.why, result.saw,
                result.message, result.steps, result.seconds)


def run_matrix(target, config, deadline_seconds=None):
    """Every attack against every profile, row by row: the Cells.

    From the page a run holds a client worker, which gunicorn kills after 30 s: there the
    page passes DEADLINE_SECONDS, after which the cells left are not run (COULD NOT RUN,
    saying why) rather than lost with the worker.
    """
    lab_profiles = profiles(config, lab=True)
    started = time.monotonic()
    cells = []
    for attack in ROWS:
        for name in PROFILE_NAMES:
            if deadline_seconds is not None and time.monotonic() - started > deadline_seconds:
                expected = attack.expected[name]
                cells.append(Cell(attack.slug, name, COULD_NOT_RUN, expected.outcome, expected.why,
                                  "not run", f"The matrix stopped after {deadline_seconds} s (is a "
                                  "service slow?): run it again, or from the command line.", [], 0.0))
            else:
                cells.append(run_cell(attack, lab_profiles[name], target, config))
    return cells


def cell_text(cell):
    """A cell in one line: the outcome, and why (or what went differently)."""
    if cell.outcome == COULD_NOT_RUN:
        return f"{COULD_NOT_RUN}: {cell.message}"
    why = cell.why.rstrip(".")
    text = f"{cell.outcome}: {why}" if cell.as_expected else f"{cell.outcome}, expected {cell.expected} ({why})"
    return f"{text}. Saw: {cell.saw}."


def as_json(cells):
    """The matrix as JSON: the rows, and each cell's outcome, expectation and masked steps."""
    rows = []
    for attack in ROWS:
        found = {cell.profile: cell for cell in cells if cell.attack == attack.slug}
        rows.append({"attack": attack.slug, "name": attack.name, "tries": attack.tries, "cells": {
            name: {**{k: v for k, v in asdict(found[name]).items() if k not in ("attack", "profile")},
                   "as_expected": found[name].as_expected} for name in PROFILE_NAMES if name in found}})
    # asdict turns a cell's steps (Exchange and Note dataclasses) into plain data too.
    return json.dumps({"profiles": list(PROFILE_NAMES), "rows": rows}, indent=2, ensure_ascii=False)


def as_markdown(cells):
    """The matrix as a Markdown table: one row per attack, one column per profile."""
    lines = ["# The defence matrix", "",
             "| attack | " + " | ".join(PROFILE_TITLES[name] for name in PROFILE_NAMES) + " |",
             "| --- |" + " --- |" * len(PROFILE_NAMES)]
    for attack in ROWS:
        found = {cell.profile: cell for cell in cells if cell.attack == attack.slug}
        texts = [cell_text(found[name]).replace("|", "\\|") if name in found else "not run"
                 for name in PROFILE_NAMES]
        lines.append(f"| {attack.name} | " + " | ".join(texts) + " |")
    off = [cell for cell in cells if not cell.as_expected]
    lines += ["", f"{len(cells) - len(off)} of {len(cells)} cells as the specs say they must be."]
    return "\n".join(lines) + "\n"


# A browser's last matrix is kept this long, and only the newest runs of all browsers: a
# fresh cookie per run must not grow the table without bound.
KEPT_SECONDS = 24 * 3600
KEPT_RUNS = 50


class MatrixRun(db.Model):
    """The last matrix a browser ran, masked, kept for its downloads (one row per browser)."""

    browser_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ran_at: Mapped[int] = mapped_column(Integer, default=now)
    cells: Mapped[list] = mapped_column(JSON)


def keep(browser_id, cells):
    """Keep this browser's latest matrix (already masked), for the Markdown and JSON downloads."""
    db.session.merge(MatrixRun(browser_id=browser_id, ran_at=now(), cells=[asdict(cell) for cell in cells]))
    db.session.flush()
    newest = select(MatrixRun.browser_id).order_by(MatrixRun.ran_at.desc()).limit(KEPT_RUNS)
    db.session.execute(delete(MatrixRun).where(
        or_(MatrixRun.ran_at < now() - KEPT_SECONDS, MatrixRun.browser_id.not_in(newest))))
    db.session.commit()


def kept(browser_id):
    """This browser's latest matrix as Cells, or None."""
    stored = db.session.get(MatrixRun, browser_id)
    return [Cell(**cell) for cell in stored.cells] if stored is not None else None

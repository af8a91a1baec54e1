"""The attack lab: every attack on the PAR flow that this stack must block, run live.

Each attack is defined once, here: its name, what it tries, the spec section that
blocks it, the outcome the spec prescribes, and the function that runs it over HTTP
against the running stack, as an attacker (or a curious user with a browser) would.
It uses only what this client knows: its own settings (issuer, the lab's own client
id and secret, the app's client id and secret, redirect URI, the Notes API's and its
own address) and the passwords of the lab's own demo users (never a real user's);
never another service's database or code. What it creates at the AS is what any
login creates: its pushes live 2 s (the lab client's registration) and are purged
with every expired request.

    run_attack(attack, target)   -> Result    one attack (a Run button)
    run_all(target)              -> [Result]  all of them (Run all)
    each_result(target)          -> Results one by one, as they come (`make attacks`)

The page is the package's __init__.py, the command line __main__.py, the toolkit kit.py.
"""

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urljoin
from urllib.parse import urlsplit

from joserfc.jwk import RSAKey

from ..oauth_client import REQUEST_URI_PREFIX
from .kit import COULD_NOT_RUN
from .kit import LAB_TARGET
from .kit import LAB_TARGET_PASSWORD
from .kit import LAB_USERNAME
from .kit import MAX_WAIT_SECONDS
from .kit import CouldNotRun
from .kit import Result
from .kit import Run
from .kit import Unreachable
from .kit import authorize_url
from .kit import authorized_code
from .kit import callback_params
from .kit import code_from
from .kit import csrf_token
from .kit import exchange_code
from .kit import finish_sign_in
from .kit import http_session
from .kit import login_form
from .kit import observed
from .kit import push
from .kit import push_form
from .kit import sign_in
from .kit import sign_in_and_allow
from .kit import token_request
from .kit import tokens_for

log = logging.getLogger("client_app")

# Another client registered at the AS (the seed's curl client): the request_uri thief.
OTHER_CLIENT_ID = "seed-cli"
# Addresses an attacker controls. Nothing is ever sent there: they only have to be refused.
ATTACKER_REDIRECT_URI = "https://attacker.example/callback"
ATTACKER_ISSUER = "https://attacker-as.example"
# A name an attacker controls, rebound to the client's address (DNS rebinding).
ATTACKER_HOST = "attacker.example"
# The brute-force attack: logins it starts, and wrong passwords in each (fewer than the
# AS's MAX_FAILED_LOGINS, 5, after which it closes one login).
BRUTE_FORCE_LOGINS = 8
GUESSES_PER_LOGIN = 3


@dataclass(frozen=True)
class Attack:
    """One attack: what it tries, what blocks it, what should happen, and how to run it."""

    slug: str
    name: str
    tries: str
    section: str
    expected: str
    run: Callable
    # The services it talks to: if one is down, the attack is not tried.
    needs: tuple
    # The expiry attack waits out the request_uri's lifetime (3 s for the lab's client).
    slow: bool = False


ATTACKS = []


def attack(slug, name, tries, section, expected, needs=("auth_server",), slow=False):
    """Add the decorated function to the catalogue, with its description."""

    def register(function):
        ATTACKS.append(Attack(slug, name, tries, section, expected, function, needs, slow))
        return function

    return register


def find(slug):
    """The attack with this slug, or None."""
    return next((a for a in ATTACKS if a.slug == slug), None)


# -- the front channel: tampering with what the browser carries ---------------------


def tampered_arrival(run, browser, url, title):
    """Step 4 with a tampered URL: the arrival, or None if the AS did not go on to its login.

    RFC 9126 §4 lets the AS either ignore the extra front-channel parameters (and go on
    with the pushed request) or refuse the request: an error page, or an error sent to
    the pushed redirect URI. Either way no code, which blocks the attack.
    """
    arrival = run.send("GET", url, title, browser=browser)
    went_to = urljoin(arrival.url, arrival.headers.get("Location", ""))
    if arrival.status_code in (302, 303) and urlsplit(went_to).netloc == urlsplit(arrival.url).netloc:
        return arrival  # on to the AS's own login page, with the pushed parameters
    params = callback_params(went_to)
    to_client = went_to.split("?")[0] == run.target.redirect_uri
    refused = arrival.status_code >= 400 or (to_client and "error" in params and "code" not in params)
    saw = observed(arrival) if arrival.status_code >= 400 else f"redirect to {went_to.split('?')[0]}"
    run.expect(refused, saw, "the added parameter ignored, or the request refused")
    return None


@attack("scope-tampering", "Scope tampering in the front channel",
        "Add scope=…write:notes offline_access to the /authorize URL of a request pushed "
        "with scope 'openid read:notes', hoping for more access.",
        "RFC 9126 §4",
        "The consent page lists only the pushed scopes, and the token carries only them.")
def scope_tampering(run):
    """Push a narrow scope, widen it in the URL, see what consent and the token say."""
    pushed_scope = "openid read:notes"
    added = ["write:notes", "offline_access"]
    pushed = push(run, scope=pushed_scope)
    url = authorize_url(run, pushed.request_uri, scope=" ".join([pushed_scope, *added]))
    with http_session() as browser:
        arrival = tampered_arrival(run, browser, url, "Step 4, with scope added to the URL")
        if arrival is None:
            return
        location, consent = finish_sign_in(run, browser, arrival, setup=False, show_consent=True)
    shown = [scope for scope in added if scope in consent.text]
    run.expect(not shown, f"consent shows {', '.join(shown) or 'only the pushed scopes'}",
               f"consent lists only {pushed_scope}")
    response = exchange_code(run, pushed, code_from(location))
    run.require(response, (200,), "Exchanging the code")
    granted = response.json().get("scope", "")
    widened = [scope for scope in added if scope in granted.split()]
    run.expect(not widened, f"token scope '{granted}'", f"token scope '{pushed_scope}'")


@attack("redirect-uri-tampering", "redirect_uri tampering in the front channel",
        f"Add redirect_uri={ATTACKER_REDIRECT_URI} to the /authorize URL, hoping the code "
        "is sent there.",
        "RFC 9126 §4; RFC 9700 §4.1",
        "The code goes only to the pushed (registered) redirect URI.")
def redirect_uri_tampering(run):
    """Change the redirect URI in the URL; the code must still go to the pushed one."""
    pushed = push(run)
    url = authorize_url(run, pushed.request_uri, redirect_uri=ATTACKER_REDIRECT_URI)
    with http_session() as browser:
        arrival = tampered_arrival(run, browser, url, "Step 4, with redirect_uri added to the URL")
        if arrival is None:
            return
        location, _ = finish_sign_in(run, browser, arrival, setup=False)
    went_to = location.split("?")[0]
    run.expect(went_to == run.target.redirect_uri, f"code sent to {went_to}",
               f"code sent to {run.target.redirect_uri}")


# -- the request_uri: single use, short-lived, bound to its client --------------------


@attack("request-uri-replay", "request_uri replay",
        "Open the same /authorize URL (client_id + request_uri) in a second browser after "
        "the first one has used it.",
        "RFC 9126 §4",
        "The second browser gets an error page: 400 invalid_request_uri.")
def request_uri_replay(run):
    """Use a request_uri in one browser, then again in another."""
    pushed = push(run)
    url = authorize_url(run, pushed.request_uri)
    with http_session() as first:
        arrival = run.send("GET", url, "The first browser uses the request_uri", browser=first)
        run.require(arrival, (302, 303), "The first use of the request_uri")
    with http_session() as second:
        replay = run.send("GET", url, "A second browser replays it", browser=second)
    run.expect_error(replay, 400, "invalid_request_uri")


@attack("request-uri-expired", "request_uri after expires_in",
        "Push, wait expires_in + 1 seconds (read from the push response), then open the "
        "/authorize URL.",
        "RFC 9126 §2.2, §4",
        "An error page: 400 invalid_request_uri.", slow=True)
def request_uri_expired(run):
    """Wait out the request_uri's lifetime, then use it."""
    pushed = push(run, title="Steps 2-3: push (the response says expires_in)", setup=False)
    # The lab's client is registered with a 2 s request_uri lifetime: a 3 s wait.
    if not 0 < pushed.expires_in + 1 <= MAX_WAIT_SECONDS:
        raise CouldNotRun(f"expires_in is {pushed.expires_in} s; the lab waits at most "
                          f"{MAX_WAIT_SECONDS} s (register {run.target.client_id} at the "
                          "authorization server with a request_uri lifetime of 1-2 s).")
    # Whole seconds: a request_uri pushed at 10.9 s with expires_in 2 is refused from 13 s on.
    run.wait(pushed.expires_in + 1, f"expires_in ({pushed.expires_in} s) + 1")
    with http_session() as browser:
        late = run.send("GET", authorize_url(run, pushed.request_uri),
                        "The browser arrives too late", browser=browser)
    run.expect_error(late, 400, "invalid_request_uri")


@attack("request-uri-other-client", "request_uri with another client's id",
        f"Use a request_uri pushed by this client with client_id={OTHER_CLIENT_ID} "
        "(another registered client).",
        "RFC 9126 §4",
        "Refused with an error page: 400 invalid_request_uri.")
def request_uri_other_client(run):
    """Present this client's request_uri under another client's id."""
    pushed = push(run)
    with http_session() as browser:
        stolen = run.send("GET", authorize_url(run, pushed.request_uri, client_id=OTHER_CLIENT_ID),
                          f"/authorize with client_id={OTHER_CLIENT_ID}", browser=browser)
    run.expect_error(stolen, 400, "invalid_request_uri")


# -- the PAR endpoint ------------------------------------------------------------------


@attack("push-without-secret", "Pushing without a secret, and with a wrong one",
        "POST an authorization request to the PAR endpoint with no client authentication, "
        "then with a wrong client secret.",
        "RFC 9126 §2, §2.3; RFC 6749 §5.2",
        "Both refused: 401 invalid_client.")
def push_without_secret(run):
    """Push as this client, first with no secret, then with a wrong one."""
    endpoint = run.target.metadata()["pushed_authorization_request_endpoint"]
    form, _ = push_form(run.target)
    bare = run.client_post(endpoint, form, "Push with only client_id (no secret)", authenticate=False)
    run.expect_error(bare, 401, "invalid_client")
    wrong = run.client_post(endpoint, form, "Push with a wrong secret",
                            secret="wrong-" + secrets.token_urlsafe(12))
    run.expect_error(wrong, 401, "invalid_client")


@attack("request-uri-in-push", "request_uri inside the push",
        "Push an authorization request that itself carries a request_uri parameter.",
        "RFC 9126 §2.1",
        "Refused: 400 invalid_request.")
def request_uri_in_push(run):
    """Smuggle a request_uri into the pushed request."""
    endpoint = run.target.metadata()["pushed_authorization_request_endpoint"]
    smuggled = REQUEST_URI_PREFIX + secrets.token_urlsafe(16)
    form, _ = push_form(run.target, request_uri=smuggled)
    response = run.client_post(endpoint, form, "Push with a request_uri in the body")
    run.expect_error(response, 400, "invalid_request")


# -- the token endpoint ------------------------------------------------------------------


@attack("code-replay", "Authorization code replay, and the revocation it causes",
        "Exchange the same code twice, then use the refresh token the first exchange got.",
        "RFC 6749 §4.1.2; RFC 9700 §4.5",
        "The second exchange: 400 invalid_grant; the first exchange's refresh token then "
        "fails too: 400 invalid_grant.")
def code_replay(run):
    """Redeem a code twice; the replay must fail and revoke the first tokens."""
    pushed, code = authorized_code(run)
    first = exchange_code(run, pushed, code, "The first exchange (the legitimate client)")
    run.require(first, (200,), "The first exchange")
    refresh_token = first.json().get("refresh_token")
    if not refresh_token:
        raise CouldNotRun("No refresh token was issued (does SCOPE include offline_access?).")
    second = exchange_code(run, pushed, code, "The replay: the same code again")
    run.expect_error(second, 400, "invalid_grant")
    after = token_request(run, {"grant_type": "refresh_token", "refresh_token": refresh_token},
                          "The first exchange's refresh token, after the replay")
    run.expect_error(after, 400, "invalid_grant")


@attack("wrong-pkce-verifier", "Wrong PKCE verifier",
        "Exchange a real code with a code_verifier that does not match the pushed "
        "code_challenge (as a thief of the code would have to).",
        "RFC 7636 §4.6",
        "Refused: 400 invalid_grant.")
def wrong_pkce_verifier(run):
    """Redeem a code with someone else's verifier."""
    pushed, code = authorized_code(run)
    response = exchange_code(run, pushed, code, "Exchange with a made-up code_verifier",
                             code_verifier=secrets.token_urlsafe(48))
    run.expect_error(response, 400, "invalid_grant")


@attack("token-redirect-uri-mismatch", "redirect_uri mismatch at the token endpoint",
        f"Exchange a real code with redirect_uri={ATTACKER_REDIRECT_URI} instead of the one "
        "it was issued for.",
        "RFC 6749 §4.1.3",
        "Refused: 400 invalid_grant.")
def token_redirect_uri_mismatch(run):
    """Redeem a code with a different redirect_uri."""
    pushed, code = authorized_code(run)
    response = exchange_code(run, pushed, code, "Exchange with another redirect_uri",
                             redirect_uri=ATTACKER_REDIRECT_URI)
    run.expect_error(response, 400, "invalid_grant")


# -- the resource server ------------------------------------------------------------------


def call_api(run, token, title, method="GET", json_body=None):
    """Call the Notes API with a Bearer token (RFC 6750 §2.1)."""
    return run.send(method, run.target.notes_api + "/api/notes", title, json=json_body,
                    headers={"Authorization": f"Bearer {token}"})


@attack("id-token-at-api", "A token for another audience at the API",
        "Present the ID token (aud: the lab's client, typ JWT, signed by the same AS) as a Bearer "
        "token to the Notes API.",
        "RFC 9068 §4; RFC 8725 §3.11",
        "Refused: 401 invalid_token.", needs=("auth_server", "notes_api"))
def id_token_at_api(run):
    """The ID token is a real, signed token; it is not an access token for the API."""
    tokens = tokens_for(run)
    control = call_api(run, tokens["access_token"], "For comparison: the real access token")
    run.require(control, (200,), "Reading notes with the real access token")
    response = call_api(run, tokens["id_token"], "The ID token as a Bearer token")
    run.expect_error(response, 401, "invalid_token")


@attack("missing-scope", "Missing scope",
        "Get a token pushed with scope 'openid read:notes' only, then POST a note with it.",
        "RFC 6750 §3.1",
        "Refused: 403 insufficient_scope.", needs=("auth_server", "notes_api"))
def missing_scope(run):
    """Write with a read-only token."""
    tokens = tokens_for(run, scope="openid read:notes")
    control = call_api(run, tokens["access_token"], "For comparison: reading is allowed")
    run.require(control, (200,), "Reading notes with a read:notes token")
    response = call_api(run, tokens["access_token"], "Writing a note with the read-only token",
                        method="POST", json_body={"text": "Written by the attack lab"})
    run.expect_error(response, 403, "insufficient_scope")


def _b64url(data):
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_token(run, header, sign):
    """A JWT with the claims a real access token would have, signed by `sign(bytes)`."""
    issued_at = int(time.time())
    claims = {"iss": run.target.issuer, "sub": LAB_USERNAME, "aud": [run.target.audience],
              "client_id": run.target.client_id, "scope": "read:notes write:notes",
              "iat": issued_at, "exp": issued_at + 600, "jti": secrets.token_urlsafe(12)}
    signing_input = ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims))
    return signing_input + "." + _b64url(sign(signing_input.encode()))


def published_key(run):
    """The AS's first RSA signing key from its JWKS, fetched as anyone can."""
    response = run.send("GET", run.target.metadata()["jwks_uri"], "Fetch the AS's public keys (JWKS)")
    run.require(response, (200,), "Fetching the JWKS")
    keys = [key for key in response.json().get("keys", []) if key.get("kty") == "RSA"]
    if not keys:
        raise CouldNotRun("The JWKS holds no RSA key.")
    return keys[0]


@attack("alg-none", "alg: none token",
        "Forge an access token with alg 'none' and no signature, claiming every scope.",
        "RFC 8725 §2.1, §3.1",
        "Refused: 401 invalid_token.", needs=("auth_server", "notes_api"))
def alg_none(run):
    """An unsigned token, with the right iss, aud, kid and typ."""
    key = published_key(run)
    token = forged_token(run, {"alg": "none", "typ": "at+jwt", "kid": key.get("kid")}, lambda data: b"")
    response = call_api(run, token, "An unsigned token (alg none)")
    run.expect_error(response, 401, "invalid_token")


@attack("hs256-confusion", "HS256/RS256 confusion",
        "Forge an HS256 token whose HMAC secret is the AS's public key (PEM bytes, from the "
        "JWKS), hoping the API verifies it with that same key.",
        "RFC 8725 §2.1, §3.1",
        "Refused: 401 invalid_token.", needs=("auth_server", "notes_api"))
def hs256_confusion(run):
    """Algorithm confusion: the public key used as a shared secret."""
    key = published_key(run)
    pem = RSAKey.import_key(key).as_pem(private=False)
    run.note("Turned the published RSA key into PEM bytes and used them as the HMAC-SHA256 secret.")
    token = forged_token(run, {"alg": "HS256", "typ": "at+jwt", "kid": key.get("kid")},
                         lambda data: hmac.new(pem, data, hashlib.sha256).digest())
    response = call_api(run, token, "An HS256 token signed with the public key")
    run.expect_error(response, 401, "invalid_token")


# -- refresh tokens ---------------------------------------------------------------------


@attack("refresh-token-reuse", "Refresh token reuse",
        "Refresh once (the refresh token rotates), then present the old refresh token again.",
        "RFC 9700 §4.14.2",
        "The reuse: 400 invalid_grant; the newest refresh token of the family then fails "
        "too: 400 invalid_grant.")
def refresh_token_reuse(run):
    """Use a rotated-out refresh token; the whole family must die."""
    old = tokens_for(run).get("refresh_token")
    if not old:
        raise CouldNotRun("No refresh token was issued (does SCOPE include offline_access?).")
    rotated = token_request(run, {"grant_type": "refresh_token", "refresh_token": old},
                            "Refresh: the old refresh token buys a new one")
    run.require(rotated, (200,), "The legitimate refresh")
    newest = rotated.json().get("refresh_token")
    if not newest:
        raise CouldNotRun("The refresh returned no new refresh token (no rotation).")
    reuse = token_request(run, {"grant_type": "refresh_token", "refresh_token": old},
                          "The reuse: the old refresh token again")
    run.expect_error(reuse, 400, "invalid_grant")
    family = token_request(run, {"grant_type": "refresh_token", "refresh_token": newest},
                           "The newest refresh token, after the reuse")
    run.expect_error(family, 400, "invalid_grant")


# -- the client itself: its callback ------------------------------------------------------


def client_login(run, browser, username_note):
    """Log in through the client's own pages, stopping at the redirect back: its URL."""
    base = run.target.client_base
    home = run.send("GET", base + "/", browser=browser, record=False)
    run.require(home, (200,), "Opening the client's home page")
    started = run.send("POST", base + "/login", "Click 'Log in' on the client", browser=browser,
                       setup=True, data={"csrf_token": csrf_token(home)})
    run.require(started, (302, 303), "Starting a login at the client")
    location = sign_in_and_allow(run, browser, urljoin(base + "/", started.headers["Location"]))
    run.note(username_note)
    return location


@attack("callback-csrf", "CSRF on the callback (a state this browser never sent)",
        "Log in in the attacker's browser, stop before the redirect back, and make a victim's "
        "fresh browser open that callback URL (the attacker's code and state).",
        "RFC 6749 §10.12; RFC 9700 §4.7",
        "The client refuses with a 400 page; the victim is not logged in as the attacker.",
        needs=("auth_server", "client_app"))
def callback_csrf(run):
    """Login CSRF: plant the attacker's authorization response in the victim's browser."""
    with http_session() as attacker:
        callback = client_login(run, attacker, "The attacker keeps the callback URL instead of "
                                "following it.")
    with http_session() as victim:
        response = run.send("GET", callback, "The victim's browser opens the attacker's callback",
                            browser=victim)
    run.expect_page(response, 400)


@attack("mix-up", "Mix-up (wrong iss)",
        f"Take a real callback and change iss to {ATTACKER_ISSUER}, as if another "
        "authorization server had answered.",
        "RFC 9207 §2.4; RFC 9700 §4.4",
        "The client refuses with a 400 page.", needs=("auth_server", "client_app"))
def mix_up(run):
    """The authorization response claims to come from another issuer."""
    with http_session() as browser:
        callback = client_login(run, browser, "Before the browser follows the redirect, iss is "
                                "changed to another issuer.")
        params = callback_params(callback)
        params["iss"] = ATTACKER_ISSUER
        response = run.send("GET", run.target.client_base + "/callback",
                            "The callback, with iss from another server", browser=browser,
                            params=params)
    run.expect_page(response, 400)


# -- skipping PAR, or bending the push --------------------------------------------------


@attack("plain-authorization-request", "A plain authorization request for a PAR-required client",
        "Skip PAR: send response_type, redirect_uri, scope, state and PKCE straight to "
        "/authorize, with no request_uri.",
        "RFC 9126 §4, §6",
        "An error page: 400 invalid_request, and no redirect.")
def plain_authorization_request(run):
    """The classic front-channel request, for a client that must use PAR."""
    form, _ = push_form(run.target)
    endpoint = run.target.metadata()["authorization_endpoint"]
    with http_session() as browser:
        response = run.send("GET", endpoint, "/authorize with every parameter in the URL",
                            browser=browser, params={"client_id": run.target.client_id, **form})
    run.expect_error(response, 400, "invalid_request")
    location = response.headers.get("Location")
    run.expect(location is None, f"redirect to {location}" if location else "no redirect", "no redirect")


@attack("unregistered-redirect-uri", "Unregistered redirect URI at the push",
        f"Push with redirect_uri={ATTACKER_REDIRECT_URI}, which is not registered.",
        "RFC 9126 §2.3; RFC 6749 §4.1.2.1",
        "Refused: 400 invalid_request, and no redirect.")
def unregistered_redirect_uri(run):
    """Push with a redirect URI the client never registered."""
    endpoint = run.target.metadata()["pushed_authorization_request_endpoint"]
    form, _ = push_form(run.target, redirect_uri=ATTACKER_REDIRECT_URI)
    response = run.client_post(endpoint, form, "Push with an attacker's redirect_uri")
    run.expect_error(response, 400, "invalid_request")
    location = response.headers.get("Location")
    run.expect(location is None, f"redirect to {location}" if location else "no redirect", "no redirect")


# -- the login form, the refresh grant and the client's own pages, once more --------------


@attack("password-brute-force", "Password guessing across logins",
        f"Guess the password of {LAB_TARGET} (a lab account): {GUESSES_PER_LOGIN} wrong guesses "
        "per login, fewer than one login allows, then start a new login and go on, up to "
        f"{BRUTE_FORCE_LOGINS * GUESSES_PER_LOGIN} guesses.",
        "RFC 6819 §5.1.4.2.3; RFC 6585 §4",
        "After a few wrong passwords the AS locks the account: its login form answers 429, "
        "even to the right password.")
def password_brute_force(run):
    """Spread the guesses over many logins, so no single login reaches its limit."""
    guesses = 0
    for number in range(1, BRUTE_FORCE_LOGINS + 1):
        pushed = push(run, title=f"Login {number}: push", record=number == 1)
        with http_session() as browser:
            arrival = run.send("GET", authorize_url(run, pushed.request_uri), browser=browser, record=False)
            login_url, page = login_form(run, browser, arrival)
            for _ in range(GUESSES_PER_LOGIN):
                guesses += 1
                answer = sign_in(run, browser, login_url, page, LAB_TARGET, f"guess-{guesses}",
                                 f"Wrong password {guesses}", record=guesses == 1)
                if answer.status_code == 429:
                    run.note(f"{guesses - 1} wrong passwords over {number} logins, then 429: "
                             "the account is locked.")
                    right = sign_in(run, browser, login_url, page, LAB_TARGET, LAB_TARGET_PASSWORD,
                                    "Now the right password", record=True)
                    run.expect(right.status_code == 429, f"429 after {guesses - 1} wrong passwords; "
                               f"the right one then: {observed(right)}", "429, the right password too")
                    return
                if answer.status_code < 400:
                    run.expect(False, f"wrong password {guesses}: {observed(answer)}", "401, then 429")
                    return
                if answer.status_code != 401:
                    break  # this login is closed (its own limit): start another one
        run.note(f"Login {number}: wrong passwords up to {guesses} so far, none answered 429.")
    run.expect(False, f"{guesses} wrong passwords over {BRUTE_FORCE_LOGINS} logins, never a 429",
               "429 after a few wrong passwords")


@attack("refresh-token-burn", "A refresh token from another client, or for more scope",
        "Take the lab client's refresh token (scope 'openid read:notes offline_access'), present "
        "it as the notes-web client, then as its own client asking for write:notes too; then "
        "refresh as the rightful client.",
        "RFC 6749 §6",
        "As another client: 400 invalid_grant; with a wider scope: 400 invalid_scope; neither "
        "burns the token: the rightful client's refresh then works (200).")
def refresh_token_burn(run):
    """Misuse a refresh token twice; it must stay the rightful client's, and usable."""
    granted = "openid read:notes offline_access"
    refresh_token = tokens_for(run, scope=granted).get("refresh_token")
    if not refresh_token:
        raise CouldNotRun("No refresh token was issued (was offline_access granted?).")
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    other_client = run.target.web_client
    stolen = token_request(run, grant, f"The refresh token, presented by {other_client[0]}",
                           client=other_client)
    run.expect_error(stolen, 400, "invalid_grant")
    wider = token_request(run, {**grant, "scope": granted + " write:notes"},
                          "The refresh token, asking for write:notes too")
    run.expect_error(wider, 400, "invalid_scope")
    rightful = token_request(run, grant, "The rightful client refreshes, as it always could")
    run.expect(rightful.status_code == 200, f"the rightful refresh: {observed(rightful)}",
               "the rightful refresh: 200")


@attack("foreign-host", "A foreign Host header (DNS rebinding)",
        f"Ask the client for its flow inspector with Host: {ATTACKER_HOST}, as a page on an "
        "attacker's domain whose name now points at the client's address would.",
        "RFC 9110 §7.2",
        "Refused: 400, the client answers only to its own names.",
        needs=("client_app",))
def foreign_host(run):
    """The request of a rebound name: the client's address, someone else's Host."""
    response = run.send("GET", run.target.client_base + "/inspector",
                        f"The inspector, asked for as {ATTACKER_HOST}", headers={"Host": ATTACKER_HOST})
    run.expect_status(response, 400)


@attack("forged-callback", "A forged callback as the inspector's step 7",
        "While a login waits at the AS, make the browser open /callback?state=x&error=access_denied"
        "&error_description=… from another site (the Lax cookie comes along).",
        "RFC 6749 §10.12",
        "The client refuses it with a 400 page, and the inspector keeps no step 7 for it.",
        needs=("client_app",))
def forged_callback(run):
    """Plant a made-up authorization response in the victim's flow record."""
    base = run.target.client_base
    planted = "Your account was closed: call +1 555 0100"
    with http_session() as victim:
        home = run.send("GET", base + "/", browser=victim, record=False)
        run.require(home, (200,), "Opening the client's home page")
        started = run.send("POST", base + "/login", "The victim clicks 'Log in'", browser=victim,
                           setup=True, data={"csrf_token": csrf_token(home)})
        run.require(started, (302, 303), "Starting a login at the client")
        run.note("The victim's browser is at the authorization server's login page now.")
        forged = run.send("GET", base + "/callback", "A cross-site link opens the callback",
                          browser=victim, params={"state": "x", "error": "access_denied",
                                                  "error_description": planted})
        run.expect_page(forged, 400)
        inspector = run.send("GET", base + "/inspector", browser=victim, record=False)
        run.require(inspector, (200,), "Opening the victim's flow inspector")
    shown = re.search(r'id="step-7"[^>]*data-state="([a-z]+)"', inspector.text)
    state = shown.group(1) if shown else "missing"
    run.note(f"The victim's flow inspector shows step 7: {state}.")
    run.expect(state == "pending" and planted not in inspector.text, f"step 7 {state}",
               "step 7 pending (nothing recorded)")


# -- running them ---------------------------------------------------------------------------


def run_attack(attack, target, announce=None):
    """Run one attack live; a Result, whatever happens (never an exception)."""
    run = Run(target, announce)
    started = time.monotonic()
    try:
        attack.run(run)
    except CouldNotRun as e:
        run.message = str(e)
    except Exception as e:  # a bug in the lab itself: still a readable result
        log.exception("attack lab: %s failed", attack.slug)
        run.message = f"The attack itself failed ({type(e).__name__}); the client's log has the details."
    result = run.result(attack, time.monotonic() - started)
    log.info("attack lab: %s -> %s (%s)", attack.slug, result.verdict, result.saw)
    return result


def unreachable_services(target, services):
    """Which of these services do not answer: {service: readable reason}."""
    down = {}
    if "auth_server" in services:
        try:
            target.metadata()
        except CouldNotRun as e:
            down["auth_server"] = str(e)
    for service, base in (("notes_api", target.notes_api), ("client_app", target.client_base)):
        if service in services:
            try:
                Run(target).send("GET", base + "/healthz", record=False)
            except Unreachable as e:
                down[service] = str(e)
    return down


def run_all(target, include_slow=False, only=None, announce=None):
    """Run every attack (the slow one only if asked), or `only` those slugs: their Results."""
    return list(each_result(target, include_slow, only, announce))


def each_result(target, include_slow=False, only=None, announce=None):
    """Run the chosen attacks one by one, yielding each Result as soon as it is known.

    The services they need are checked first: an attack that needs a service that is
    down is not tried, and its result says which service could not be reached.
    """
    if only:
        chosen = [attack for attack in ATTACKS if attack.slug in only]
    else:
        chosen = [attack for attack in ATTACKS if include_slow or not attack.slow]
    down = unreachable_services(target, {service for a in chosen for service in a.needs})
    for attack in chosen:
        reasons = [down[service] for service in attack.needs if service in down]
        if reasons:
            missing = ", ".join(service for service in attack.needs if service in down)
            yield Result(attack, COULD_NOT_RUN, f"not run: {missing} unreachable",
                         message="\n".join(reasons))
        else:
            yield run_attack(attack, target, announce)

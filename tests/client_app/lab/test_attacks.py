"""The attack lab's catalogue, its masking, its verdicts, and its results when the stack is down.

The attacks themselves run against the real stack in tests/integration/test_attack_lab.py;
here the peers are the fake ones from conftest.py (or nobody at all).
"""

import base64
import json
import re
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest
import requests

from auth_server.config import Config as AuthServerConfig
from client_app import flow
from client_app import oauth_client
from client_app.lab import attacks
from client_app.lab import kit
from client_app.lab.kit import BLOCKED
from client_app.lab.kit import COULD_NOT_RUN
from client_app.lab.kit import LAB_PASSWORD
from client_app.lab.kit import LAB_TARGET
from client_app.lab.kit import LAB_TARGET_PASSWORD
from client_app.lab.kit import LAB_USERNAME
from client_app.lab.kit import NOT_BLOCKED
from client_app.lab.kit import UNEXPECTED
from client_app.lab.kit import Run
from client_app.lab.kit import Target
from client_app.masking import mask

from ..conftest import CLIENT_SECRET
from ..conftest import ISSUER

# The attacks the lab must have, by their slugs.
REQUIRED = [
    "scope-tampering", "redirect-uri-tampering", "request-uri-replay", "request-uri-expired",
    "request-uri-other-client", "push-without-secret", "request-uri-in-push", "code-replay",
    "wrong-pkce-verifier", "token-redirect-uri-mismatch", "id-token-at-api", "missing-scope",
    "alg-none", "hs256-confusion", "refresh-token-reuse", "callback-csrf", "mix-up",
    "plain-authorization-request", "unregistered-redirect-uri",
    # Security round two: one attack per rule that can be shown live.
    "password-brute-force", "refresh-token-burn", "foreign-host", "forged-callback",
]
# Secrets the fake exchanges below carry: none may ever appear whole in a result.
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS1hY2Nlc3MtdG9rZW4"
REFRESH_TOKEN = "refresh-Zm9vYmFyYmF6cXV4cXV1eA"
CODE = "code-SplxlOBeZQQYbYS6WxSbIA"
VERIFIER = "verifier-dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
REQUEST_URI = "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"


@pytest.fixture
def target(app):
    """The lab's view of the stack, from the test app's settings."""
    return Target(app.config)


def run(slug, target):
    """Run one attack of the catalogue live (against whatever peers the test set up)."""
    return attacks.run_attack(attacks.find(slug), target)


def result_text(result):
    """Every string a result would show, on the page or in the terminal, as one text."""
    parts = [result.saw, result.message]
    parts += [f"{c.saw} {c.expected}" for c in result.checks]
    for step in result.steps:
        if step.kind == "note":
            parts.append(step.text)
            continue
        parts += [step.title, step.url, step.request_body, step.response_body]
        parts += [value for _, value in step.request_headers + step.response_headers]
    return "\n".join(parts)


class TestCatalogue:
    """Every attack is defined once, with what it tries, its section and its outcome."""

    def test_every_required_attack_is_there(self):
        """All 23 attacks, each once."""
        slugs = [attack.slug for attack in attacks.ATTACKS]
        assert sorted(slugs) == sorted(REQUIRED)
        assert len(set(slugs)) == len(slugs)

    @pytest.mark.parametrize("attack", attacks.ATTACKS, ids=lambda attack: attack.slug)
    def test_each_attack_is_described(self, attack):
        """A name, what it tries, a spec section, an expected outcome, the services it needs."""
        assert attack.name and attack.tries and attack.expected
        assert re.fullmatch(r"RFC \d{4} §[\d.]+(, §[\d.]+)*(; RFC \d{4} §[\d.]+(, §[\d.]+)*)*",
                            attack.section)
        assert attack.needs and set(attack.needs) <= {"auth_server", "client_app", "notes_api"}
        assert callable(attack.run)
        assert attacks.find(attack.slug) is attack

    def test_only_the_expiry_attack_is_slow(self):
        """Run all leaves out just the one attack that waits."""
        assert [a.slug for a in attacks.ATTACKS if a.slow] == ["request-uri-expired"]

    @pytest.mark.parametrize("slug, code", [
        ("request-uri-replay", "400 invalid_request_uri"), ("push-without-secret", "401 invalid_client"),
        ("request-uri-in-push", "400 invalid_request"), ("code-replay", "400 invalid_grant"),
        ("wrong-pkce-verifier", "400 invalid_grant"), ("id-token-at-api", "401 invalid_token"),
        ("missing-scope", "403 insufficient_scope"), ("alg-none", "401 invalid_token"),
        ("refresh-token-reuse", "400 invalid_grant"), ("unregistered-redirect-uri", "400 invalid_request"),
        ("refresh-token-burn", "400 invalid_grant"), ("refresh-token-burn", "400 invalid_scope"),
    ])
    def test_expected_outcomes_name_the_rfc_error(self, slug, code):
        """Where the spec names an error code, the expected outcome says it."""
        assert code in attacks.find(slug).expected


class TestMasking:
    """A result never shows a secret, a code or a whole token: 6 characters and '…' at most."""

    @pytest.mark.parametrize("value, shown", [
        (ACCESS_TOKEN, "eyJhbG…"),
        (CLIENT_SECRET, "notes-…"),
        (REQUEST_URI, "urn:ietf:params:oauth:request_uri:6esc_1…"),
        ("short", "…"),
        ("twelve-chars", "…"),
    ])
    def test_mask(self, value, shown):
        """First 6 characters, then an ellipsis; a short secret is hidden entirely."""
        assert mask(value) == shown

    @pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
    def test_a_recorded_exchange_shows_no_secret(self, app, http, method):
        """Client secret, code, verifier, request_uri and tokens: masked in every field."""
        app.config["TOKEN_ENDPOINT_AUTH_METHOD"] = method
        http.add("POST", f"{ISSUER}/oauth/token", status=200, json={
            "access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "id_token": ACCESS_TOKEN,
            "token_type": "Bearer"})
        # A redirect whose body repeats the URL percent-encoded, as Flask's redirects do.
        location = f"http://localhost:3000/callback?code={CODE}&request_uri={REQUEST_URI}"
        http.add("GET", f"{ISSUER}/authorize", status=303, headers={"Location": location},
                 body=f"<p>Redirecting to {requests.utils.quote(location, safe='')}</p>")
        http.add("GET", f"{ISSUER}/page", status=400, content_type="text/html",
                 body=f"<main><h1>Oops</h1>{CODE} {requests.utils.quote(REQUEST_URI, safe='')}</main>")
        http.add("GET", f"{ISSUER}/api", json={})
        run = Run(Target(app.config))
        run.client_post(f"{ISSUER}/oauth/token", {"grant_type": "authorization_code", "code": CODE,
                                                  "code_verifier": VERIFIER}, "exchange")
        run.send("GET", f"{ISSUER}/authorize", "arrive", params={"request_uri": REQUEST_URI})
        run.send("GET", f"{ISSUER}/page", "a page that echoes secrets")
        run.send("GET", f"{ISSUER}/api", "a Bearer call", headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
        run.note(f"the refresh token was {REFRESH_TOKEN}")
        run.expect(True, f"saw {ACCESS_TOKEN}", "nothing")
        text = result_text(run.result(attacks.ATTACKS[0], 0.1))
        for secret in (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, CODE, VERIFIER, REQUEST_URI,
                       REQUEST_URI.rsplit(":", 1)[1], requests.utils.quote(REQUEST_URI, safe="")):
            assert secret not in text
        assert not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", text)
        # What is left is enough to follow along: the first 6 characters.
        for shown in ("code=code-S…", "code_verifier=verifi…", '"access_token": "eyJhbG…"',
                      '"refresh_token": "refres…"', "Bearer eyJhbG…", "request_uri:6esc_1…"):
            assert shown in text
        if method == "client_secret_basic":
            assert "Basic bm90ZX…" in text
        else:
            assert "client_secret=notes-…" in text


class TestVerdicts:
    """BLOCKED only for the exact refusal; the attack working is NOT BLOCKED."""

    @pytest.mark.parametrize("status, body, verdict", [
        (400, {"error": "invalid_grant"}, BLOCKED),
        (400, {"error": "invalid_request"}, UNEXPECTED),
        (401, {"error": "invalid_grant"}, UNEXPECTED),
        (500, {"error": "server_error"}, UNEXPECTED),
        (200, {"access_token": "x"}, NOT_BLOCKED),
        (303, {}, NOT_BLOCKED),
    ])
    def test_expect_error(self, target, http, status, body, verdict):
        """The status and the RFC error code must both be the spec's."""
        http.add("POST", f"{ISSUER}/oauth/token", status=status, json=body)
        run = Run(target)
        run.expect_error(run.send("POST", f"{ISSUER}/oauth/token"), 400, "invalid_grant")
        result = run.result(attacks.find("code-replay"), 0)
        assert result.verdict == verdict
        assert result.saw.startswith(str(status))

    def test_bearer_challenge_error_is_read(self, target, http):
        """At the API the error code comes from WWW-Authenticate (RFC 6750 §3)."""
        http.add("GET", "http://notes-api.test:8000/api/notes", status=401,
                 headers={"WWW-Authenticate": 'Bearer realm="notes_api", error="invalid_token"'})
        run = Run(target)
        run.expect_error(run.send("GET", "http://notes-api.test:8000/api/notes"), 401, "invalid_token")
        result = run.result(attacks.find("alg-none"), 0)
        assert (result.verdict, result.saw) == (BLOCKED, "401 invalid_token")

    def test_the_worst_check_wins(self, target):
        """One property that does not hold makes the whole attack NOT BLOCKED."""
        run = Run(target)
        run.expect(True, "consent shows only the pushed scopes", "only pushed scopes")
        run.expect(False, "token scope 'openid write:notes'", "token scope 'openid'")
        result = run.result(attacks.find("scope-tampering"), 0)
        assert result.verdict == NOT_BLOCKED
        assert result.saw == "consent shows only the pushed scopes; token scope 'openid write:notes'"


class TestAgainstFakePeers:
    """The lab judges what the server does: a server that goes along is caught."""

    def test_a_server_that_accepts_a_pushed_request_uri_is_not_blocked(self, target, auth_server):
        """The fake AS answers 201 to any push: the lab says NOT BLOCKED."""
        result = attacks.run_attack(attacks.find("request-uri-in-push"), target)
        assert result.verdict == NOT_BLOCKED
        assert result.saw == "201"
        assert "request_uri" in auth_server.pushes[-1]["form"]

    def test_a_server_that_refuses_it_is_blocked(self, target, auth_server):
        """400 invalid_request, as RFC 9126 §2.1 says: BLOCKED, with the exchange recorded."""
        auth_server.par_error = (400, {"error": "invalid_request", "error_description": "no request_uri"})
        result = attacks.run_attack(attacks.find("request-uri-in-push"), target)
        assert (result.verdict, result.saw) == (BLOCKED, "400 invalid_request")
        [step] = result.steps
        assert (step.method, step.url, step.status) == ("POST", f"{ISSUER}/oauth/par", 400)
        assert "request_uri=urn:ietf:params:oauth:request_uri:" in step.request_body
        assert json.loads(step.response_body)["error"] == "invalid_request"

    @pytest.mark.parametrize("slug", ["scope-tampering", "redirect-uri-tampering"])
    @pytest.mark.parametrize("status, headers, verdict, saw", [
        # RFC 9126 §4 lets the AS refuse the tampered request instead of ignoring the extras.
        (400, {"Content-Type": "text/html"}, BLOCKED, "400 invalid_request"),
        (303, {"Location": "http://localhost:3000/callback?error=invalid_request&iss=x"}, BLOCKED,
         "redirect to http://localhost:3000/callback"),
        # Going along with the attacker's redirect_uri: the code would go to them.
        (303, {"Location": "https://attacker.example/callback?code=stolen"}, NOT_BLOCKED,
         "redirect to https://attacker.example/callback"),
    ])
    def test_tampering_refused_at_authorize(self, target, auth_server, http, slug, status, headers,
                                            verdict, saw):
        """An AS that refuses the tampered URL blocks it too; one that redirects to it does not."""
        http.add("GET", f"{ISSUER}/authorize", status=status, headers=headers,
                 body="<main><p><code>invalid_request</code>: conflicting parameters</p></main>")
        result = attacks.run_attack(attacks.find(slug), target)
        assert (result.verdict, result.saw) == (verdict, saw)
        # Nothing was ever sent to the attacker's address (it would be a connection error).
        hosts = {urlsplit(step.url).netloc for step in result.steps if step.kind == "exchange"}
        assert hosts == {"as.test:9000"}

    def test_a_refused_setup_step_means_could_not_run(self, target, auth_server):
        """If the legitimate push fails, the attack cannot be tried: it says why."""
        auth_server.par_error = (400, {"error": "invalid_scope"})
        result = attacks.run_attack(attacks.find("request-uri-replay"), target)
        assert result.verdict == COULD_NOT_RUN
        assert result.message == "Pushing the authorization request failed: HTTP 400 invalid_scope."


class TestStackDown:
    """With nothing listening, every result is readable and says which service is missing."""

    def test_run_all_names_the_unreachable_service(self, target, http):
        """No attack runs; each says which service it needed could not be reached."""
        results = attacks.run_all(target)
        assert [r.attack.slug for r in results] == [a.slug for a in attacks.ATTACKS if not a.slow]
        for result in results:
            assert result.verdict == COULD_NOT_RUN
            assert result.saw.startswith(f"not run: {result.attack.needs[0]}")
            if "auth_server" in result.attack.needs:
                assert f"Could not reach the authorization server at {ISSUER}" in result.message
            else:
                assert "Could not reach the notes client (client_app) at http://localhost:3000" in result.message
            assert "make demo" in result.message
            assert "Traceback" not in result.message

    def test_the_api_and_the_client_are_named_too(self, target, auth_server):
        """The AS is up but the API and the client are not: those attacks say so."""
        results = {r.attack.slug: r for r in attacks.run_all(target, only=["alg-none", "mix-up"])}
        assert "Could not reach the Notes API (notes_api) at http://notes-api.test:8000" in results["alg-none"].message
        assert "Could not reach the notes client (client_app) at http://localhost:3000" in results["mix-up"].message

    def test_a_single_attack_says_which_service(self, target, http):
        """Run on its own (no pre-flight check), an attack still ends in a readable result."""
        result = attacks.run_attack(attacks.find("alg-none"), target)
        assert result.verdict == COULD_NOT_RUN
        assert result.message.startswith(f"Could not reach the authorization server at {ISSUER}")

    def test_a_bug_in_the_lab_is_a_readable_result(self, target, caplog):
        """An attack that crashes is COULD NOT RUN with a sentence, never a traceback."""
        def broken(run):
            raise KeyError("oops")

        attack = attacks.Attack("broken", "Broken", "-", "RFC 0000 §0", "-", broken, ("auth_server",))
        result = attacks.run_attack(attack, target)
        assert result.verdict == COULD_NOT_RUN
        assert result.message == "The attack itself failed (KeyError); the client's log has the details."
        assert "attack lab: broken failed" in caplog.text


class TestTheLabsOwnAccounts:
    """The lab uses its own client and its own users at the AS: never notes-web's budget, never a real user."""

    def test_it_pushes_as_its_own_client(self, app, target, auth_server):
        """HTTP Basic with LAB_CLIENT_ID (registered at the AS with a short request_uri lifetime)."""
        run("request-uri-in-push", target)
        credentials = base64.b64decode(auth_server.pushes[-1]["authorization"].split(" ")[1]).decode()
        assert credentials == f"{app.config['LAB_CLIENT_ID']}:{app.config['LAB_CLIENT_SECRET']}"
        assert app.config["LAB_CLIENT_ID"] != app.config["CLIENT_ID"]
        lab_client = next(c for c in AuthServerConfig.CLIENTS if c["client_id"] == app.config["LAB_CLIENT_ID"])
        assert lab_client["client_secret"] == app.config["LAB_CLIENT_SECRET"]

    def test_it_signs_in_as_the_lab_user(self, target, front_channel):
        """The user typed at the AS's login form is `lab`, a demo account that is no real user."""
        run("wrong-pkce-verifier", target)
        assert front_channel.usernames() == {LAB_USERNAME}
        demo_users = {user["username"]: user for user in AuthServerConfig.USERS}
        assert demo_users[LAB_USERNAME]["password"] == LAB_PASSWORD
        assert LAB_USERNAME not in ("alice", "bob")

    def test_the_expiry_attack_waits_a_couple_of_seconds(self, target, auth_server, http, monkeypatch):
        """expires_in from the push (the lab client's: 2 s), plus one: a worker is held 3 s, not 31."""
        waited = []
        monkeypatch.setattr(kit.time, "sleep", waited.append)
        auth_server.par_expires_in = next(c for c in AuthServerConfig.CLIENTS
                                          if c["client_id"] == "notes-lab")["request_uri_lifetime"]
        http.add("GET", f"{ISSUER}/authorize", status=400, content_type="text/html",
                 body="<main><p><code>invalid_request_uri</code></p></main>")
        result = run("request-uri-expired", target)
        assert result.verdict == BLOCKED
        assert waited == [auth_server.par_expires_in + 1]
        assert sum(waited) <= kit.MAX_WAIT_SECONDS

    def test_a_rate_limited_push_is_not_waited_out_for_long(self, target, auth_server, monkeypatch):
        """The AS answers 429 with Retry-After 10 (its window): the lab does not wait, it says why."""
        waited = []
        monkeypatch.setattr(kit.time, "sleep", waited.append)
        auth_server.par_error = (429, {"error": "invalid_request"}, {"Retry-After": "10"})
        result = run("request-uri-replay", target)
        assert result.verdict == COULD_NOT_RUN
        assert "Retry-After 10 s" in result.message
        assert waited == []

    def test_the_expiry_attack_will_not_hold_a_worker_for_long(self, target, auth_server, monkeypatch):
        """A request_uri that lives 30 s (the lab client not registered as such): not run, nothing waited."""
        waited = []
        monkeypatch.setattr(kit.time, "sleep", waited.append)
        auth_server.par_expires_in = 30
        result = run("request-uri-expired", target)
        assert result.verdict == COULD_NOT_RUN
        assert f"waits at most {kit.MAX_WAIT_SECONDS} s" in result.message
        assert waited == []


class TestPasswordBruteForce:
    """(a) Guessing across logins, a few guesses each: only an account lockout stops it."""

    def test_without_a_lockout_it_is_not_blocked(self, target, front_channel):
        """Every guess answered 401, login after login: NOT BLOCKED, and only lab-target was tried."""
        result = run("password-brute-force", target)
        assert result.verdict == NOT_BLOCKED
        budget = attacks.BRUTE_FORCE_LOGINS * attacks.GUESSES_PER_LOGIN
        assert result.saw == f"{budget} wrong passwords over {attacks.BRUTE_FORCE_LOGINS} logins, never a 429"
        assert front_channel.usernames() == {LAB_TARGET}
        assert front_channel.arrivals == attacks.BRUTE_FORCE_LOGINS
        assert max(front_channel.per_login.values()) == attacks.GUESSES_PER_LOGIN
        assert all(status == 401 for _, _, status in front_channel.attempts)

    def test_a_lockout_blocks_it_even_for_the_right_password(self, target, front_channel):
        """After lock_after wrong passwords the form answers 429, the right password too: BLOCKED."""
        front_channel.lock_after = 5
        result = run("password-brute-force", target)
        assert result.verdict == BLOCKED
        assert [status for _, _, status in front_channel.attempts][-2:] == [429, 429]
        assert front_channel.attempts[-1][1] == LAB_TARGET_PASSWORD
        assert len(front_channel.attempts) == front_channel.lock_after + 2
        assert front_channel.usernames() == {LAB_TARGET}

    def test_a_lock_that_lets_the_right_password_in_is_not_blocked(self, target, front_channel):
        """429 for wrong guesses but not for the right one: still an oracle for the attacker."""
        front_channel.lock_after, front_channel.leaky_lock = 5, True
        assert run("password-brute-force", target).verdict == NOT_BLOCKED

    def test_a_login_closed_early_is_followed_by_a_new_one(self, target, front_channel):
        """An AS that closes a login after 2 wrong passwords: the attack starts the next one."""
        front_channel.closes_after = 2
        result = run("password-brute-force", target)
        assert result.verdict == NOT_BLOCKED
        assert front_channel.arrivals == attacks.BRUTE_FORCE_LOGINS
        assert max(front_channel.per_login.values()) == 1


class RefreshRules:
    """A token endpoint's answer to the refresh attempts of the burn attack (and the code exchange)."""

    def __init__(self, lab_client, accepts_other_client=False, accepts_wider_scope=False, burns=False):
        self.lab_client = lab_client
        self.accepts_other_client = accepts_other_client
        self.accepts_wider_scope = accepts_wider_scope
        self.burns = burns
        self.burned = False
        self.seen = []  # (client_id, scope) of each refresh

    def __call__(self, request):
        """400 invalid_grant or invalid_scope as RFC 6749 §6 says, unless told to go along."""
        form = dict(parse_qsl(request.body))
        client_id = base64.b64decode(request.headers["Authorization"].split(" ")[1]).decode().split(":")[0]
        self.seen.append((client_id, form.get("scope")))
        tokens = {"access_token": "at-" + "x" * 20, "refresh_token": "rt-" + "y" * 20, "token_type": "Bearer"}
        refused = None
        if client_id != self.lab_client and not self.accepts_other_client:
            refused = "invalid_grant"
            self.burned = self.burns
        elif form.get("scope") and not self.accepts_wider_scope:
            refused = "invalid_scope"
        elif self.burned:
            refused = "invalid_grant"
        if refused:
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": refused})
        return 200, {"Content-Type": "application/json"}, json.dumps(tokens)


class TestRefreshTokenBurn:
    """(b) The lab client's refresh token, presented by another client or for more scope."""

    @pytest.fixture
    def endpoint(self, app, http, auth_server, monkeypatch):
        """A token endpoint with RefreshRules; the login before it is taken as done."""
        monkeypatch.setattr(attacks, "tokens_for", lambda run, **scope: {"refresh_token": "rt-lab-" + "z" * 20})
        http.remove("POST", f"{ISSUER}/oauth/token")

        def install(**behaviour):
            """Answer refreshes with these rules."""
            rules = RefreshRules(app.config["LAB_CLIENT_ID"], **behaviour)
            http.add_callback("POST", f"{ISSUER}/oauth/token", rules)
            return rules

        return install

    def test_the_spec_blocks_it(self, app, target, endpoint):
        """Another client: invalid_grant; wider scope: invalid_scope; the rightful refresh: 200."""
        rules = endpoint()
        result = run("refresh-token-burn", target)
        assert result.verdict == BLOCKED
        assert [client for client, _ in rules.seen] == [app.config["CLIENT_ID"], app.config["LAB_CLIENT_ID"],
                                                        app.config["LAB_CLIENT_ID"]]
        assert "write:notes" in rules.seen[1][1]
        assert rules.seen[2][1] is None

    @pytest.mark.parametrize("behaviour", [{"accepts_other_client": True}, {"accepts_wider_scope": True},
                                           {"burns": True}], ids=lambda b: next(iter(b)))
    def test_going_along_or_burning_the_token_is_not_blocked(self, target, endpoint, behaviour):
        """Any of the three going wrong: NOT BLOCKED."""
        endpoint(**behaviour)
        assert run("refresh-token-burn", target).verdict == NOT_BLOCKED


class TestAttacksOnTheClient:
    """(c) and (d): the client app itself, in this process, answering the lab over HTTP."""

    def test_a_foreign_host_is_served_without_trusted_hosts(self, app, target, client_peer):
        """TRUSTED_HOSTS switched off (Flask's default, None): the inspector answers a rebound name: NOT BLOCKED."""
        app.config["TRUSTED_HOSTS"] = None
        result = run("foreign-host", target)
        assert result.verdict == NOT_BLOCKED
        assert client_peer.hosts == [attacks.ATTACKER_HOST]

    def test_a_foreign_host_is_refused_with_trusted_hosts(self, app, target, client_peer):
        """TRUSTED_HOSTS names the client's own host: 400 page: BLOCKED."""
        app.config["TRUSTED_HOSTS"] = [urlsplit(app.config["CLIENT_BASE_URL"]).hostname]
        result = run("foreign-host", target)
        assert (result.verdict, result.saw) == (BLOCKED, "400 Bad Request")

    def test_a_forged_callback_is_refused_and_not_recorded(self, target, client_peer):
        """The client refuses it (400) and the victim's inspector shows no step 7: BLOCKED."""
        result = run("forged-callback", target)
        assert result.verdict == BLOCKED, result.checks
        assert [check.verdict for check in result.checks] == [BLOCKED, BLOCKED]

    def test_a_client_that_records_before_checking_is_caught(self, target, client_peer, monkeypatch):
        """Step 7 recorded before the state check (the old code): NOT BLOCKED."""
        check_callback = oauth_client.check_callback

        def records_first(login, args):
            """Record the callback, then check it."""
            flow.record_received(login, 7)
            return check_callback(login, args)

        monkeypatch.setattr(oauth_client, "check_callback", records_first)
        result = run("forged-callback", target)
        assert result.verdict == NOT_BLOCKED
        assert "step 7 failed" in result.saw

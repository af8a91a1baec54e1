"""The attack lab's catalogue, its masking, its verdicts, and its results when the stack is down.

The attacks themselves run against the real stack in tests/integration/test_attack_lab.py;
here the peers are the fake ones from conftest.py (or nobody at all).
"""

import json
import re
from urllib.parse import urlsplit

import pytest
import requests

from client_app.lab import attacks
from client_app.lab.kit import BLOCKED
from client_app.lab.kit import COULD_NOT_RUN
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
        """All 19 attacks, each once."""
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
        """No attack runs; each says the authorization server could not be reached."""
        results = attacks.run_all(target)
        assert [r.attack.slug for r in results] == [a.slug for a in attacks.ATTACKS if not a.slow]
        for result in results:
            assert result.verdict == COULD_NOT_RUN
            assert result.saw.startswith("not run: auth_server")
            assert f"Could not reach the authorization server at {ISSUER}" in result.message
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

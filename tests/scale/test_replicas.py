"""Three auth_server replicas on one PostgreSQL: every flow hops across all three.

Push on the first replica, /authorize on the second, login on the third, consent on
the first, the token request on the third: 1,000 flows, zero failures. Concurrent
replays of a request_uri and of a code, each sent to different replicas at the same
moment, succeed exactly once.
"""

import base64
import hashlib
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from auth_server.config import Config
from tests.stack import consent
from tests.stack import environment
from tests.stack import free_ports
from tests.stack import gunicorn
from tests.stack import query
from tests.stack import sign_in

FLOWS = int(os.environ.get("REPLICA_FLOWS", "1000"))
ISSUER = "http://localhost:9000"  # one public issuer, whichever replica answers
CALLBACK = "http://localhost:3000/callback"
WEB = ("notes-web", "notes-web-secret")


@pytest.fixture(scope="module")
def replicas(postgres_url, tmp_path_factory):
    """Three auth_server processes (2 workers each) sharing one database and one issuer."""
    logs = tmp_path_factory.mktemp("replicas")
    env = environment(DATABASE_URL=postgres_url, ISSUER=ISSUER, SECRET_KEY="shared-by-replicas",
                      WEB_CONCURRENCY="2", PAR_RATE_LIMIT="1000000")
    started = []
    try:
        # Started together: they race to create the tables and the first key.
        for index, port in enumerate(free_ports(3)):
            started.append(gunicorn("auth_server", port, logs / f"replica{index}.log", env))
        for replica in started:
            replica.wait_until_up("/.well-known/jwks.json", timeout=60)
        yield [replica.url for replica in started]
    finally:
        for replica in started:
            replica.stop()


def push(base, verifier, nonce):
    """Step 2 on one replica; returns the request_uri."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    response = requests.post(base + "/oauth/par", auth=WEB, timeout=30, data={
        "response_type": "code", "redirect_uri": CALLBACK, "scope": "openid read:notes",
        "audience": "urn:my-notes-api", "state": "s", "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert response.status_code == 201, response.text
    return response.json()["request_uri"]


def login_and_consent(browser, arrival, login_base, consent_base):
    """Steps 5-7, the login on one replica and the consent on another; returns the code."""
    consent_path = sign_in(browser, login_base + arrival.headers["Location"])
    return query(consent(browser, consent_base + consent_path))["code"]


def exchange(base, code, verifier):
    """Step 8 on one replica."""
    return requests.post(base + "/oauth/token", auth=WEB, timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier})


def one_flow(replicas, keys):
    """A whole flow hopping across the replicas; returns the access token's claims."""
    first, second, third = replicas
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
    request_uri = push(first, verifier, nonce)
    with requests.Session() as browser:
        arrival = browser.get(second + "/authorize", allow_redirects=False, timeout=30,
                              params={"client_id": "notes-web", "request_uri": request_uri})
        assert arrival.status_code == 303, arrival.text
        code = login_and_consent(browser, arrival, third, first)
    response = exchange(third, code, verifier)
    assert response.status_code == 200, response.text
    return jwt.decode(response.json()["access_token"], keys).claims


def test_replicas_share_one_signing_key(replicas):
    """Started at the same moment, the replicas agreed on one key per algorithm and one JWKS."""
    jwks = [requests.get(base + "/.well-known/jwks.json", timeout=10).json() for base in replicas]
    assert jwks[0] == jwks[1] == jwks[2]
    algs = [key["alg"] for key in jwks[0]["keys"]]
    assert sorted(algs) == sorted(Config.SIGNING_ALGS)  # exactly one key each, none made twice


def test_a_thousand_flows_across_three_replicas(replicas):
    """Every step of every flow on a different replica than the step before: no failure."""
    keys = KeySet.import_key_set(requests.get(replicas[0] + "/.well-known/jwks.json", timeout=10).json())
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: one_flow(replicas, keys), range(FLOWS)))
    assert len(results) == FLOWS
    assert all(claims["sub"] == "alice" and claims["iss"] == ISSUER for claims in results)
    assert len({claims["jti"] for claims in results}) == FLOWS


def test_a_flow_across_replicas_is_traced_whole(replicas):
    """The flow trace (what the inspector shows of steps 4-9) is written by whichever replica
    serves each step, into PostgreSQL, and any replica tells all of it to the client."""
    first, second, third = replicas
    verifier = secrets.token_urlsafe(48)
    request_uri = push(first, verifier, secrets.token_urlsafe(12))
    with requests.Session() as browser:
        arrival = browser.get(second + "/authorize", allow_redirects=False, timeout=30,
                              params={"client_id": "notes-web", "request_uri": request_uri})
        code = login_and_consent(browser, arrival, third, first)
    assert exchange(third, code, verifier).status_code == 200
    for base, by in ((first, {"request_uri": request_uri}), (second, {"code": code})):
        trace = requests.post(base + "/oauth/flow-trace", auth=WEB, data=by, timeout=30).json()
        assert [(r["step"], r["method"], r["status"]) for r in trace["requests"]] == [
            (2, "POST", 201), (4, "GET", 303), (5, "GET", 200), (5, "POST", 303), (5, "GET", 200), (6, "POST", 303)]
        assert trace["code_issued"] is True
        [token_request] = trace["token_requests"]
        assert token_request["status"] == 200
        assert {check["outcome"] for check in token_request["checks"]} == {"passed"}


def race(calls):
    """Run the calls at the same moment, one thread each; returns their results."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("attempt", range(20))
def test_request_uri_and_code_are_single_use_under_concurrent_replays(replicas, attempt):
    """Two browsers on two replicas race for one request_uri; three replicas race for one code."""
    first, second, third = replicas
    verifier = secrets.token_urlsafe(48)
    request_uri = push(first, verifier, secrets.token_urlsafe(12))
    browsers = [requests.Session(), requests.Session()]
    arrivals = race([
        lambda: browsers[0].get(second + "/authorize", allow_redirects=False, timeout=30,
                                params={"client_id": "notes-web", "request_uri": request_uri}),
        lambda: browsers[1].get(third + "/authorize", allow_redirects=False, timeout=30,
                                params={"client_id": "notes-web", "request_uri": request_uri}),
    ])
    assert sorted(response.status_code for response in arrivals) == [303, 400]
    winner = next(i for i, response in enumerate(arrivals) if response.status_code == 303)
    code = login_and_consent(browsers[winner], arrivals[winner], [second, third][winner], first)
    exchanges = race([lambda base=base: exchange(base, code, verifier) for base in replicas])
    assert sorted(response.status_code for response in exchanges) == [200, 400, 400]
    assert all(response.json()["error"] == "invalid_grant" for response in exchanges if response.status_code == 400)

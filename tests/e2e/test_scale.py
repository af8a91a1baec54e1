"""Scale-out: docker-compose.scale.yml, three auth_server replicas on PostgreSQL behind nginx.

The browser and the client reach the authorization server only through the proxy,
which hands each request to the next replica. Every flow still completes, because the
replicas keep nothing of their own: pushed requests, logins, codes and the signing key
are all in PostgreSQL.
"""

import re

import pytest
import requests

from tests.stack import authorize
from tests.stack import finish
from tests.stack import push

from .conftest import BUILD_TIMEOUT_SECONDS
from .conftest import ROOT
from .conftest import Stack
from .conftest import compose_config

SCALE_FILE = "docker-compose.scale.yml"
REPLICAS = ("auth_server_1", "auth_server_2", "auth_server_3")
SCALE_SERVICES = ("postgres", *REPLICAS, "auth_proxy", "notes_api", "client_app")
FLOWS = 6
NAMES = {"alice": "Alice Liddell", "bob": "Bob Builder"}
# The log lines of one protocol step each (auth_server's par.py, interactions.py, views).
PUSHED = re.compile(r"step 2-3 par: pushed request stored client=notes-web ref=(\S+)…")
REDEEMED = re.compile(r"step 4 authorize: request_uri used client=notes-web ref=(\S+)…")
AUTHENTICATED = re.compile(r"step 5 user authenticated interaction=(\S+) sub=(\w+)")
TOKENS = re.compile(r"tokens issued client=notes-web sub=(\w+)")
# The proxy's access log (auth_proxy/nginx.conf): one line per request and its replica.
PROXIED = re.compile(r'"(?P<method>[A-Z]+) (?P<path>/\S*)" (?P<status>\d{3}) upstream=(?P<upstream>[\d.]+):9000')


@pytest.fixture(scope="module")
def stack(compose, engine):
    """The scaled-out stack, built and healthy, under its own project name and free ports.

    It overrides conftest's `stack` in this module, so tests/stack.py's flow steps and
    the failure report's logs work on it unchanged.
    """
    stack = Stack(engine, compose, compose_file=SCALE_FILE, services=SCALE_SERVICES)
    try:
        # BASE_IMAGE, POSTGRES_IMAGE and PROXY_IMAGE from the environment (CI's stand-ins).
        stack.compose("build", timeout=BUILD_TIMEOUT_SECONDS)
        stack.up()
        yield stack
    finally:
        stack.compose("down", "-v")


def test_proxy_config_names_every_replica(compose):
    """auth_proxy/nginx.conf's upstream is exactly the compose file's replicas."""
    config = (ROOT / "auth_proxy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream auth_server_replicas \{(.*?)\}", config, re.S).group(1)

    assert re.findall(r"^\s*server (\w+):9000;", upstream, re.M) == list(REPLICAS)
    services = compose_config(compose, SCALE_FILE)["services"]
    assert {name for name in services if name.startswith("auth_server")} == set(REPLICAS)


def test_flows_through_the_proxy_are_spread_over_the_three_replicas(stack):
    """Several full flows in a browser; each replica takes part, every flow completes."""
    # One signing key for all: the JWKS is the same whichever replica answers.
    jwks = [requests.get(stack.auth + "/.well-known/jwks.json", timeout=5).json() for _ in REPLICAS]
    assert jwks[0] == jwks[1] == jwks[2]
    users = ["alice", "bob"] * (FLOWS // 2)

    for username in users:
        with requests.Session() as browser:
            authorize_url = push(browser, stack)
            notes = finish(browser, stack, authorize(browser, authorize_url, username))
            assert notes.status_code == 200
            assert NAMES[username] in notes.text

    logs = {name: stack.logs(name) for name in REPLICAS}
    every_log = "".join(logs.values())
    # Each step once per flow, whichever replica took it.
    assert len(PUSHED.findall(every_log)) == FLOWS
    assert len(REDEEMED.findall(every_log)) == FLOWS
    assert [sub for _, sub in AUTHENTICATED.findall(every_log)].count("alice") == FLOWS // 2
    assert sorted(TOKENS.findall(every_log)) == sorted(users)
    # Every replica took protocol steps, not just healthchecks.
    for name, log in logs.items():
        steps = PUSHED.findall(log) + REDEEMED.findall(log) + AUTHENTICATED.findall(log) + TOKENS.findall(log)
        assert steps, f"{name} took no step of any flow"
    # Round robin: a request_uri was pushed to one replica and redeemed at the next one
    # (RFC 9126 §2.2: single use holds across replicas, since the store is shared).
    pushed_on = {ref: name for name, log in logs.items() for ref in PUSHED.findall(log)}
    redeemed_on = {ref: name for name, log in logs.items() for ref in REDEEMED.findall(log)}
    assert pushed_on.keys() == redeemed_on.keys()
    assert all(pushed_on[ref] != redeemed_on[ref] for ref in pushed_on)
    # The proxy's own log: the three replicas' addresses, and no failed request.
    proxied = list(PROXIED.finditer(stack.logs("auth_proxy")))
    assert {m["upstream"] for m in proxied} == {stack.address(name) for name in REPLICAS}
    assert all(int(m["status"]) < 500 for m in proxied)


def test_back_channel_goes_through_the_proxy(stack):
    """client_app and notes_api reach the replicas through http://auth-proxy:9000 only."""
    with requests.Session() as browser:
        assert finish(browser, stack, authorize(browser, push(browser, stack))).status_code == 200

    assert "endpoint=http://auth-proxy:9000/oauth/par" in stack.logs("client_app")
    assert "fetched JWKS from http://auth-proxy:9000/.well-known/jwks.json" in stack.logs("notes_api")
    # Every protocol request a replica saw came from the proxy's address: the browser's
    # steps and the client's back-channel calls alike.
    proxy = stack.address("auth_proxy")
    for name in REPLICAS:
        callers = set(re.findall(r'^(\S+) "[A-Z]+ /(?:oauth|authorize|interaction)', stack.logs(name), re.M))
        assert callers == {proxy}, name

"""All 12 steps through the published ports, and which calls took which channel."""

import re

import pytest
import requests

from tests.stack import log_in

from .conftest import SERVICES

# An access-log line of any of the three: the caller's address, then "METHOD /path HTTP/x".
ACCESS_LINE = re.compile(r'^(?P<addr>\S+) .*?"(?P<method>[A-Z]+) (?P<path>/\S*) HTTP/[\d.]+"', re.M)


def callers(log, method, path):
    """The addresses that sent `method path`, according to an access log."""
    return {m["addr"] for m in ACCESS_LINE.finditer(log) if (m["method"], m["path"]) == (method, path)}


def test_twelve_steps_through_the_published_ports(browser, stack):
    """Login, push, redirect, login and consent forms, callback, tokens, notes from the API."""
    # The issuer is the public URL, even though the containers reach it by another name.
    discovery = requests.get(stack.auth + "/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == stack.auth
    assert discovery["pushed_authorization_request_endpoint"] == stack.auth + "/oauth/par"

    notes = log_in(browser, stack)

    assert notes.status_code == 200
    assert "Notes app" in notes.text
    assert "Alice Liddell" in notes.text
    # Alice's demo notes, as the API container stores them.
    assert "Buy oat milk and coffee beans." in notes.text


@pytest.mark.parametrize("profile", ["classic", "fapi2"])
def test_the_other_profiles_log_in_through_compose(browser, stack, profile):
    """Classic (no push) and FAPI 2.0: the AS fetches the client's keys from its container, DPoP works."""
    notes = log_in(browser, stack, profile=profile)
    assert notes.status_code == 200
    assert "Buy oat milk and coffee beans." in notes.text
    assert f"profile: <strong>{'FAPI 2.0' if profile == 'fapi2' else 'Classic (no PAR)'}</strong>" in notes.text
    if profile == "fapi2":
        # RFC 7591 jwks_uri: registered at the public URL, fetched from the client container.
        assert "client keys fetched client=notes-fapi" in stack.logs("auth_server")


def test_back_channel_between_containers_front_channel_through_the_host(browser, stack):
    """PAR, token and API calls come from the client's container; the browser's from outside."""
    already = {name: len(stack.logs(name)) for name in ("auth_server", "notes_api")}

    assert log_in(browser, stack).status_code == 200

    auth_log = stack.logs("auth_server")[already["auth_server"]:]
    api_log = stack.logs("notes_api")[already["notes_api"]:]
    client = stack.address("client_app")
    containers = {stack.address(name) for name in SERVICES}
    # Steps 2-3 (RFC 9126 push) and 8-9 (code for tokens): client container -> auth_server.
    assert callers(auth_log, "POST", "/oauth/par") == {client}
    assert callers(auth_log, "POST", "/oauth/token") == {client}
    # Step 11: client container -> notes_api, with the access token.
    assert callers(api_log, "GET", "/api/notes") == {client}
    # Steps 4-7: the browser came through the published port, from outside the network
    # (on Linux, from the network's gateway).
    for path in ("/authorize", "/interaction"):
        browser_side = {m["addr"] for m in ACCESS_LINE.finditer(auth_log) if m["path"].startswith(path)}
        assert browser_side
        assert not browser_side & containers
    # The services used the internal name, not the issuer's localhost.
    assert "endpoint=http://auth-server:9000/oauth/par" in stack.logs("client_app")
    assert "fetched JWKS from http://auth-server:9000/.well-known/jwks.json" in stack.logs("notes_api")

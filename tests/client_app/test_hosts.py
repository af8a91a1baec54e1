"""TRUSTED_HOSTS: the client answers only to its own host names (config.py, errors.py).

A DNS-rebinding page points its own name at the client's address; the browser then
sends that name in the Host header. Every such request gets a 400 page, so the page
can neither read the flow inspector (tokens, codes) nor drive a login or an attack.
"""

import pytest

from client_app import create_app
from client_app.config import Config
from client_app.config import host_names


def test_demo_default_names():
    """Without TRUSTED_HOSTS the demo's loopback names are trusted (the URLs' hosts are added)."""
    assert Config.TRUSTED_HOSTS == ["localhost", "127.0.0.1"]


def test_setting_is_a_comma_separated_list():
    """TRUSTED_HOSTS from the environment: names separated by commas, blanks ignored."""
    assert host_names("client-app, 127.0.0.1,") == ["client-app", "127.0.0.1"]


@pytest.fixture
def public_app(settings):
    """The client deployed at its own public names, with nothing else trusted."""
    return create_app({**settings, "REDIRECT_URI": "https://notes.example.com/callback",
                       "CLIENT_BASE_URL": "https://www.notes.example.com", "TRUSTED_HOSTS": ["127.0.0.1"]})


def test_url_hosts_are_trusted_with_the_setting(public_app):
    """create_app adds the hosts of REDIRECT_URI and CLIENT_BASE_URL to the configured names."""
    assert public_app.config["TRUSTED_HOSTS"] == ["notes.example.com", "www.notes.example.com", "127.0.0.1"]


@pytest.mark.parametrize("host", ["notes.example.com", "www.notes.example.com:443", "127.0.0.1:3000"])
@pytest.mark.parametrize("path", ["/", "/healthz", "/inspector"])
def test_own_names_are_served(public_app, host, path):
    """The redirect URI's host, the base URL's and the healthcheck's address: 200."""
    assert public_app.test_client().get(path, headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["localhost:3000", "127.0.0.1:3000"])
def test_demo_names_are_served(client, host):
    """The demo's defaults: localhost and 127.0.0.1."""
    assert client.get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["attacker.example:3000", "attacker.example", "localhost.attacker.example"])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/inspector"),
    ("GET", "/inspector/export.json"),
    ("GET", "/lab"),
    ("POST", "/login"),
    ("POST", "/lab/run-all"),
    ("GET", "/callback"),
    ("GET", "/no-such-page"),
])
def test_foreign_host_is_a_page(client, http, host, method, path):
    """A foreign Host: 400, a readable page naming the client, and no call to anyone."""
    response = client.open(path, method=method, headers={"Host": host})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Notes app" in response.text
    assert "does not answer to that host name" in response.text
    assert len(http.calls) == 0

"""TRUSTED_HOSTS: the server answers only to its own host names (config.py, views/__init__.py).

A DNS-rebinding page points its own name at our address; the browser then sends that
name in the Host header. Every such request gets 400, in the channel's own format.
"""

import pytest

from auth_server import create_app
from auth_server.config import Config
from auth_server.config import host_names

# The demo's public name (ISSUER), the name the other containers use in compose, and
# the address docker's healthcheck uses.
ISSUER = "http://localhost:9000"
INTERNAL = "auth-server"


@pytest.fixture
def app(make_app, test_config):
    """The server as compose runs it: ISSUER plus the internal name and the loopback address."""
    return make_app({**test_config, "ISSUER": ISSUER, "TRUSTED_HOSTS": [INTERNAL, "127.0.0.1"]})


def test_demo_default_names():
    """Without TRUSTED_HOSTS the demo's loopback names are trusted (ISSUER's host is added)."""
    assert Config.TRUSTED_HOSTS == ["localhost", "127.0.0.1"]


def test_setting_is_a_comma_separated_list():
    """TRUSTED_HOSTS from the environment: names separated by commas, blanks ignored."""
    assert host_names(" auth-server, 127.0.0.1,,localhost ") == ["auth-server", "127.0.0.1", "localhost"]


def test_issuer_host_is_trusted_with_the_setting(app):
    """create_app adds ISSUER's host name to the configured names, once."""
    assert app.config["TRUSTED_HOSTS"] == ["localhost", INTERNAL, "127.0.0.1"]


@pytest.mark.parametrize("host", ["localhost:9000", "localhost", f"{INTERNAL}:9000", "127.0.0.1:9000"])
def test_own_names_are_served(client, host):
    """The public name, the internal one and the healthcheck's address: 200."""
    response = client.get("/.well-known/openid-configuration", headers={"Host": host})
    assert response.status_code == 200
    assert response.json["issuer"] == ISSUER


def test_issuer_of_another_deployment_is_trusted(test_config):
    """A server whose ISSUER is https://as.example.com answers to as.example.com."""
    app = create_app({**test_config, "ISSUER": "https://as.example.com", "TRUSTED_HOSTS": []})
    client = app.test_client()
    assert client.get("/", headers={"Host": "as.example.com"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400


def test_names_with_an_underscore_cannot_be_trusted(test_config):
    """Werkzeug refuses "_" in a Host (RFC 1123 §2.1 host names): compose adds hyphenated aliases."""
    app = create_app({**test_config, "TRUSTED_HOSTS": ["auth_server"]})
    assert app.test_client().get("/", headers={"Host": "auth_server:9000"}).status_code == 400


FOREIGN_HOSTS = ["attacker.example:9000", "attacker.example", "localhost.attacker.example", "LOCALHOST.attacker"]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/jwks.json"),
    ("POST", "/oauth/par"),
    ("POST", "/oauth/token"),
])
def test_foreign_host_on_the_back_channel_is_an_oauth_error(client, host, method, path):
    """A foreign Host on a JSON endpoint: 400 invalid_request, as OAuth JSON (RFC 6749 §5.2)."""
    response = client.open(path, method=method, headers={"Host": host},
                           data={"client_id": "notes-web", "client_secret": "notes-web-secret"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert "Host" in response.json["error_description"]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"),
    ("GET", "/authorize"),
    ("POST", "/interaction/x/login"),
    ("GET", "/no-such-page"),
])
def test_foreign_host_on_the_front_channel_is_a_page(client, host, method, path):
    """A foreign Host on a page: 400, a readable page naming this party, no content of ours."""
    response = client.open(path, method=method, headers={"Host": host})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Authorization Server" in response.text
    assert "Host" in response.text
    assert 'name="password"' not in response.text

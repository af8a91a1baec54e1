"""TRUSTED_HOSTS: the API answers only to its own host names (config.py, errors.py).

A DNS-rebinding page points its own name at the API's address; the browser then sends
that name in the Host header. Every such request gets 400, even with a valid token:
OAuth JSON under /api, a readable page elsewhere.
"""

import pytest

from notes_api.config import Config
from notes_api.config import host_names


def test_demo_default_names():
    """Without TRUSTED_HOSTS the demo's loopback names are trusted (PUBLIC_URL's host is added)."""
    assert Config.TRUSTED_HOSTS == ["localhost", "127.0.0.1"]


def test_setting_from_the_environment(config_from_env):
    """TRUSTED_HOSTS: names separated by commas, blanks ignored."""
    assert config_from_env(TRUSTED_HOSTS="notes-api, localhost,,127.0.0.1").TRUSTED_HOSTS == [
        "notes-api", "localhost", "127.0.0.1"]
    assert host_names("") == []


def test_public_url_host_is_trusted_with_the_setting(make_app):
    """create_app adds PUBLIC_URL's host name to the configured names, once."""
    app = make_app(PUBLIC_URL="https://api.example.com", TRUSTED_HOSTS=["notes-api", "api.example.com"])
    assert app.config["TRUSTED_HOSTS"] == ["api.example.com", "notes-api"]
    client = app.test_client()
    assert client.get("/healthz", headers={"Host": "api.example.com"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 400


@pytest.fixture
def compose_api(make_app):
    """The API as compose runs it: PUBLIC_URL on localhost, the client's name for it, the healthcheck's."""
    return make_app(PUBLIC_URL="http://localhost:8000", TRUSTED_HOSTS=["notes-api", "127.0.0.1"])


@pytest.mark.parametrize("host", ["notes-api:8000", "localhost:8000", "localhost", "127.0.0.1:8000"])
def test_own_names_are_served(compose_api, make_token, host):
    """The internal name, the public one and the healthcheck's address: 200."""
    client = compose_api.test_client()
    assert client.get("/healthz", headers={"Host": host}).status_code == 200
    notes = client.get("/api/notes", headers={"Host": host, "Authorization": "Bearer " + make_token()})
    assert notes.status_code == 200


FOREIGN_HOSTS = ["attacker.example:8000", "attacker.example", "localhost.attacker.example"]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/notes"), ("POST", "/api/notes"), ("GET", "/api")])
def test_foreign_host_on_the_api_is_an_oauth_error(compose_api, make_token, host, method, path):
    """Under /api: 400 invalid_request as JSON, even with a valid token; nothing stored."""
    client = compose_api.test_client()
    headers = {"Host": host, "Authorization": "Bearer " + make_token()}
    response = client.open(path, method=method, headers=headers, json={"text": "Planted by a rebinding page"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "Host" in response.get_json()["error_description"]
    notes = client.get("/api/notes", headers={**headers, "Host": "localhost"}).get_json()["notes"]
    assert "Planted by a rebinding page" not in [note["text"] for note in notes]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize("path", ["/", "/healthz", "/no-such-page"])
def test_foreign_host_elsewhere_is_a_page(compose_api, host, path):
    """Outside /api: a 400 page naming this party."""
    response = compose_api.test_client().get(path, headers={"Host": host})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Notes API" in response.text
    assert "Host" in response.text

"""create_app(), settings, health check and the generic error pages."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from client_app import create_app
from client_app.config import Config


def test_demo_defaults():
    """Without environment variables the client is the documented demo client."""
    assert Config.ISSUER == "http://localhost:9000"
    assert Config.AUTH_SERVER_INTERNAL_URL == ""
    assert Config.CLIENT_ID == "notes-web"
    assert Config.CLIENT_SECRET == "notes-web-secret"
    assert Config.REDIRECT_URI == "http://localhost:3000/callback"
    assert Config.SCOPE == "openid profile email read:notes write:notes offline_access"
    assert Config.AUDIENCE == "urn:my-notes-api"
    assert Config.NOTES_API_URL == "http://localhost:8000"
    assert Config.TOKEN_ENDPOINT_AUTH_METHOD == "client_secret_basic"
    assert Config.SESSION_COOKIE_NAME == "client_app_session"
    assert Config.PORT == 3000


def test_issuer_is_kept_exactly_as_set():
    """ISSUER from the environment is not trimmed: issuers compare as exact strings."""
    code = "from client_app.config import Config; print(Config.ISSUER)"
    env = {**os.environ, "ISSUER": "https://tenant.example.com/"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "https://tenant.example.com/"


def test_test_config_overrides(app):
    """A test's settings win over the defaults."""
    assert app.testing
    assert app.config["ISSUER"] == "http://as.test:9000"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("client_app.sqlite")


def test_unknown_auth_method_is_refused(settings):
    """A typo in TOKEN_ENDPOINT_AUTH_METHOD stops the app at start, not at the first login."""
    with pytest.raises(ValueError, match="TOKEN_ENDPOINT_AUTH_METHOD"):
        create_app({**settings, "TOKEN_ENDPOINT_AUTH_METHOD": "private_key_jwt"})


def test_healthz(client):
    """/healthz answers without calling the AS (no HTTP mock is active here)."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_home_page(client, expect_page):
    """The home page says which party it is and offers a Log in form with a CSRF token."""
    page = expect_page(client.get("/"), 200, "Log in", 'action="/login"')
    assert 'name="csrf_token"' in page


@pytest.mark.parametrize(("method", "path", "status", "text"), [
    ("GET", "/nowhere", 404, "Not Found"),
    ("GET", "/login", 405, "Method Not Allowed"),
    ("DELETE", "/notes", 405, "Method Not Allowed"),
])
def test_http_errors_are_pages(client, expect_page, method, path, status, text):
    """404 and 405 are readable client pages."""
    expect_page(client.open(path, method=method), status, text)


def test_unexpected_error_is_a_calm_page(settings, expect_page):
    """A bug becomes a 500 page, never a traceback."""
    app = create_app({**settings, "TESTING": False})

    @app.get("/boom")
    def boom():
        """Fail on purpose."""
        raise RuntimeError("boom")

    expect_page(app.test_client().get("/boom"), 500, "Internal error")


@pytest.mark.parametrize("path", ["/login", "/notes", "/logout", "/lab/run-all", "/inspector/step-mode"])
def test_a_large_body_is_refused_before_it_is_read(flow, expect_page, path):
    """Over MAX_CONTENT_LENGTH (64 KiB, as at the AS): a readable 413 page, nothing pushed."""
    limit = flow.app.config["MAX_CONTENT_LENGTH"]
    assert limit == 64 * 1024
    body = {"csrf_token": flow.csrf_token(), "text": "x" * limit}
    expect_page(flow.client.post(path, data=body), 413, "Request Entity Too Large")
    assert flow.auth_server.pushes == []


def test_a_body_under_the_limit_is_read(flow):
    """Just under the limit, the form is read as usual (here: a login starts)."""
    padding = flow.app.config["MAX_CONTENT_LENGTH"] // 2
    response = flow.client.post("/login", data={"csrf_token": flow.csrf_token(), "padding": "x" * padding})
    assert response.status_code == 303
    assert len(flow.auth_server.pushes) == 1


def test_gunicorn_keeps_its_default_timeout():
    """No request holds a worker long (the lab's longest wait is 3 s): gunicorn's default 30 s will do."""
    conf = runpy.run_path(str(Path(create_app.__code__.co_filename).parent / "gunicorn.conf.py"))
    assert conf.get("timeout", 30) <= 30


@pytest.mark.parametrize("path", ["/", "/inspector", "/nowhere"])
def test_an_untrusted_host_gets_a_readable_400(settings, expect_page, path):
    """With TRUSTED_HOSTS set, another Host (DNS rebinding) gets a 400 page, never a 500."""
    app = create_app({**settings, "TESTING": False, "TRUSTED_HOSTS": ["localhost"]})
    client = app.test_client()
    expect_page(client.get(path, headers={"Host": "attacker.example"}), 400, "does not answer to that host")
    assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 200

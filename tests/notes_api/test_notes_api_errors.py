"""errors.py: HTTP errors as OAuth JSON under /api and as readable pages elsewhere."""

import logging

import pytest
from flask import Blueprint

from notes_api.config import Config

PARTY = "Notes API — the resource server"


@pytest.mark.parametrize(("method", "path", "status", "says"), [
    ("GET", "/api/nothing-here", 404, "not found"),
    ("GET", "/api/notes/1", 404, "not found"),
    ("DELETE", "/api/notes", 405, "not allowed"),
    ("PUT", "/api", 405, "not allowed"),
])
def test_api_4xx_is_invalid_request_json(client, method, path, status, says):
    """Under /api any 4xx is JSON invalid_request, its description saying what went wrong."""
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "invalid_request"
    assert says in body["error_description"]


@pytest.mark.parametrize(("method", "path", "status", "says"), [
    ("GET", "/nothing-here", 404, "not found"),
    ("GET", "/apinotes", 404, "not found"),  # not under /api/
    ("POST", "/", 405, "not allowed"),
    ("DELETE", "/healthz", 405, "not allowed"),
])
def test_page_4xx_is_a_readable_page(client, method, path, status, says):
    """Outside /api a 4xx is an HTML page, labelled with the party, naming the error."""
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert PARTY in page
    assert f"<title>Error {status} " in page
    assert "<code>invalid_request</code>" in page
    assert says in page


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/api/notes", {"GET", "POST"}),
    ("POST", "/api", {"GET"}),
    ("POST", "/", {"GET"}),
    ("PUT", "/healthz", {"GET"}),
])
def test_405_keeps_its_allow_header(client, method, path, allowed):
    """RFC 9110 §15.5.6: a 405 lists the methods the resource supports, JSON or page."""
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert allowed <= set(response.headers["Allow"].split(", "))
    assert method not in response.headers["Allow"].split(", ")


@pytest.mark.parametrize("kind", ["json", "data"])
def test_too_large_body_is_413(api, make_token, kind):
    """A body over MAX_CONTENT_LENGTH keeps its 413 status, as invalid_request, and stores nothing."""
    token = make_token(sub="bob")
    text = "x" * (Config.MAX_CONTENT_LENGTH + 1)
    response = api.add_note(token, **{kind: {"text": text}})
    assert response.status_code == 413
    body = response.get_json()
    assert body["error"] == "invalid_request"
    assert "exceeds the capacity limit" in body["error_description"]
    assert len(api.list_notes(token).get_json()["notes"]) == len(Config.SEED_NOTES["bob"])


@pytest.mark.parametrize(("path", "mimetype"), [
    ("/api/boom", "application/json"),
    ("/boom", "text/html"),
])
def test_unexpected_error_is_server_error(make_app, caplog, path, mimetype):
    """A bug gives a plain 500 server_error; the traceback stays in the server log."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    broken = Blueprint("broken", __name__)

    @broken.get(path)
    def boom():
        """A view with a bug."""
        raise RuntimeError("secret internals")

    app.register_blueprint(broken)
    caplog.set_level(logging.ERROR, logger="notes_api")

    response = app.test_client().get(path)

    assert response.status_code == 500
    assert response.mimetype == mimetype
    text = response.get_data(as_text=True)
    if mimetype == "application/json":
        assert response.get_json()["error"] == "server_error"
        assert "internal error" in response.get_json()["error_description"]
    else:
        assert "<code>server_error</code>" in text
        assert PARTY in text
    assert "secret internals" not in text
    assert "Traceback" not in text
    logged = [record for record in caplog.records if record.exc_info]
    assert [str(record.exc_info[1]) for record in logged] == ["secret internals"]

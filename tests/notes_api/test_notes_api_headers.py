"""Every response of the notes API carries the security headers; its pages need nothing inline."""

import re

import pytest
from flask import Blueprint

from tests.policies import INLINE
from tests.policies import assert_secured

@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/", 200),
    ("GET", "/healthz", 200),
    ("GET", "/api/notes", 401),   # bearer.py's RFC 6750 answer
    ("GET", "/nowhere", 404),     # an error page
    ("GET", "/api/nowhere", 404),  # an error in JSON
    ("DELETE", "/", 405),
])
def test_every_response_is_secured(client, method, path, status):
    """The info page, JSON, and error pages alike."""
    response = client.open(path, method=method)
    assert response.status_code == status
    assert_secured(response)
    if response.mimetype == "text/html":
        assert not INLINE.search(response.get_data(as_text=True))


def test_the_413_and_500_answers_are_secured(make_app, api, make_token):
    """A body too large, and a bug."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    broken = Blueprint("broken", __name__)

    @broken.get("/boom")
    def boom():
        """A view with a bug."""
        raise RuntimeError("boom")

    app.register_blueprint(broken)
    assert_secured(app.test_client().get("/boom"))
    too_large = api.add_note(make_token(sub="bob"), data={"text": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    assert too_large.status_code == 413
    assert_secured(too_large)


def test_the_stylesheet_is_served_from_here(client):
    """The pages' styles are a file of this service ('self'), the party colour in it."""
    page = client.get("/").get_data(as_text=True)
    [sheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
    with client.get(sheet) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        assert "#1e7d4f" in response.get_data(as_text=True)
        assert_secured(response)

"""Every response of the client carries the security headers, and its pages need nothing inline.

The Content-Security-Policy allows stylesheets from this client only, and no script
at all: a page with an inline <style>, a style="" attribute or a <script> would break
under it, so none has one.
"""

import re

import pytest

from client_app import create_app

from tests.policies import INLINE
from tests.policies import assert_secured

@pytest.fixture
def logged_in(flow, flow_trace, notes_api):
    """A whole login and one visit to the notes page; returns the flow helper."""
    flow.complete()
    flow.client.get("/notes")
    return flow


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/", 200),
    ("GET", "/notes", 200),
    ("GET", "/inspector", 200),
    ("GET", "/inspector?reveal=all", 200),
    ("GET", "/inspector/export.json", 200),
    ("GET", "/inspector/export.mmd", 200),
    ("GET", "/lab", 200),
    ("GET", "/healthz", 200),
    ("GET", "/nowhere", 404),
    ("GET", "/login", 405),
    ("POST", "/login", 400),  # no CSRF token
    ("GET", "/callback?state=forged", 400),  # a PageError
])
def test_every_response_is_secured(logged_in, method, path, status):
    """Pages, downloads, JSON and every kind of error page alike."""
    response = logged_in.client.open(path, method=method)
    assert response.status_code == status
    assert_secured(response)
    if response.mimetype == "text/html":
        assert not INLINE.search(response.get_data(as_text=True))


def test_lab_results_are_secured(flow, expect_page):
    """The page the lab answers a run with (against the fake peers)."""
    page = flow.client.get("/lab").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = flow.client.post("/lab/run/alg-none", data={"csrf_token": token})
    expect_page(response, 200, "Results: ")
    assert_secured(response)
    assert not INLINE.search(response.get_data(as_text=True))


def test_the_413_and_500_pages_are_secured(settings):
    """The pages Flask makes for a body too large, and for a bug."""
    app = create_app({**settings, "TESTING": False})

    @app.get("/boom")
    def boom():
        """Fail on purpose."""
        raise RuntimeError("boom")

    client = app.test_client()
    for response, status in ((client.get("/boom"), 500),
                             (client.post("/login", data={"x": "y" * (app.config["MAX_CONTENT_LENGTH"] + 1)}), 413)):
        assert response.status_code == status
        assert_secured(response)


def test_the_stylesheets_are_served_from_here(logged_in):
    """Each page's styles are files of this client ('self'), served as CSS with the headers too."""
    sheets = set()
    for path in ("/", "/notes", "/inspector", "/lab", "/nowhere"):
        page = logged_in.client.get(path).get_data(as_text=True)
        found = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
        assert found, path
        sheets.update(found)
    assert len(sheets) >= 3  # the shared one, the inspector's and the lab's
    for sheet in sheets:
        assert sheet.startswith("/static/")
        with logged_in.client.get(sheet) as response:
            assert response.status_code == 200
            assert response.mimetype == "text/css"
            assert_secured(response)

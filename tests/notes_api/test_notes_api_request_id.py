"""request_id.py: an id for every request, in its log lines and its X-Request-Id header."""

import logging

import pytest
from flask import Blueprint
from flask import g

from notes_api.bearer import require_token


@pytest.mark.parametrize(("sent", "echoed"), [
    ("flow-1234.abc_DEF", "flow-1234.abc_DEF"),  # a safe id is reused, e.g. the client's flow id
    ("has spaces; and more", None),  # anything else is replaced by a fresh one
    ("x" * 65, None),
    (None, None),
])
def test_request_id_is_echoed(client, sent, echoed):
    """Every response carries X-Request-Id, matching our log lines for that request."""
    headers = {} if sent is None else {"X-Request-Id": sent}
    response = client.get("/healthz", headers=headers)
    request_id = response.headers["X-Request-Id"]
    if echoed is not None:
        assert request_id == echoed
    else:
        assert len(request_id) == 8 and request_id != sent


@pytest.mark.parametrize("path", ["/api/nothing-here", "/nothing-here", "/api/notes"])
def test_error_responses_carry_the_request_id(client, path):
    """404 pages and JSON, and bearer errors, carry the caller's request id too."""
    response = client.get(path, headers={"X-Request-Id": "flow-7"})
    assert response.status_code in (401, 404)
    assert response.headers["X-Request-Id"] == "flow-7"


def test_any_blueprint_gets_a_request_id(make_app, make_token, caplog):
    """The id is set by the app, not by routes.py: a protected view elsewhere logs it too."""
    app = make_app()
    extra = Blueprint("extra", __name__)

    @extra.get("/api/whoami")
    @require_token("read:notes")
    def whoami():
        """The caller's sub and this request's id."""
        return {"sub": g.token["sub"], "request_id": g.request_id}

    app.register_blueprint(extra)
    caplog.set_level(logging.DEBUG, logger="notes_api")  # the check's own line is at DEBUG
    client = app.test_client()

    good = client.get("/api/whoami", headers={"Authorization": "Bearer " + make_token(sub="bob"),
                                             "X-Request-Id": "flow-1"})
    refused = client.get("/api/whoami", headers={"Authorization": "Bearer not-a-jwt",
                                                "X-Request-Id": "flow-2"})

    assert good.status_code == 200
    assert good.get_json() == {"sub": "bob", "request_id": "flow-1"}
    assert refused.status_code == 401
    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("[flow-1] token ok sub=bob") for message in messages)
    assert any(message.startswith("[flow-2] 401 invalid_token") for message in messages)

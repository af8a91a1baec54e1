"""export.py and its downloads: the run as JSON and as mermaid, secrets masked."""

import base64
import json
import re

import pytest

from client_app.inspector import export
from client_app.flow import STEPS

# Every secret the fake flow produces, whole.
SECRETS = ["notes-web-secret", "the-code", "access-token-1", "refresh-token-1",
           base64.b64encode(b"notes-web:notes-web-secret").decode()]


def row_secrets(flow):
    """The secrets kept in the flow's LoginSession row (verifier is gone after step 10)."""
    row = flow.row()
    return [row.id_token, row.id_token[-20:]]


def test_json_download(finished):
    """A file download, never cached, with the twelve steps in order."""
    response = finished.client.get("/inspector/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="par-flow-{finished.row().flow_id}.json"'
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    # The profile is recorded with the flow (the par profile, as notes-web: the conftest's default).
    assert (data["profile"], data["client_id"]) == (finished.row().profile, "notes-web")
    assert [(s["number"], s["label"], s["channel"]) for s in data["steps"]] == [
        (s.number, s.label, s.channel) for s in STEPS]
    assert data["steps"][2]["message"]["status"] == 201
    # A request_uri is a secret: its URN prefix shows, its reference does not.
    assert data["steps"][3]["values"]["request_uri"] == "urn:ietf:params:oauth:request_uri:…"
    assert data["steps"][6]["values"]["code"] == "…"
    assert data["step_9_checks"]["status"] == 200
    assert data["tokens"]["id_token"]["claims"]["sub"] == "alice"
    assert data["tokens"]["id_token"]["signature"]["outcome"] == "passed"


@pytest.mark.parametrize("path", ["/inspector/export.json", "/inspector/export.mmd"])
def test_no_secret_in_an_export(finished, path):
    """Tokens, code, client secret and Basic credentials appear masked only."""
    text = finished.client.get(path).get_data(as_text=True)
    for secret in SECRETS + row_secrets(finished):
        assert secret not in text


def test_mermaid_download(finished):
    """The seed's diagram with the real values: twelve numbered arrows, notes under them."""
    response = finished.client.get("/inspector/export.mmd")
    assert response.headers["Content-Disposition"].endswith('.mmd"')
    text = response.get_data(as_text=True)
    lines = text.splitlines()
    assert lines[2:4] == ["sequenceDiagram", "    autonumber"]
    arrows = [line for line in lines if re.match(r"    \w+-?->>\w+: ", line)]
    assert [a.split(": ", 1)[1] for a in arrows] == [s.label for s in STEPS]
    # The browser's steps are dotted arrows, as in the inspector.
    assert [("-->>" in a) for a in arrows] == [s.channel == "front" for s in STEPS]
    assert "request_uri: urn:ietf:params:oauth:request_uri:…" in text
    assert "passed: pkce_verified" in text
    assert "client authentication: client_secret_basic" in text


def test_an_empty_export(client):
    """No flow yet: still a valid export, every step pending."""
    response = client.get("/inspector/export.json")
    assert response.headers["Content-Disposition"] == 'attachment; filename="par-flow-empty.json"'
    data = json.loads(response.get_data(as_text=True))
    assert {s["state"] for s in data["steps"]} == {"pending"}
    assert all(s["message"] is None for s in data["steps"])
    assert "sequenceDiagram" in client.get("/inspector/export.mmd").get_data(as_text=True)


@pytest.mark.parametrize(("text", "safe"), [
    ("a;b", "a#59;b"),
    ("#1", "#35;1"),
    ("<b>", "#lt;b#gt;"),
    ("two\nlines", "two lines"),
    ("x" * 200, "x" * 119 + "…"),
])
def test_mermaid_text_is_escaped(text, safe):
    """Characters mermaid reads as syntax become its entity codes."""
    assert export._text(text) == safe

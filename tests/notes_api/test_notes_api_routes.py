"""routes.py: the notes endpoints, the info page and the health check."""

import logging

import pytest

from notes_api.config import Config


def test_alice_sees_her_seeded_notes(api, make_token):
    """GET /api/notes -> 200 {"notes": [{"id", "text", "created_at"}, ...]}, oldest first."""
    response = api.list_notes(make_token(sub="alice"))
    assert response.status_code == 200
    notes = response.get_json()["notes"]
    assert [note["text"] for note in notes] == Config.SEED_NOTES["alice"]
    for note in notes:
        assert set(note) == {"id", "text", "created_at"}
        assert note["created_at"].endswith("+00:00")


def test_seed_path_api_lists_the_same_notes(client, make_token):
    """GET /api (the seed's own call, host swapped) answers like GET /api/notes."""
    headers = {"Authorization": "Bearer " + make_token(sub="alice")}
    response = client.get("/api", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == client.get("/api/notes", headers=headers).get_json()


def test_a_stranger_has_no_notes(api, make_token):
    """A subject we have never seen simply has an empty list."""
    response = api.list_notes(make_token(sub="carol"))
    assert response.status_code == 200
    assert response.get_json() == {"notes": []}


def test_notes_are_isolated_per_subject(api, make_token):
    """Bob never sees Alice's notes, old or new: the token's sub decides."""
    alice, bob = make_token(sub="alice"), make_token(sub="bob")
    assert api.add_note(alice, json={"text": "Alice's secret"}).status_code == 201

    bob_texts = [note["text"] for note in api.list_notes(bob).get_json()["notes"]]
    assert bob_texts == Config.SEED_NOTES["bob"]
    alice_texts = [note["text"] for note in api.list_notes(alice).get_json()["notes"]]
    assert alice_texts == Config.SEED_NOTES["alice"] + ["Alice's secret"]


def test_each_request_logs_one_line_naming_the_caller(client, make_token, caplog):
    """At INFO a protected request writes one line: what was done or refused, for whom, by which client and token."""
    caplog.set_level(logging.INFO, logger="notes_api")
    token = make_token(sub="bob", client_id="notes-cli", jti="jti-42")
    headers = {"Authorization": "Bearer " + token, "X-Request-Id": "req-1"}
    assert client.get("/api/notes", headers={"Authorization": "Bearer " + make_token()}).status_code == 200
    caplog.clear()  # the issuer's keys are fetched once: a process's lines, not a request's
    assert client.get("/api/notes", headers=headers).status_code == 200
    assert client.post("/api/notes", headers=headers, json={"text": "logged"}).status_code == 201
    assert client.post("/api/notes", headers=headers, json={"text": " "}).status_code == 400
    lines = [record.getMessage() for record in caplog.records if record.name == "notes_api"]
    listed = f"[req-1] listed {len(Config.SEED_NOTES['bob'])} notes for sub=bob client_id=notes-cli jti=jti-42"
    assert lines[0] == listed
    assert lines[1].startswith("[req-1] note ") and lines[1].endswith(" created for sub=bob client_id=notes-cli jti=jti-42")
    assert lines[2].startswith("[req-1] note refused for sub=bob client_id=notes-cli jti=jti-42: ")
    assert len(lines) == 3
    assert all(token not in line for line in lines)


def test_add_note_from_json(api, make_token):
    """POST /api/notes with JSON -> 201 and the note; it then shows up in the list."""
    token = make_token(sub="bob")
    response = api.add_note(token, json={"text": "  Fix the bike  "})
    assert response.status_code == 201
    note = response.get_json()
    assert set(note) == {"id", "text", "created_at"}
    assert note["text"] == "Fix the bike"  # surrounding blanks are trimmed
    assert note in api.list_notes(token).get_json()["notes"]


def test_add_note_from_form(api, make_token):
    """A form field named text works too."""
    response = api.add_note(make_token(), data={"text": "From a form"})
    assert response.status_code == 201
    assert response.get_json()["text"] == "From a form"


def test_longest_note_is_accepted(api, make_token):
    """Exactly NOTE_MAX_LENGTH characters is still fine."""
    response = api.add_note(make_token(), json={"text": "x" * 500})
    assert response.status_code == 201
    assert len(response.get_json()["text"]) == 500


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "Send JSON"),
    ({"json": {}}, "Send JSON"),
    ({"json": {"note": "wrong field"}}, "Send JSON"),
    ({"json": {"text": None}}, "Send JSON"),
    ({"json": ["a list"]}, "Send JSON"),
    ({"data": "{not json", "content_type": "application/json"}, "Send JSON"),
    ({"json": {"text": 42}}, "must be a string"),
    ({"json": {"text": ["a"]}}, "must be a string"),
    ({"json": {"text": ""}}, "1 to 500 characters"),
    ({"json": {"text": "   "}}, "1 to 500 characters"),
    ({"json": {"text": "x" * 501}}, "1 to 500 characters"),
    ({"data": {"text": ""}}, "1 to 500 characters"),
    # RFC 8259 §8.2: JSON can escape half a UTF-16 pair; alone it is no character.
    ({"data": '{"text": "\\ud800"}', "content_type": "application/json"}, "lone surrogate"),
    ({"data": '{"text": "Fix the bike \\udfff"}', "content_type": "application/json"}, "lone surrogate"),
    ({"data": '{"text": "\\ude00\\ud83d"}', "content_type": "application/json"}, "lone surrogate"),
    # RFC 8259 §9: a parser may limit nesting; deeper than Python's recursion limit is refused.
    ({"data": '{"text": ' + "[" * 5000 + "]" * 5000 + "}", "content_type": "application/json"}, "Send JSON"),
    ({"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, "Send JSON"),
])
def test_add_note_validation(api, make_token, kwargs, message):
    """A bad body -> 400 {"error": "invalid_request", "error_description": ...}, nothing stored."""
    token = make_token(sub="bob")
    response = api.add_note(token, **kwargs)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_request"
    assert message in body["error_description"]
    assert len(api.list_notes(token).get_json()["notes"]) == len(Config.SEED_NOTES["bob"])


def test_escaped_surrogate_pair_is_one_character(api, make_token):
    """A high and a low surrogate escape together are one character (RFC 8259 §7): accepted."""
    response = api.add_note(make_token(), data='{"text": "Smile \\ud83d\\ude00"}', content_type="application/json")
    assert response.status_code == 201
    assert response.get_json()["text"] == "Smile \N{GRINNING FACE}"


def test_token_is_checked_before_the_body(api, assert_bearer_error):
    """With a bad token the body is never looked at: 401 first."""
    response = api.add_note("garbage", json={"text": 42})
    assert_bearer_error(response, 401, "invalid_token")


def test_index_page(client):
    """GET / says which party this is, in its colour, and lists the endpoints."""
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert "Notes API — the resource server" in page
    assert "#1e7d4f" in page
    for text in ("GET /api/notes", "POST /api/notes", "GET /healthz", "read:notes", "write:notes",
                 "http://localhost:9000", "urn:my-notes-api"):
        assert text in page


def test_healthz(client, auth_server):
    """GET /healthz -> {"status": "ok"}, without asking the authorization server anything."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert len(auth_server.mock.calls) == 0

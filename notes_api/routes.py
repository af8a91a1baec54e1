"""The notes API's endpoints: the protected notes, an info page, a health check.

Each protected view writes one log line for what it did, naming the caller: the
token's sub, the client it was issued to, and its jti (never the token itself).
"""

import logging

from flask import Blueprint
from flask import current_app
from flask import g
from flask import render_template
from flask import request

from .bearer import require_token
from .models import Note
from .models import db
from .models import notes_of

log = logging.getLogger("notes_api")

bp = Blueprint("notes", __name__)


@bp.get("/")
def index():
    """A page saying which party this is and what it offers."""
    return render_template("index.html")


@bp.get("/healthz")
def healthz():
    """Liveness for docker's healthcheck: no token, no authorization server needed."""
    return {"status": "ok"}


@bp.get("/api")  # the seed's own call: GET https://myapi.com/api
@bp.get("/api/notes")
@require_token("read:notes")
def list_notes():
    """The caller's own notes: the token's `sub` says whose (scope read:notes)."""
    notes = notes_of(g.token["sub"])
    log.info("[%s] listed %d notes for %s", g.request_id, len(notes), caller())
    return {"notes": notes}


@bp.post("/api/notes")
@require_token("write:notes")
def create_note():
    """Add a note for the caller, from JSON {"text": ...} or a form field (scope write:notes)."""
    text = submitted_text()
    limit = current_app.config["NOTE_MAX_LENGTH"]
    error = None
    if text is None:
        error = 'Send JSON {"text": "..."} or a form field named text.'
    elif not isinstance(text, str):
        error = "The text must be a string."
    elif has_lone_surrogate(text):
        error = ("The text holds a lone surrogate (an escape from \\ud800 to \\udfff without its pair), "
                 "which is not a character.")
    elif not 1 <= len(text.strip()) <= limit:
        error = f"The text must be 1 to {limit} characters long."

    if error is not None:
        log.info("[%s] note refused for %s: %s", g.request_id, caller(), error)
        return {"error": "invalid_request", "error_description": error}, 400

    note = Note(owner_sub=g.token["sub"], text=text.strip())
    db.session.add(note)
    db.session.commit()
    log.info("[%s] note %d created for %s", g.request_id, note.id, caller())
    return note.to_json(), 201


def caller():
    """Who is calling, for the log: the token's sub, its client and its jti (never the token)."""
    return f"sub={g.token['sub']} client_id={g.token.get('client_id')} jti={g.token.get('jti')}"


def submitted_text():
    """The `text` the caller sent, from a JSON object or a form; None if there is none."""
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            # RFC 8259 §9 lets a parser limit nesting: ours stops at Python's recursion limit.
            body = None
        return body.get("text") if isinstance(body, dict) else None
    return request.form.get("text")


def has_lone_surrogate(text):
    """True if the text holds half a UTF-16 pair, which JSON can escape but UTF-8 cannot store."""
    # RFC 8259 §8.2: "\ud800" alone is valid JSON but no character. The json module
    # joins real pairs into one character, so any surrogate left over is alone.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

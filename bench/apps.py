"""The benchmark's reference points, served by gunicorn with the services' own settings.

- trivial_app: the floor, a Flask endpoint that does nothing.
- unprotected_notes_app: notes_api with one more route, the same notes view without
  token validation, so the cost of validating a token can be measured beside it.
"""

from flask import Flask
from flask import g


def trivial_app():
    """A Flask app whose one endpoint returns a constant."""
    app = Flask("trivial")

    @app.get("/ping")
    def ping():
        """Nothing at all."""
        return {"ok": True}

    return app


def unprotected_notes_app():
    """notes_api plus GET /bench/notes: the notes view with the token check skipped."""
    from notes_api import create_app
    from notes_api.routes import list_notes

    app = create_app()

    @app.get("/bench/notes")
    def unprotected_notes():
        """alice's notes, as GET /api/notes gives them, minus the bearer check."""
        g.token = {"sub": "alice"}
        return list_notes.__wrapped__()

    return app

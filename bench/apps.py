"""The benchmark's reference points, served by gunicorn with the services' own settings.

- trivial_app: the floor, a Flask endpoint that does nothing.
- unprotected_notes_app: notes_api with one more route, the same notes view without
  token validation, so the cost of validating a token can be measured beside it.
- floor_client_app, floor_auth_server, floor_notes_api: the full flow's twelve
  requests (nine through the browser, three service to service) answered by views that
  do nothing, so the flow's latency can be set beside the cost of its round trips alone.
"""

import os

import requests
from flask import Flask
from flask import g
from flask import redirect
from flask import request


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


# What the benchmark's browser reads on every page with a form: a CSRF field.
FLOOR_FORM = '<form method="post"><input type="hidden" name="csrf_token" value="floor"></form>'


def floor_client_app():
    """The client's four pages, each as its real view sends or calls, with nothing done in between."""
    app = Flask("floor_client")
    back_channel = requests.Session()
    back_channel.trust_env = False  # as client_app's back channel (oauth_client.http_session)
    auth_server, notes_api = os.environ["FLOOR_AUTH_SERVER"], os.environ["FLOOR_NOTES_API"]

    @app.get("/")
    def home():
        """Step 1's page."""
        return FLOOR_FORM

    @app.post("/login")
    def login():
        """Steps 2-4: one push, then the browser to /authorize."""
        back_channel.post(auth_server + "/par", data=request.form)
        return redirect(auth_server + "/authorize?request_uri=floor", code=303)

    @app.get("/callback")
    def callback():
        """Steps 8-10: one token request, then the notes page."""
        back_channel.post(auth_server + "/token", data={"code": request.args.get("code", "")})
        return redirect("/notes", code=303)

    @app.get("/notes")
    def notes():
        """Steps 11-12: one API call."""
        return back_channel.get(notes_api + "/api/notes").text

    return app


def floor_auth_server():
    """The authorization server's requests of one flow, each answered at once."""
    app = Flask("floor_auth_server")
    client = os.environ["FLOOR_CLIENT_APP"]

    @app.post("/par")
    def par():
        return {"request_uri": "urn:ietf:params:oauth:request_uri:floor", "expires_in": 30}, 201

    @app.get("/authorize")
    def authorize():
        return redirect("/login", code=303)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        return FLOOR_FORM if request.method == "GET" else redirect("/consent", code=303)

    @app.route("/consent", methods=["GET", "POST"])
    def consent():
        return FLOOR_FORM if request.method == "GET" else redirect(client + "/callback?code=floor", code=303)

    @app.post("/token")
    def token():
        return {"access_token": "floor", "token_type": "Bearer", "expires_in": 60}

    return app


def floor_notes_api():
    """The notes API's one call, answered at once."""
    app = Flask("floor_notes_api")

    @app.get("/api/notes")
    def notes():
        return {"notes": [{"text": "Alice's first note"}]}

    return app

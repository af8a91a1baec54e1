"""The notes client's pages. Views are thin: the protocol lives in oauth_client.py
and notes_client.py, and failures become pages in errors.py.

  auth   /  /login (steps 1-4)  /callback (steps 7-10)  /logout  /healthz
  notes  /notes (steps 11-12, GET to read, POST to add)
Every response, pages and errors alike, carries the security headers (security_headers).
"""

import logging

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from . import flow
from . import notes_client
from . import oauth_client
from . import stepmode
from .errors import PageError
from .models import admit_login
from .models import browser_id
from .models import current_login
from .models import db
from .models import forget_login
from .models import remember_login

log = logging.getLogger("client_app")

auth = Blueprint("auth", __name__)
notes = Blueprint("notes", __name__)


@auth.before_request
@notes.before_request
def keep_what_was_loaded():
    """Keep this browser's LoginSession across the step's own commits, rather than read it again.

    A login step commits as it goes (the push's row, the spent state, the tokens);
    each commit would otherwise expire the row this request loaded. Nothing else
    writes it meanwhile. The session is this request's only.
    """
    db.session().expire_on_commit = False


# The longest note this client sends (the Notes API is the final judge).
MAX_NOTE_LENGTH = 500


@auth.get("/")
def home():
    """The home page: which party this is, the profiles to log in with, and a Log in button."""
    login = current_login()
    return render_template("home.html", login=login if login and login.logged_in else None,
                           profiles=oauth_client.offered_profiles(), chosen=current_app.config["PROFILE"])


class UnknownProfile(PageError):
    """The login form named a profile this client does not offer."""

    status = 400
    title = "Unknown profile"
    offer_login = True


class TooManyLogins(PageError):
    """This browser, or its address, started too many logins lately (RFC 6585 §4)."""

    status = 429
    title = "Too many logins started"

    def __init__(self, wait):
        super().__init__(f"This browser, or your network address, has started many logins in the "
                         f"last moments. Wait {wait} seconds, then log in again.")
        self.retry_after = wait


@auth.post("/login")
def login():
    """Steps 1-4: push the authorization request, then send the browser to the AS."""
    log.info("step 1 login requested")
    # Each login pushes at the AS, whose rate limit is per client: bound how many one
    # browser and one address may start. The address is the connection's: behind a
    # reverse proxy, set up werkzeug's ProxyFix first (X-Forwarded-For is anyone's to write).
    config = current_app.config
    wait = admit_login(browser_id(), request.remote_addr or "", config["LOGINS_PER_BROWSER"],
                       config["LOGINS_PER_ADDRESS"], config["LOGIN_RATE_WINDOW"])
    if wait:
        log.warning("step 1 refused: too many logins started address=%s", request.remote_addr)
        raise TooManyLogins(wait)
    offered = {profile.name: profile for profile in oauth_client.offered_profiles()}
    profile = offered.get(request.form.get("profile", config["PROFILE"]))
    if profile is None:
        raise UnknownProfile(f"Choose one of the profiles on the home page: {', '.join(offered)}.")
    # A new login replaces whatever this browser had before.
    forget_login()
    # Step-by-step mode (stepmode.py): save the login unpushed and wait before step 2
    # (classic pushes nothing: it waits first before step 8).
    paused = stepmode.enabled() and profile.pushes
    pending = oauth_client.start_login(profile, push=not paused)
    remember_login(pending)
    # Inspector: keep step 1 as received (flow.py).
    flow.record_received(pending, 1)
    if paused:
        stepmode.pause(pending, 2)
        return redirect(url_for("inspector.index", _anchor="step-2"), code=303)
    return send_to_authorization_server(pending)


def send_to_authorization_server(login):
    """Step 4: send the browser to the AS with the request_uri (kept for the inspector)."""
    # 303: the browser follows with a GET, whatever method brought it here.
    response = redirect(oauth_client.authorization_url(login), code=303)
    flow.record_sent(login, 4, response)
    return response


@auth.get("/callback")
def callback():
    """Steps 7-10: check the AS's answer, exchange the code, then show the notes."""
    login = current_login()
    # check_callback records step 7 for the inspector once the state has matched.
    code = oauth_client.check_callback(login, request.args)
    if stepmode.should_pause(login, 8):
        stepmode.pause(login, 8, code)
        return redirect(url_for("inspector.index", _anchor="step-8"), code=303)
    oauth_client.exchange_code(login, code)
    return redirect(url_for("notes.index"), code=303)


@auth.post("/logout")
def logout():
    """Forget this browser's login: delete its row and clear the cookie session."""
    forget_login()
    return redirect(url_for("auth.home"), code=303)


@auth.get("/healthz")
def healthz():
    """Liveness for docker healthchecks (touches nothing else)."""
    return {"status": "ok"}


@notes.get("/notes")
def index():
    """Steps 11-12: the user's profile, and their notes from the Notes API."""
    login = current_login()
    if login is None or not login.logged_in:
        return redirect(url_for("auth.home"), code=303)
    if stepmode.should_pause(login, 11):
        stepmode.pause(login, 11)
        return redirect(url_for("inspector.index", _anchor="step-11"), code=303)
    items = notes_client.call_api(login, notes_client.list_notes)
    return render_template("notes.html", profile=login.claims or {}, notes=items,
                           max_length=MAX_NOTE_LENGTH)


@notes.post("/notes")
def add():
    """Add a note through the Notes API, then back to the list (post/redirect/get)."""
    login = current_login()
    if login is None or not login.logged_in:
        return redirect(url_for("auth.home"), code=303)
    text = request.form.get("text", "").strip()
    error = None
    if not text:
        error = "A note needs some text."
    elif len(text) > MAX_NOTE_LENGTH:
        error = f"A note can be at most {MAX_NOTE_LENGTH} characters."
    if error is None:
        notes_client.call_api(login, notes_client.add_note, text)
        flash("Note added.", "info")
    else:
        flash(error, "error")
    return redirect(url_for("notes.index"), code=303)


def security_headers(response):
    """Every response: no framing, no MIME sniffing, no Referer, nothing loaded from elsewhere."""
    # CSP: this client's own stylesheets (static/), no script at all, never in a frame
    # (clickjacking; X-Frame-Options says it to older browsers).
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    # RFC 9700 §4.2.4: a page reached from /callback must not leak its code in a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def profile_in_use():
    """For every page's header: the profile of this browser's login, or None."""
    login = current_login()
    # Never raises: the header shows what the login says, even a profile no longer offered.
    return {"profile_in_use": oauth_client.known_profile(login.profile) if login is not None else None}


def init_app(app):
    """Register the blueprints, the profile every page shows, and the security headers of every response."""
    app.register_blueprint(auth)
    app.register_blueprint(notes)
    app.context_processor(profile_in_use)
    app.after_request(security_headers)

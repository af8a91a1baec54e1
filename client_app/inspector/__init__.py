"""The flow inspector: the seed's diagram, and the real messages of this browser's flow.

  GET  /inspector                  the diagram and every step (?reveal=all shows secrets)
  POST /inspector/step-mode        switch step-by-step mode on or off for this browser
  POST /inspector/send/<step>      step-by-step mode: send the step the flow waits at
  GET  /inspector/export.json      the run as JSON (secrets masked)
  GET  /inspector/export.mmd       the run as a mermaid sequence diagram (secrets masked)
  GET  /inspector/compare          two of this browser's flows side by side (?a=...&b=...)
Views are thin: walkthrough.py gathers the flow, diagram.py draws it, export.py writes it,
compare.py keeps each ended flow's masked summary and sets two side by side.
"""

from flask import Blueprint
from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from .. import oauth_client
from .. import stepmode
from ..models import current_login
from ..models import db
from ..routes import send_to_authorization_server
from . import compare
from . import diagram
from . import export
from . import walkthrough

bp = Blueprint("inspector", __name__)


@bp.get("/inspector")
def index():
    """The diagram, lit up as far as this browser's flow has got, and each step's messages."""
    login = current_login()
    view = walkthrough.build(login, reveal=request.args.get("reveal") == "all")
    return render_template("inspector/inspector.html", view=view, svg=diagram.render(view["states"]))


@bp.post("/inspector/step-mode")
def step_mode():
    """Switch step-by-step mode for this browser, then back to the page the form was on."""
    on = request.form.get("on") == "1"
    flash(f"Step-by-step mode is {'on: the client will wait before steps 2, 8 and 11' if on else 'off'}.",
          "info")
    # Only our own two pages: never an open redirect.
    target = url_for("auth.home") if request.form.get("back") == "home" else url_for(".index")
    return stepmode.switch(redirect(target, code=303), on)


@bp.post("/inspector/send/<int:number>")
def send(number):
    """Step-by-step mode: do the step the flow is waiting at (2, 8 or 11), once."""
    login = current_login()
    released, code = stepmode.release(login, number)
    if not released:
        flash(f"Nothing was waiting to be sent at step {number}.", "error")
        return redirect(url_for(".index"), code=303)
    if number == 2:
        # Steps 2-3, then step 4: the browser goes on to the AS.
        oauth_client.push_authorization_request(login)
        db.session.commit()
        return send_to_authorization_server(login)
    if number == 8:
        # Steps 8-10; the notes page then waits before step 11.
        oauth_client.exchange_code(login, code)
    # Step 11 is the notes page's own API call, now let through.
    return redirect(url_for("notes.index"), code=303)


@bp.get("/inspector/export.json")
def export_json():
    """Download the run as JSON."""
    return _download(export.as_json_text, "json", "application/json")


@bp.get("/inspector/export.mmd")
def export_mermaid():
    """Download the run as a mermaid sequence diagram."""
    return _download(export.as_mermaid, "mmd", "text/plain")


@bp.get("/inspector/compare")
def compare_flows():
    """Pick two of this browser's flows (?a=, ?b=) and see them side by side, step by step."""
    flows = compare.recorded_flows(current_login())
    a, b = compare.pick(flows, request.args.get("a")), compare.pick(flows, request.args.get("b"))
    view = compare.comparison(a, b) if a and b else None
    return render_template("inspector/compare.html", flows=flows, view=view,
                           chosen={"a": a["key"] if a else None, "b": b["key"] if b else None})


def _download(write, extension, mimetype):
    """One export of this browser's flow, as a file download."""
    login = current_login()
    view = walkthrough.build(login)
    name = f"par-flow-{login.flow_id if login else 'empty'}.{extension}"
    return Response(write(view), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.after_request
def no_store(response):
    """The inspector shows (masked) tokens: never cache its pages or downloads."""
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app):
    """Register the inspector, and its switch for every page that shows it."""
    app.register_blueprint(bp)
    # A function, not a value: only pages that show the switch read the setting.
    app.jinja_env.globals["step_mode_on"] = stepmode.enabled

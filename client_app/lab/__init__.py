"""The attack lab page: every attack with the section that blocks it, run live on demand.

  GET  /lab               the catalogue, a Run button per attack, and Run all
  POST /lab/run-all       run every attack except the slow expiry one
  POST /lab/run/<slug>    run one attack (the expiry one waits expires_in + 1 seconds: 3 s)
  GET  /lab/matrix        the defence matrix: every attack below against each profile
  POST /lab/matrix        run it (matrix.py); the browser's last run is kept for:
  GET  /lab/matrix.md     its download as Markdown
  GET  /lab/matrix.json   its download as JSON

The attacks are in attacks.py and matrix.py; this module only runs and shows them.
Results go straight into the POST's response: only the browser that ran them sees
them, and only its last matrix is kept (masked), for its downloads. One run at a time
(lock.py): a run holds a client worker.
"""

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template

from ..config import PROFILE_TITLES
from ..models import browser_id
from . import attacks
from . import matrix
from .kit import BLOCKED
from .kit import LAB_PASSWORD
from .kit import LAB_TARGET
from .kit import LAB_USERNAME
from .kit import MAX_WAIT_SECONDS
from .kit import Target
from .lock import one_run_at_a_time

bp = Blueprint("lab", __name__)


@bp.get("/lab")
def index():
    """The list of attacks, each with its spec section and a Run button."""
    return render_lab()


@bp.post("/lab/run-all")
def run_all():
    """Run every attack but the slow one, live against the stack, and show the results."""
    with one_run_at_a_time():
        results = attacks.run_all(Target(current_app.config))
    return render_lab(results)


@bp.post("/lab/run/<slug>")
def run_one(slug):
    """Run one attack live and show its result."""
    attack = attacks.find(slug)
    if attack is None:
        abort(404, description=f"There is no attack called {slug!r} in the lab.")
    with one_run_at_a_time():
        result = attacks.run_attack(attack, Target(current_app.config))
    return render_lab([result])


@bp.get("/lab/matrix")
def matrix_page():
    """The defence matrix: what each attack must do against each profile, and a Run button."""
    return render_matrix(matrix.kept(browser_id()))


@bp.post("/lab/matrix")
def run_matrix():
    """Run every attack of the matrix against every profile, keep it for the downloads, show it."""
    with one_run_at_a_time():
        cells = matrix.run_matrix(Target(current_app.config), current_app.config, matrix.DEADLINE_SECONDS)
    matrix.keep(browser_id(), cells)
    return render_matrix(cells)


@bp.get("/lab/matrix.md")
def matrix_markdown():
    """This browser's last matrix as Markdown."""
    return _matrix_download(matrix.as_markdown, "md", "text/markdown")


@bp.get("/lab/matrix.json")
def matrix_json():
    """This browser's last matrix as JSON."""
    return _matrix_download(matrix.as_json, "json", "application/json")


def _matrix_download(write, extension, mimetype):
    """One download of the browser's last matrix (404 until it has run one)."""
    cells = matrix.kept(browser_id())
    if cells is None:
        abort(404, description="Run the defence matrix first: its downloads are of your last run (kept for a day).")
    return Response(write(cells), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="defence-matrix.{extension}"'})


def render_matrix(cells):
    """The matrix page, with these cells (if any) in it."""
    found = {(cell.attack, cell.profile): cell for cell in cells or []}
    off = [cell for cell in cells or [] if not cell.as_expected]
    return render_template("lab/matrix.html", rows=matrix.ROWS, profiles=matrix.PROFILE_NAMES,
                           titles=PROFILE_TITLES, cells=found, ran=cells is not None, off=off,
                           lab_user=(LAB_USERNAME, LAB_PASSWORD))


def render_lab(results=None):
    """The lab page, with these results (if any) above the catalogue."""
    numbers = {attack.slug: number for number, attack in enumerate(attacks.ATTACKS, start=1)}
    blocked = sum(result.verdict == BLOCKED for result in results or [])
    return render_template("lab/lab.html", attacks=attacks.ATTACKS, numbers=numbers,
                           results=results, blocked=blocked, lab_user=(LAB_USERNAME, LAB_PASSWORD),
                           lab_target=LAB_TARGET, expiry_wait=MAX_WAIT_SECONDS)


def init_app(app):
    """Register the lab's pages."""
    app.register_blueprint(bp)

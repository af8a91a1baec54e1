"""The attack lab page: every attack with the section that blocks it, run live on demand.

  GET  /lab               the catalogue, a Run button per attack, and Run all
  POST /lab/run-all       run every attack except the slow expiry one
  POST /lab/run/<slug>    run one attack (the expiry one waits expires_in + 1 seconds: 3 s)

The attacks are in attacks.py; this module only runs and shows them. Results go
straight into the POST's response and are stored nowhere: only the browser that ran
them sees them. One run at a time (lock.py): a run holds a client worker.
"""

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template

from . import attacks
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

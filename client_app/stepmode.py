"""Step-by-step mode: the client waits before each back-channel request it sends.

With the switch on, the flow stops before step 2 (the push), step 8 (the token
request) and step 11 (the API call), and the inspector shows a "Send step N" button,
so an instructor can explain a step before it happens. With it off (the default),
the flow runs straight through.

Both the switch and the pauses are rows in the database, since any gunicorn worker
may serve the next click: the switch belongs to the browser (its own random id in a
cookie of its own, so that logging in or out keeps it), a pause to the LoginSession.
"""

import logging
import secrets

from flask import current_app
from flask import request
from sqlalchemy import Boolean
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from . import flow
from .models import LoginSession
from .models import db
from .models import now

log = logging.getLogger("client_app")

# The browser's handle on its BrowserSetting row (random, like the session's).
COOKIE_NAME = "client_app_browser"
COOKIE_MAX_AGE = 30 * 86400


class BrowserSetting(db.Model):
    """One browser's inspector settings."""

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step_by_step: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[int] = mapped_column(Integer, default=now)


class Pause(db.Model):
    """A flow waiting before one of its steps; `released` once "Send" was clicked."""

    login_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Step 8 waits with the authorization code it will redeem (it lives 60 s at the AS).
    code: Mapped[str | None] = mapped_column(Text)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_at: Mapped[int] = mapped_column(Integer, default=now)


def _setting():
    """This browser's BrowserSetting row, or None."""
    browser_id = request.cookies.get(COOKIE_NAME)
    return db.session.get(BrowserSetting, browser_id) if browser_id else None


def enabled():
    """True if this browser has switched step-by-step mode on."""
    setting = _setting()
    return bool(setting and setting.step_by_step)


def switch(response, on):
    """Turn the mode on or off for this browser; sets its cookie on `response`."""
    setting = _setting()
    if setting is None:
        setting = BrowserSetting(id=secrets.token_urlsafe(32))
        db.session.add(setting)
    setting.step_by_step = on
    setting.updated_at = now()
    db.session.commit()
    response.set_cookie(COOKIE_NAME, setting.id, max_age=COOKIE_MAX_AGE, httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def should_pause(login, step):
    """True if the flow must wait before `step`: the mode is on, and the step is still to come."""
    if step not in flow.PAUSABLE_STEPS or not enabled():
        return False
    if step in flow.messages(login.id):
        return False
    # A released pause means "Send" was clicked: go ahead.
    existing = db.session.get(Pause, (login.id, step))
    return existing is None or not existing.released


def pause(login, step, code=None):
    """Make the flow wait before `step` (kept if it already waits there)."""
    if db.session.get(Pause, (login.id, step)) is None:
        db.session.add(Pause(login_id=login.id, step=step, code=code))
        db.session.commit()
        log.info("step-by-step: waiting before step %d flow=%s", step, login.flow_id)


def waiting(login):
    """The pause this flow waits at (not yet released), or None."""
    if login is None:
        return None
    return db.session.scalar(select(Pause).where(Pause.login_id == login.id, Pause.released.is_(False)))


def release(login, step):
    """Release the pause before `step` once: True, and the code it held (step 8), or (False, None).

    One UPDATE checks and releases, so a double click (or two workers) sends once;
    the code leaves the database as it is handed over.
    """
    if login is None:
        return False, None
    released = db.session.execute(
        update(Pause).where(Pause.login_id == login.id, Pause.step == step, Pause.released.is_(False))
        .values(released=True)
    ).rowcount
    db.session.commit()
    if released != 1:
        return False, None
    log.info("step-by-step: step %d sent flow=%s", step, login.flow_id)
    paused = db.session.get(Pause, (login.id, step))
    code, paused.code = paused.code, None
    db.session.commit()
    return True, code


@event.listens_for(LoginSession, "after_delete")
def _forget_with_login(mapper, connection, target):
    """A login's pauses (and the code one may hold) go with it."""
    connection.execute(delete(Pause).where(Pause.login_id == target.id))

"""One lab run at a time: a lock row in the client's database, with an expiry.

A run from the page holds one client worker until its results are ready, and its
attacks on the client itself need another one free. So while one run is in flight a
second is refused politely (503 with Retry-After) rather than tying up the workers.
The lock is a row, since any worker may serve the second click; it expires, so a run
whose worker was killed cannot block the lab for longer than LOCK_SECONDS.
"""

import logging
import secrets
from contextlib import contextmanager

from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..errors import PageError
from ..models import db
from ..models import now

log = logging.getLogger("client_app")

# The one lock's primary key: a second insert of it fails while the first row lives.
LOCK_ID = "lab"
# Longer than any run, and than gunicorn's 30 s timeout, after which a stuck worker is killed.
LOCK_SECONDS = 60


class LabRun(db.Model):
    """The lab run in flight, if any: who holds the lock, and until when at most."""

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(Integer)


class LabBusy(PageError):
    """Another lab run is in flight (RFC 9110 §15.6.4: 503, with Retry-After)."""

    status = 503
    title = "The attack lab is busy"

    def __init__(self, wait):
        super().__init__(f"Another run of the attack lab is in flight (each run holds one of this "
                         f"client's workers). Try again in {wait} seconds.")
        self.retry_after = wait


@contextmanager
def one_run_at_a_time():
    """Hold the lab's lock for the duration of a run, or raise LabBusy."""
    holder = secrets.token_urlsafe(16)
    # A lock whose run died with its worker no longer counts.
    db.session.execute(delete(LabRun).where(LabRun.expires_at < now()))
    db.session.add(LabRun(id=LOCK_ID, holder=holder, expires_at=now() + LOCK_SECONDS))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        held = db.session.get(LabRun, LOCK_ID)
        wait = max(1, held.expires_at - now()) if held is not None else 1
        log.info("attack lab: a run is already in flight; refused")
        raise LabBusy(wait) from None
    try:
        yield
    finally:
        # A clean session first (a failed run may have left it mid-transaction); then
        # only our own lock: if ours expired and another run took it, that one stays.
        db.session.rollback()
        db.session.execute(delete(LabRun).where(LabRun.id == LOCK_ID, LabRun.holder == holder))
        db.session.commit()

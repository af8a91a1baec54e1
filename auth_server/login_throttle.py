"""Password guessing, capped per username and per source address, across logins.

RFC 6749 §10.10: the server MUST stop attackers guessing resource owners' passwords.
A login in progress costs nothing to start again, so a count kept on it caps nothing:
the counts live here, one row per username and one per address, and outlive logins.
- A username with MAX_FAILED_LOGINS wrong passwords is locked for LOGIN_LOCK_SECONDS,
  from everywhere and even for the right password (else it would not be a lock).
- An address with MAX_FAILED_LOGINS_PER_ADDRESS wrong passwords (any usernames) is
  locked the same way: it slows one attacker trying many usernames, and locks no one else.
- A count is forgotten after LOGIN_FAILURE_WINDOW seconds without a failure; a lock
  always ends by itself; a sign-in clears its username's count.
- An unknown username costs one password check, as a known one does, so the time
  taken does not say which usernames exist: the dummy is hashed as real users are.
"""

import secrets

from flask import current_app
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import bindparam
from sqlalchemy import case
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from . import passwords
from .models import DIALECTS
from .models import User
from .models import db
from .models import now
from .models import sha256
from .models import this_database


class LoginThrottle(db.Model):
    """Recent wrong passwords for one username, or from one source address."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "username" or "address"
    # SHA-256 of the value: people type their password into the username box.
    key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int]
    last_failure_at: Mapped[int] = mapped_column(index=True)
    locked_until: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("kind", "key"),)


def wait_seconds(username, address):
    """Seconds before a password may be tried for this username from this address (0: now)."""
    locked_until = db.session.scalar(LOCKED_UNTIL, {"username_key": sha256(username), "address_key": sha256(address)})
    return max((locked_until or 0) - now(), 0)


def authenticate(username, password):
    """The user with this username and password, or None; one password check either way."""
    user = db.session.scalar(USER_NAMED, {"username": username})
    if user is None:
        dummy_user().check_password(password)
        return None
    if not user.check_password(password):
        return None
    # The password is right: if its hash is of an older scheme or cost (werkzeug's
    # scrypt, before Argon2id), store it again the current way. Users move over as they sign in.
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if passwords.needs_rehash(user.password_hash, method):
        user.set_password(password, method)
        db.session.commit()
        current_app.logger.info("step 5 password of user %s hashed again with %s", user.sub, method)
    return user


def dummy_user():
    """A user no password matches, hashed as real users are (made once per app)."""
    if "auth_server.dummy_user" not in current_app.extensions:
        # User.set_password, so the dummy's hash method always follows the real ones'.
        user = User(username="")
        user.set_password(secrets.token_urlsafe(32), current_app.config["PASSWORD_HASH_METHOD"])
        current_app.extensions["auth_server.dummy_user"] = user
    return current_app.extensions["auth_server.dummy_user"]


def record_failure(username, address):
    """Count a wrong password against the username and the address; return the wait it causes."""
    config = current_app.config
    count_failure("username", username, config["MAX_FAILED_LOGINS"])
    count_failure("address", address, config["MAX_FAILED_LOGINS_PER_ADDRESS"])
    # Counters quiet for a whole window are over (their locks too): delete them.
    db.session.execute(db.delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < now() - config["LOGIN_FAILURE_WINDOW"]))
    db.session.commit()
    return wait_seconds(username, address)


def count_failure(kind, value, limit):
    """One more failure on a counter; at its limit, lock it (again) for LOGIN_LOCK_SECONDS.

    One INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL both speak it) adds
    the failure, so failures from workers racing each other are all counted.
    """
    config = current_app.config
    at = now()
    quiet = LoginThrottle.last_failure_at < at - config["LOGIN_FAILURE_WINDOW"]
    failures = db.session.execute(
        this_database(DIALECTS).insert(LoginThrottle)
        .values(kind=kind, key=sha256(value), failures=1, last_failure_at=at, locked_until=0)
        .on_conflict_do_update(index_elements=["kind", "key"], set_={
            "failures": case((quiet, 1), else_=LoginThrottle.failures + 1),
            "last_failure_at": at,
        })
        .returning(LoginThrottle.failures)
    ).scalar_one()
    if failures >= limit:
        db.session.execute(db.update(LoginThrottle).filter_by(kind=kind, key=sha256(value))
                           .values(locked_until=at + config["LOGIN_LOCK_SECONDS"]))


def record_success(username):
    """A sign-in clears its username's count.

    Not the address's: else an attacker could clear their address's count by
    signing in to an account of their own between guesses.
    """
    db.session.execute(FORGET_USERNAME, {"username_key": sha256(username)})
    db.session.commit()


# The statements every sign-in runs, built once: building one costs more than running it.
# Core on the table where no object is read back: an ORM SELECT costs more.
throttles = LoginThrottle.__table__
LOCKED_UNTIL = db.select(db.func.max(throttles.c.locked_until)).where(db.or_(
    db.and_(throttles.c.kind == "username", throttles.c.key == bindparam("username_key")),
    db.and_(throttles.c.kind == "address", throttles.c.key == bindparam("address_key"))))
USER_NAMED = db.select(User).where(User.username == bindparam("username"))
FORGET_USERNAME = throttles.delete().where(throttles.c.kind == "username", throttles.c.key == bindparam("username_key"))

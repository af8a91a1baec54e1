"""The client's database: one LoginSession row per browser login, and the logins started.

The browser's cookie holds only the row's random id; the state, nonce, PKCE verifier
and every token stay here, on the server (a confidential client keeps its tokens
out of the browser). LoginStart rows count the logins each browser and each address
started lately, so no one can start them without bound.
"""

import secrets
import time

from flask import current_app
from flask import session
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import inspect
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column


class Base(DeclarativeBase):
    """The declarative base for this service's tables."""


db = SQLAlchemy(model_class=Base)


def now():
    """The current time in whole seconds since the epoch (how every time is stored)."""
    return int(time.time())


class LoginSession(db.Model):
    """One login, from the push (step 2) to logout: its checks, then its tokens."""

    # The cookie's handle on this row: random, so it cannot be guessed.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A short id for the logs, so a flow can be followed without logging the handle.
    flow_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(Integer, default=now, index=True)
    # Which of the client's profiles this login runs (config.profiles): classic, par or fapi2.
    profile: Mapped[str] = mapped_column(String(16), default="par")

    # Step 2: what we pushed (classic: step 4's URL). `state` is None once a callback used it.
    state: Mapped[str | None] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(128))
    code_verifier: Mapped[str | None] = mapped_column(String(128))
    # Step 3: the AS's handle on the pushed request (RFC 9126 §2.2).
    request_uri: Mapped[str | None] = mapped_column(Text)

    # Step 10: the tokens, and when the access token stops working.
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    id_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[int | None] = mapped_column(Integer)
    scope: Mapped[str | None] = mapped_column(Text)
    # The validated ID token's claims: who the user is.
    claims: Mapped[dict | None] = mapped_column(JSON)

    # Logins not finished (no tokens yet), by age: the purge of abandoned ones reads
    # only these, however many finished logins there are (a partial index).
    __table_args__ = (Index("ix_login_session_unfinished", "created_at",
                            sqlite_where=text("access_token IS NULL"),
                            postgresql_where=text("access_token IS NULL")),)

    @property
    def logged_in(self):
        """True once the callback has stored tokens for this login."""
        return self.access_token is not None


class LoginStart(db.Model):
    """A login started at POST /login, kept for LOGIN_RATE_WINDOW seconds to be counted."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The browser's random id (its cookie session) and the address it came from.
    browser_id: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[int] = mapped_column(Integer, index=True)


def admit_login(browser_id, address, per_browser, per_address, window):
    """Count a login start; 0 if admitted, else the seconds to wait (one bound is reached).

    A sliding window: the starts of the last `window` seconds count; older rows are
    deleted here, so the table never holds more than a window's worth.
    """
    at = now()
    db.session.execute(FORGET_STARTS, {"before": at - window})
    waits = []
    for recent_starts, value, limit in ((RECENT_STARTS_OF_BROWSER, browser_id, per_browser),
                                        (RECENT_STARTS_FROM_ADDRESS, address, per_address)):
        recent = db.session.scalars(recent_starts, {"value": value, "limit": limit}).all()
        if len(recent) >= limit:
            # Admitted again once the oldest of the last `limit` starts leaves the window.
            waits.append(max(1, recent[-1] + window - at))
    if not waits:
        db.session.execute(ADD_START, {"browser_id": browser_id, "address": address, "started_at": at})
    db.session.commit()
    return max(waits, default=0)


# admit_login's statements, built once (every login start runs them).
login_starts = LoginStart.__table__
FORGET_STARTS = login_starts.delete().where(login_starts.c.started_at <= bindparam("before"))
RECENT_STARTS_OF_BROWSER, RECENT_STARTS_FROM_ADDRESS = (
    select(login_starts.c.started_at).where(column == bindparam("value"))
    .order_by(login_starts.c.started_at.desc()).limit(bindparam("limit"))
    for column in (login_starts.c.browser_id, login_starts.c.address))
ADD_START = login_starts.insert()


def browser_id():
    """This browser's random id, kept in its cookie session (through logins and logouts)."""
    if "browser_id" not in session:
        session["browser_id"] = secrets.token_urlsafe(16)
    return session["browser_id"]


def current_login():
    """The LoginSession this browser's cookie points at, or None (also once past its lifetime)."""
    login_id = session.get("login_session_id")
    login = db.session.get(LoginSession, login_id) if login_id else None
    if login is not None and login.created_at < now() - current_app.config["LOGIN_LIFETIME"]:
        return None  # expired: signed out, the row goes at the next login start
    return login


def remember_login(login):
    """Point this browser's cookie at a LoginSession: its id is all the cookie holds."""
    session["login_session_id"] = login.id


def forget_login():
    """Delete this browser's LoginSession row and clear its cookie session (but its browser id)."""
    login = current_login()
    if login is not None:
        db.session.delete(login)
        db.session.commit()
    browser = session.get("browser_id")
    session.clear()
    if browser is not None:
        session["browser_id"] = browser


def _sqlite_pragmas(dbapi_connection, connection_record):
    """Let two gunicorn workers share one SQLite file: WAL, and wait on locks."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: no fsync on every commit, still never corrupt (SQLite docs, "WAL").
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def add_new_columns():
    """Add to an older database the columns the models gained since (create_all adds only tables).

    A demo database made by an earlier version (LoginSession.profile came with the
    profiles) keeps working: each missing column is added, with its default.
    """
    dialect = db.engine.dialect
    present = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        if not present.has_table(table.name):
            continue
        have = {column["name"] for column in present.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            definition = f"{column.name} {column.type.compile(dialect)}"
            if column.default is not None and column.default.is_scalar:
                value = literal(column.default.arg).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
                definition += f" DEFAULT {value}"
            with db.engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {definition}"))


def add_new_indexes():
    """Create the indexes an older database lacks (create_all skips existing tables)."""
    with db.engine.begin() as connection:
        for table in db.metadata.sorted_tables:
            for index in table.indexes:
                index.create(connection, checkfirst=True)


def init_app(app):
    """Bind the database to the app, create the tables, and add columns and indexes an older database lacks."""
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        db.create_all()
        add_new_columns()
        add_new_indexes()
        # gunicorn preloads the app and then forks: each worker must open its own
        # connections, so none made here may be inherited.
        db.engine.dispose()

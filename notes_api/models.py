"""SQLAlchemy models: the notes, one row each, owned by a token's `sub`.

The API keeps no user table: who you are comes from the access token's `sub` claim
(RFC 9068 §2.2), and a note belongs to that string.
"""

from datetime import datetime
from datetime import timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import bindparam
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

db = SQLAlchemy()


def utcnow():
    """The current time in UTC."""
    return datetime.now(timezone.utc)


class Note(db.Model):
    """A short text note belonging to one subject."""

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_sub: Mapped[str] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(Text)  # its length is checked by the view
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_json(self):
        """The note as the API shows it (the owner is implied by the token)."""
        return note_json(self)


def note_json(note):
    """A note (a Note, or a row with its id, text and created_at) as the API shows it."""
    created_at = note.created_at
    if created_at.tzinfo is None:  # SQLite forgets the zone; we only ever store UTC
        created_at = created_at.replace(tzinfo=timezone.utc)
    created_at = created_at.astimezone(timezone.utc).isoformat(timespec="seconds")
    return {"id": note.id, "text": note.text, "created_at": created_at}


class DPoPProof(db.Model):
    """RFC 9449 §11.1: a DPoP proof already used, by its jti's hash, until it is too old anyway."""

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)  # seconds since the epoch


# Built once, not on every request: building a statement costs more than running it.
# Core rows, not ORM objects: a list only read needs no objects (a third of the cost).
_notes = Note.__table__.c
NOTES_OF = select(_notes.id, _notes.text, _notes.created_at).where(
    _notes.owner_sub == bindparam("sub")).order_by(_notes.id)


def notes_of(sub):
    """All notes of one subject, oldest first, as the API shows them."""
    with db.engine.connect() as connection:
        return [note_json(row) for row in connection.execute(NOTES_OF, {"sub": sub})]


def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers and a writer share the file; busy_timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: no fsync on every commit, still never corrupt (SQLite docs, "WAL").
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def seed_demo_notes(seed_notes):
    """Give each demo user their starter notes, unless they already have some."""
    for sub, texts in seed_notes.items():
        if db.session.scalar(select(Note.id).where(Note.owner_sub == sub).limit(1)) is None:
            db.session.add_all(Note(owner_sub=sub, text=text) for text in texts)
    db.session.commit()


def init_app(app):
    """Bind the database to the app, create the table and seed the demo notes."""
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        # Replicas sharing one PostgreSQL may start together: a transaction-level
        # advisory lock lets one create the table and seed, then the next.
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_advisory_xact_lock(8000)"))
        db.metadata.create_all(db.session.connection())
        # create_app() runs once, in the gunicorn master (preload_app=True), so the
        # workers never race to seed; on a restart the check above makes it a no-op.
        seed_demo_notes(app.config["SEED_NOTES"])
        # Forked workers must open their own connections, not share the master's.
        db.engine.dispose()

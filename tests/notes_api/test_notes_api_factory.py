"""create_app(), config.py and models.py: settings, logging, the database, the demo notes."""

import logging
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from notes_api.config import Config
from notes_api.models import Note
from notes_api.models import db


def test_test_config_overrides_settings(make_app):
    """Any setting can be overridden through test_config."""
    app = make_app(AUDIENCE="urn:other-api", JWKS_CACHE_SECONDS=7)
    assert app.config["AUDIENCE"] == "urn:other-api"
    assert app.config["JWKS_CACHE_SECONDS"] == 7
    assert app.testing


def test_audience_setting_is_enforced(make_app, make_token, assert_bearer_error):
    """An API configured for another audience refuses our tokens (RFC 9068 §4)."""
    client = make_app(AUDIENCE="urn:other-api").test_client()
    response = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token()})
    assert_bearer_error(response, 401, "invalid_token")


def test_documented_security_settings():
    """The algorithm allow-list and leeway are fixed in code, not taken from the token."""
    assert Config.ALLOWED_ALGORITHMS == ["RS256"]
    assert Config.CLOCK_LEEWAY_SECONDS == 30


def test_issuer_is_kept_exactly_as_set():
    """ISSUER from the environment is not trimmed: issuers compare as exact strings."""
    code = "from notes_api.config import Config; print(Config.ISSUER)"
    env = {**os.environ, "ISSUER": "https://tenant.example.com/"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "https://tenant.example.com/"


def test_database_url_is_used(app, tmp_path):
    """DATABASE_URL picks the database (here the test's temporary SQLite file)."""
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'notes_api.sqlite'}"
    assert (tmp_path / "notes_api.sqlite").exists()


def test_sqlite_uses_wal_and_busy_timeout(app):
    """Several gunicorn workers share the SQLite file: WAL mode, and wait when busy."""
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_demo_notes_are_seeded_once(make_app):
    """Starting twice on the same database does not duplicate the demo notes."""
    make_app()
    app = make_app()
    with app.app_context():
        for sub, texts in Config.SEED_NOTES.items():
            stored = db.select(Note.text).where(Note.owner_sub == sub).order_by(Note.id)
            assert db.session.scalars(stored).all() == texts


def test_seeding_leaves_existing_notes_alone(make_app, tmp_path):
    """A user who already has notes gets no demo notes added on a restart."""
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    app = make_app(DATABASE_URL=url, SEED_NOTES={})
    with app.app_context():
        db.session.add(Note(owner_sub="alice", text="my own"))
        db.session.commit()
    app = make_app(DATABASE_URL=url, SEED_NOTES={"alice": ["demo"], "bob": ["demo"]})
    with app.app_context():
        texts = {sub: db.session.scalars(db.select(Note.text).where(Note.owner_sub == sub)).all()
                 for sub in ("alice", "bob")}
    assert texts == {"alice": ["my own"], "bob": ["demo"]}


def test_process_settings_defaults():
    """Without environment variables gunicorn listens on 127.0.0.1:8000 with 2 workers, logging INFO."""
    assert (Config.HOST, Config.PORT, Config.WEB_CONCURRENCY) == ("127.0.0.1", 8000, 2)
    assert Config.LOG_LEVEL == "INFO"
    assert Config.LOG_FORMAT == "%(asctime)s %(name)s %(levelname)s %(message)s"


@pytest.mark.parametrize("level", ["DEBUG", "WARNING"])
def test_log_level_setting_reaches_the_logger(make_app, level):
    """LOG_LEVEL sets the "notes_api" logger's level."""
    app = make_app(LOG_LEVEL=level)
    assert app.logger.name == "notes_api"
    assert logging.getLogger("notes_api").level == logging.getLevelName(level)


def test_log_settings_from_the_environment(tmp_path):
    """In a fresh process, LOG_LEVEL (any case) and LOG_FORMAT shape what reaches stderr."""
    code = ("from notes_api import create_app; app = create_app(); "
            "app.logger.info('quiet line'); app.logger.warning('loud line')")
    env = {**os.environ, "LOG_LEVEL": "warning", "LOG_FORMAT": "%(levelname)s|%(name)s|%(message)s",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'notes_api.sqlite'}"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "WARNING|notes_api|loud line" in done.stderr.splitlines()
    assert "quiet line" not in done.stderr

"""create_app(), config.py and models.py: settings, logging, the database, the demo notes."""

import logging

import pytest
from sqlalchemy import text

from notes_api.config import Config
from notes_api.models import Note
from notes_api.models import db

from tests.policies import installed_log_handler


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
    assert Config.ALLOWED_ALGORITHMS == ["RS256", "PS256", "ES256"]
    assert Config.CLOCK_LEEWAY_SECONDS == 30


def test_issuer_is_kept_exactly_as_set(config_from_env):
    """ISSUER from the environment is not trimmed: issuers compare as exact strings."""
    assert config_from_env(ISSUER="https://tenant.example.com/").ISSUER == "https://tenant.example.com/"


def test_database_url_is_used(make_app, tmp_path):
    """DATABASE_URL picks the database (here a temporary SQLite file)."""
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'notes_api.sqlite'}")
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


PROCESS_SETTINGS = ("HOST", "PORT", "WEB_CONCURRENCY", "LOG_LEVEL", "LOG_FORMAT")


def test_process_settings_defaults(config_from_env):
    """Without environment variables gunicorn listens on 127.0.0.1:8000 with 2 workers, logging INFO."""
    settings = config_from_env(**dict.fromkeys(PROCESS_SETTINGS))
    assert (settings.HOST, settings.PORT, settings.WEB_CONCURRENCY) == ("127.0.0.1", 8000, 2)
    assert settings.LOG_LEVEL == "INFO"
    assert settings.LOG_FORMAT == "%(asctime)s %(name)s %(levelname)s %(message)s"


def test_process_settings_from_the_environment(config_from_env):
    """Each process setting comes from its environment variable; LOG_LEVEL in any case."""
    settings = config_from_env(HOST="0.0.0.0", PORT="8123", WEB_CONCURRENCY="5", LOG_LEVEL="debug",
                               LOG_FORMAT="%(name)s: %(message)s")
    assert (settings.HOST, settings.PORT, settings.WEB_CONCURRENCY) == ("0.0.0.0", 8123, 5)
    assert settings.LOG_LEVEL == "DEBUG"
    assert settings.LOG_FORMAT == "%(name)s: %(message)s"


@pytest.mark.parametrize("level", ["DEBUG", "WARNING"])
def test_log_level_setting_reaches_the_logger(make_app, level):
    """LOG_LEVEL sets the "notes_api" logger's level."""
    app = make_app(LOG_LEVEL=level)
    assert app.logger.name == "notes_api"
    assert logging.getLogger("notes_api").level == logging.getLevelName(level)


def test_log_format_setting_shapes_every_line(make_app):
    """In a process with no logging set up yet, create_app formats every line with LOG_FORMAT."""
    handler = installed_log_handler(lambda: make_app(LOG_FORMAT="%(levelname)s|%(name)s|%(message)s"))
    record = logging.makeLogRecord({"name": "notes_api", "levelname": "INFO", "msg": "token ok"})
    assert handler.format(record) == "INFO|notes_api|token ok"

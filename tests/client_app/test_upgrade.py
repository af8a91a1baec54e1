"""A database made by an earlier version keeps working: columns the models gained are added at start."""

import sqlite3

from client_app import create_app


def test_an_older_login_table_gets_the_profile_column(settings, tmp_path):
    """A login_session table without `profile` (before the profiles came): added, old rows read as par."""
    database = tmp_path / "older.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE login_session (id VARCHAR(64) PRIMARY KEY, flow_id VARCHAR(16), "
                           "created_at INTEGER, state VARCHAR(128), nonce VARCHAR(128), code_verifier "
                           "VARCHAR(128), request_uri TEXT, access_token TEXT, refresh_token TEXT, "
                           "id_token TEXT, expires_at INTEGER, scope TEXT, claims JSON)")
        connection.execute("INSERT INTO login_session (id, flow_id, created_at) VALUES ('old-login', 'f1', 1)")
    connection.close()
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with app.app_context():
        from client_app.models import LoginSession
        from client_app.models import db
        assert db.session.get(LoginSession, "old-login").profile == "par"
        db.session.remove()
        db.engine.dispose()
    with sqlite3.connect(database) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(login_session)")]
    connection.close()
    assert "profile" in columns


def test_an_older_database_gets_the_indexes_added_since(settings, tmp_path):
    """Tables made before an index existed (the purge's, on login and message age) get it at start."""
    database = tmp_path / "older.sqlite"
    added = {"login_session": {"ix_login_session_created_at", "ix_login_session_unfinished"},
             "trace_message": {"ix_trace_message_recorded_at"}}
    create_app({**settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with sqlite3.connect(database) as connection:
        for name in set().union(*added.values()):
            connection.execute(f"DROP INDEX {name}")
    connection.close()
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with app.app_context():
        from client_app.models import db
        for table, names in added.items():
            assert names <= {index["name"] for index in db.inspect(db.engine).get_indexes(table)}
        db.engine.dispose()

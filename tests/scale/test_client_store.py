"""client_app's store on PostgreSQL: the login purge and its partial index work there too."""

import sqlalchemy

from client_app import create_app
from client_app.flow import UNFINISHED_LOGIN_SECONDS
from client_app.flow import TraceMessage
from client_app.flow import forget_old_logins
from client_app.models import LoginSession
from client_app.models import db
from client_app.models import now


def fresh_database(server_url, name):
    """A new, empty database on the test server; its URL."""
    engine = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def test_old_logins_are_forgotten_on_postgresql(postgres_url):
    """Expired and abandoned logins go with their messages; the unfinished-login index is partial."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "PROFILES": ("classic", "par"),
                      "SQLALCHEMY_DATABASE_URI": fresh_database(postgres_url, "client_app_store")})
    lifetime = app.config["LOGIN_LIFETIME"]
    ages = {"expired": (lifetime + 1, True), "abandoned": (UNFINISHED_LOGIN_SECONDS + 1, False),
            "finished": (UNFINISHED_LOGIN_SECONDS + 1, True), "just-started": (60, False)}
    with app.test_request_context():
        for login_id, (age, finished) in ages.items():
            db.session.add(LoginSession(id=login_id, flow_id="f", created_at=now() - age,
                                        access_token="t" if finished else None))
            db.session.add(TraceMessage(login_id=login_id, step=2, kind="request", headers=[], channel="back",
                                        from_host="c", to_host="a", recorded_at=now() - age))
        db.session.commit()
        forget_old_logins()
        db.session.commit()
        assert set(db.session.scalars(db.select(LoginSession.id))) == {"finished", "just-started"}
        assert set(db.session.scalars(db.select(TraceMessage.login_id))) == {"finished", "just-started"}
        definition = db.session.scalar(sqlalchemy.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_login_session_unfinished'"))
        assert "WHERE (access_token IS NULL)" in definition
        db.session.remove()
        db.engine.dispose()

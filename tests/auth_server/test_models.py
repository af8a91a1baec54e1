"""What the database holds: no password and no refresh token in the clear."""

from auth_server import create_app
from auth_server.models import Token
from auth_server.models import User
from auth_server.models import db


def test_passwords_are_stored_hashed(app):
    """A stolen database does not give away the demo users' passwords."""
    with app.app_context():
        alice = db.session.scalar(db.select(User).filter_by(username="alice"))
        assert "alice" not in alice.password_hash
        assert alice.password_hash.startswith(("$argon2id$", "pbkdf2:"))
        assert alice.check_password("alice")
        assert not alice.check_password("Alice")


def test_a_stored_hash_keeps_verifying_when_the_method_changes(test_config, app):
    """A hash names its own method: users hashed one way still log in after a change."""
    with app.app_context():
        before = db.session.scalar(db.select(User.password_hash).filter_by(username="bob"))
    other = create_app({**test_config, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:2"})
    with other.app_context():
        bob = db.session.scalar(db.select(User).filter_by(username="bob"))
        assert bob.password_hash == before  # verified, so not re-hashed
        assert bob.check_password("bob")


def test_refresh_tokens_are_stored_hashed(app, flow):
    """Only a SHA-256 of each refresh token is kept; the token itself is the bearer secret."""
    refresh_token = flow.tokens()["refresh_token"]
    with app.app_context():
        row = db.session.scalar(db.select(Token))
        assert row.refresh_token_hash != refresh_token
        assert refresh_token not in str(row.__dict__)


def test_a_nonce_is_looked_up_by_index_not_by_reading_every_code(app):
    """OIDC Core §15.5.2's check runs on every push with a nonce, and codes are kept."""
    from auth_server.oauth2 import NONCE_USED
    with app.app_context():
        statement = NONCE_USED.params(client_id="notes-web", nonce="n")
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = db.session.execute(db.text("EXPLAIN QUERY PLAN " + sql)).all()
    details = " ".join(row[-1] for row in plan)
    assert "ix_authorization_code_client_id_nonce" in details, details


def test_an_older_database_gets_the_indexes_added_since(test_config):
    """Tables made before an index existed get it when the server starts."""
    app = create_app(test_config)
    with app.app_context():
        db.session.execute(db.text("DROP INDEX ix_authorization_code_client_id_nonce"))
        db.session.commit()
    app = create_app(test_config)
    with app.app_context():
        names = {index["name"] for index in db.inspect(db.engine).get_indexes("authorization_code")}
    assert "ix_authorization_code_client_id_nonce" in names

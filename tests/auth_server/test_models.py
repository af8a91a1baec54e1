"""What the database holds: no password and no refresh token in the clear."""

from auth_server.models import Token
from auth_server.models import User
from auth_server.models import db


def test_passwords_are_stored_hashed(app):
    """A stolen database does not give away the demo users' passwords."""
    with app.app_context():
        alice = db.session.scalar(db.select(User).filter_by(username="alice"))
        assert "alice" not in alice.password_hash
        assert alice.password_hash.startswith(("scrypt:", "pbkdf2:"))
        assert alice.check_password("alice")
        assert not alice.check_password("Alice")


def test_refresh_tokens_are_stored_hashed(app, flow):
    """Only a SHA-256 of each refresh token is kept; the token itself is the bearer secret."""
    refresh_token = flow.tokens()["refresh_token"]
    with app.app_context():
        row = db.session.scalar(db.select(Token))
        assert row.refresh_token_hash != refresh_token
        assert refresh_token not in str(row.__dict__)

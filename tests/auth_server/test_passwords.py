"""Passwords are hashed with Argon2id at OWASP's cost; older hashes move over at sign-in (passwords.py)."""

import pytest
from argon2 import PasswordHasher
from argon2 import Type
from argon2 import extract_parameters
from werkzeug.security import generate_password_hash

from auth_server import create_app
from auth_server import passwords
from auth_server.login_throttle import dummy_user
from auth_server.models import User
from auth_server.models import db

from .test_login_throttle import login_url


@pytest.fixture
def app(test_config):
    """A server with the password hash a running service uses (not the tests' cheap one)."""
    return create_app({key: value for key, value in test_config.items() if key != "PASSWORD_HASH_METHOD"})


def stored_hash(app, username):
    """The password hash the database holds for a user."""
    with app.app_context():
        return db.session.scalar(db.select(User.password_hash).filter_by(username=username))


def store_hash(app, username, password_hash):
    """Put a hash made elsewhere (an older scheme) on a user, as an old database would hold it."""
    with app.app_context():
        db.session.execute(db.update(User).filter_by(username=username).values(password_hash=password_hash))
        db.session.commit()


def assert_owasp_argon2id(password_hash):
    """OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1."""
    parameters = extract_parameters(password_hash)
    assert parameters.type is Type.ID
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19 * 1024, 2, 1)


def test_new_hashes_are_argon2id_at_owasp_cost(app):
    """A running service stores Argon2id hashes with OWASP's parameters, salted per hash."""
    alice = stored_hash(app, "alice")
    assert_owasp_argon2id(alice)
    assert passwords.verify_password(alice, "alice")
    assert not passwords.verify_password(alice, "Alice")
    assert passwords.hash_password("alice", "argon2id") != alice  # a fresh salt each time


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:1000"])
def test_an_old_werkzeug_hash_signs_in_and_is_hashed_again(app, flow, method):
    """A hash from before Argon2id still signs its user in, who leaves with an Argon2id hash."""
    old = generate_password_hash("bob", method)
    store_hash(app, "bob", old)
    assert flow.login(login_url(flow), username="bob", password="bob").status_code == 303
    new = stored_hash(app, "bob")
    assert new != old
    assert_owasp_argon2id(new)
    assert passwords.verify_password(new, "bob")


def test_a_wrong_password_on_an_old_hash_fails_and_keeps_it(app, flow):
    """Only a verified password is hashed again: a wrong one is refused and changes nothing."""
    old = generate_password_hash("bob", "scrypt")
    store_hash(app, "bob", old)
    assert flow.login(login_url(flow), username="bob", password="alice").status_code == 401
    assert stored_hash(app, "bob") == old


def test_an_argon2id_hash_below_todays_cost_is_hashed_again(app, flow):
    """Raised parameters reach existing users too (argon2's check_needs_rehash)."""
    old = PasswordHasher(memory_cost=8 * 1024, time_cost=1, parallelism=1).hash("bob")
    store_hash(app, "bob", old)
    assert flow.login(login_url(flow), username="bob", password="bob").status_code == 303
    assert_owasp_argon2id(stored_hash(app, "bob"))


def test_a_hash_at_todays_cost_is_kept_at_sign_in(app, flow):
    """A sign-in with a current hash writes nothing: no needless 20 ms, no needless write."""
    before = stored_hash(app, "alice")
    assert flow.login(login_url(flow)).status_code == 303
    assert stored_hash(app, "alice") == before


def test_the_dummy_hash_costs_what_a_real_one_does(app):
    """An unknown username is checked against a hash of the same scheme and parameters as real users'."""
    with app.test_request_context():
        dummy = dummy_user().password_hash
    assert_owasp_argon2id(dummy)
    assert extract_parameters(dummy) == extract_parameters(stored_hash(app, "alice"))

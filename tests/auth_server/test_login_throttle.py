"""Password guessing is capped per username and per address, across logins (login_throttle.py)."""

import time

import pytest

from auth_server import create_app
from auth_server import models
from auth_server import passwords

from .conftest import Flow


@pytest.fixture
def clock(monkeypatch):
    """A frozen clock the test moves forward by hand."""

    class Clock:
        now = time.time()

        def advance(self, seconds):
            """Move the clock forward."""
            self.now += seconds

    frozen = Clock()
    monkeypatch.setattr(time, "time", lambda: frozen.now)
    return frozen


def login_url(flow):
    """A new login in progress: push, then arrive at /authorize."""
    return flow.authorize(flow.request_uri()).location


def wrong_password_in_new_logins(flow, times, username="alice"):
    """Start a new login for each wrong password, as an attacker starting over would."""
    return [flow.login(login_url(flow), username=username, password="guess").status_code for _ in range(times)]


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_failures_across_logins_lock_the_username(app, flow, clock, username):
    """Starting a new login does not reset the count: the limit is per username (known or not)."""
    limit = app.config["MAX_FAILED_LOGINS"]
    statuses = wrong_password_in_new_logins(flow, limit, username)
    assert statuses == [401] * (limit - 1) + [429]
    # A fresh login for the same username is refused before any password is checked.
    response = flow.login(login_url(flow), username=username, password="guess")
    assert response.status_code == 429


def test_locked_user_cannot_sign_in_even_with_the_right_password(app, flow, clock):
    """A lock is a lock: the right password is refused too until it expires."""
    wrong_password_in_new_logins(flow, app.config["MAX_FAILED_LOGINS"])
    response = flow.login(login_url(flow), password="alice")
    assert response.status_code == 429
    assert "Location" not in response.headers


def test_the_lock_expires_by_itself(app, flow, clock):
    """After LOGIN_LOCK_SECONDS the user may sign in again, in the same login as in a new one."""
    url = login_url(flow)
    wrong_password_in_new_logins(flow, app.config["MAX_FAILED_LOGINS"])
    clock.advance(app.config["LOGIN_LOCK_SECONDS"] - 1)
    assert flow.login(url).status_code == 429
    clock.advance(1)
    response = flow.login(url)
    assert response.status_code == 303
    assert response.location.endswith("/consent")


def test_locked_page_is_readable_and_says_when_to_come_back(app, flow, clock):
    """RFC 6585 §4: 429 with Retry-After; the page is HTML with the login form and the wait."""
    wrong_password_in_new_logins(flow, app.config["MAX_FAILED_LOGINS"] - 1)
    response = flow.login(login_url(flow), password="guess")
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) == app.config["LOGIN_LOCK_SECONDS"]
    assert "Too many wrong passwords" in response.text
    assert f"{app.config['LOGIN_LOCK_SECONDS'] // 60} minutes" in response.text
    assert 'name="password"' in response.text
    # Later the wait shown is what is left.
    clock.advance(60)
    later = flow.login(login_url(flow), password="guess")
    assert int(later.headers["Retry-After"]) == app.config["LOGIN_LOCK_SECONDS"] - 60


def test_a_sign_in_clears_the_usernames_count(app, flow, clock):
    """A successful sign-in forgets the username's earlier failures."""
    limit = app.config["MAX_FAILED_LOGINS"]
    wrong_password_in_new_logins(flow, limit - 1)
    assert flow.login(login_url(flow)).status_code == 303
    assert wrong_password_in_new_logins(flow, limit - 1) == [401] * (limit - 1)


def test_the_count_is_forgotten_after_a_quiet_window(app, flow, clock):
    """Failures further apart than LOGIN_FAILURE_WINDOW do not add up."""
    limit = app.config["MAX_FAILED_LOGINS"]
    wrong_password_in_new_logins(flow, limit - 1)
    clock.advance(app.config["LOGIN_FAILURE_WINDOW"] + 1)
    assert wrong_password_in_new_logins(flow, limit - 1) == [401] * (limit - 1)


def test_the_lock_comes_back_at_once_while_guessing_goes_on(app, flow, clock):
    """After a lock ends, one more wrong password within the window locks again (no fresh quota)."""
    wrong_password_in_new_logins(flow, app.config["MAX_FAILED_LOGINS"])
    clock.advance(app.config["LOGIN_LOCK_SECONDS"])
    assert wrong_password_in_new_logins(flow, 1) == [429]


def test_the_per_address_limit_locks_the_address_not_the_user(test_config, clock):
    """One address guessing many usernames is locked; the user, from elsewhere, is not."""
    app = create_app({**test_config, "MAX_FAILED_LOGINS_PER_ADDRESS": 3})
    attacker, user = Flow(app.test_client()), Flow(app.test_client())
    attacker.client.environ_base["REMOTE_ADDR"] = "192.0.2.66"
    user.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    statuses = [attacker.login(login_url(attacker), username=name, password="guess").status_code
                for name in ("carol", "dave", "erin")]
    assert statuses == [401, 401, 429]
    # The attacker's address is locked, whatever the username and password...
    assert attacker.login(login_url(attacker), username="bob", password="bob").status_code == 429
    # ...but alice, from her own address, signs in.
    assert user.login(login_url(user)).status_code == 303
    # And the address lock expires too.
    clock.advance(app.config["LOGIN_LOCK_SECONDS"])
    assert attacker.login(login_url(attacker), username="bob", password="bob").status_code == 303


def test_the_per_address_limit_leaves_room_for_a_classroom():
    """One NAT, a class of 30, a few typos each: the address limit is well above it."""
    from auth_server.config import Config
    assert Config.MAX_FAILED_LOGINS_PER_ADDRESS >= 30 * 3
    assert Config.MAX_FAILED_LOGINS_PER_ADDRESS > Config.MAX_FAILED_LOGINS
    # A lock always ends, and ends before its count would be forgotten (see config.py).
    assert 0 < Config.LOGIN_LOCK_SECONDS <= Config.LOGIN_FAILURE_WINDOW


def test_an_unknown_username_costs_a_password_check(flow, monkeypatch):
    """No timing oracle: an unknown username is checked against a dummy hash, like a wrong password."""
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda *args: calls.append(args) or real(*args))
    url = login_url(flow)
    assert flow.login(url, username="nobody", password="guess").status_code == 401
    assert len(calls) == 1
    # The dummy hash is made the way real ones are (same scheme and parameters: all but salt and hash).
    dummy_hash, _ = calls[0]
    with flow.client.application.app_context():
        alice = models.db.session.scalar(models.db.select(models.User).filter_by(username="alice"))
        assert dummy_hash.rsplit("$", 2)[0] == alice.password_hash.rsplit("$", 2)[0]
    assert flow.login(url, username="alice", password="guess").status_code == 401
    assert len(calls) == 2


def test_counters_do_not_store_what_was_typed(app, flow):
    """People type passwords into the username box: the counter keeps only a hash of it."""
    from auth_server.login_throttle import LoginThrottle
    flow.login(login_url(flow), username="my-secret-password", password="x")
    with app.app_context():
        rows = models.db.session.scalars(models.db.select(LoginThrottle)).all()
        assert {row.kind for row in rows} == {"username", "address"}
        assert all("my-secret-password" not in row.key and "127.0.0.1" not in row.key for row in rows)

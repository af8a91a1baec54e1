"""Signing keys: persisted, shared, rotated without breaking old tokens."""

from joserfc import jwt
from joserfc.jwk import KeySet

from auth_server import create_app
from auth_server import keys


def test_key_survives_a_restart(test_config, signing_key):
    """A second app on the same database signs with the same key (no regeneration)."""
    # The key is made by the server itself here, as in a running service.
    config = {**test_config, "TEST_SIGNING_KEY": None}
    first = create_app(config).test_client().get("/.well-known/jwks.json").json
    second = create_app(config).test_client().get("/.well-known/jwks.json").json
    assert first == second
    assert [key["kid"] for key in first["keys"]] != [signing_key.kid]


def test_a_test_key_is_stored_as_the_first_key(app, signing_key):
    """TEST_SIGNING_KEY (tests only) is stored instead of a newly made key."""
    with app.app_context():
        assert [key["kid"] for key in keys.public_jwks()["keys"]] == [signing_key.kid]
        assert keys.current_signing_key().as_dict(private=True) == signing_key.as_dict(private=True)


def test_rotation_keeps_old_tokens_verifiable(app, flow):
    """The new key signs; the old one stays in the JWKS until its tokens expire."""
    old_token = flow.tokens()["access_token"]
    with app.app_context():
        new_key = keys.generate_signing_key()
    jwks = KeySet.import_key_set(flow.client.get("/.well-known/jwks.json").json)
    assert len(jwks.keys) == 2
    assert jwt.decode(old_token, jwks).claims["sub"] == "alice"
    flow.nonce = "a-fresh-nonce"  # a reused nonce would be refused as a replay
    new_token = flow.tokens()["access_token"]
    assert jwt.decode(new_token, jwks).header["kid"] == new_key.kid


def test_rotation_drops_keys_only_after_their_tokens_expired(app, monkeypatch):
    """A retired key stays while its tokens may live; one rotation later it goes."""
    import time
    with app.app_context():
        first = keys.public_jwks()["keys"][0]["kid"]
        second, removed = keys.rotate_signing_keys()
        assert removed == []
        later = time.time() + 86400 + 1
        monkeypatch.setattr(time, "time", lambda: later)
        third, removed = keys.rotate_signing_keys()
        assert removed == [first]
        assert [key["kid"] for key in keys.public_jwks()["keys"]] == [third.kid, second.kid]


def test_rotate_keys_command(app):
    """`flask --app auth_server rotate-keys` prints the new kid."""
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0
    assert "New signing key" in result.output
    with app.app_context():
        assert len(keys.public_jwks()["keys"]) == 2

"""Signing keys: one per alg, persisted, shared, rotated together without breaking old tokens."""

import time

from joserfc import jwt
from joserfc.jwk import KeySet

from auth_server import create_app
from auth_server import keys
from auth_server.config import Config


def test_keys_survive_a_restart(test_config, signing_keys):
    """A second app on the same database signs with the same keys (no regeneration)."""
    # The keys are made by the server itself here, as in a running service.
    config = {**test_config, "TEST_SIGNING_KEYS": None}
    first = create_app(config).test_client().get("/.well-known/jwks.json").json
    second = create_app(config).test_client().get("/.well-known/jwks.json").json
    assert first == second
    assert {key["kid"] for key in first["keys"]}.isdisjoint(key.kid for key in signing_keys)
    # One key per alg: RSA for RS256 and PS256, EC P-256 for ES256.
    assert sorted(key["alg"] for key in first["keys"]) == sorted(Config.SIGNING_ALGS)
    assert {key["alg"]: key["kty"] for key in first["keys"]} == {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}


def test_the_test_keys_are_stored_as_the_first_keys(app, signing_keys):
    """TEST_SIGNING_KEYS (tests only) are stored instead of newly made keys."""
    with app.app_context():
        assert {key["kid"] for key in keys.public_jwks()["keys"]} == {key.kid for key in signing_keys}
        for key in signing_keys:
            assert keys.current_signing_key(key.alg).as_dict(private=True) == key.as_dict(private=True)
        assert keys.current_signing_key().alg == Config.SIGNING_ALG


def test_the_jwks_publishes_one_key_per_advertised_alg(client):
    """Discovery's id_token_signing_alg_values_supported: each has a key in the JWKS."""
    advertised = client.get("/.well-known/openid-configuration").json["id_token_signing_alg_values_supported"]
    published = [key["alg"] for key in client.get("/.well-known/jwks.json").json["keys"]]
    assert sorted(published) == sorted(advertised) == sorted(Config.SIGNING_ALGS)


def test_rotation_keeps_old_tokens_verifiable(app, flow):
    """New keys sign; the old ones stay in the JWKS until their tokens expire."""
    old_token = flow.tokens()["access_token"]
    with app.app_context():
        new_keys, removed = keys.rotate_signing_keys()
    assert removed == []
    assert sorted(key.alg for key in new_keys) == sorted(Config.SIGNING_ALGS)
    jwks = KeySet.import_key_set(flow.client.get("/.well-known/jwks.json").json)
    assert len(jwks.keys) == 2 * len(Config.SIGNING_ALGS)
    assert jwt.decode(old_token, jwks).claims["sub"] == "alice"
    flow.nonce = "a-fresh-nonce"  # a reused nonce would be refused as a replay
    new_token = flow.tokens()["access_token"]
    new_rs256 = next(key for key in new_keys if key.alg == Config.SIGNING_ALG)
    assert jwt.decode(new_token, jwks).header["kid"] == new_rs256.kid


def test_a_rotation_by_another_replica_signs_from_the_next_request(test_config):
    """Keys another app made in the shared database are read, parsed and used at once."""
    config = {**test_config, "TEST_SIGNING_KEYS": None}
    this, other = create_app(config), create_app(config)
    with this.app_context():
        before = keys.current_signing_key().kid
    with other.app_context():
        new_keys, _ = keys.rotate_signing_keys()
    new_kids = {key.kid for key in new_keys}
    published = {key["kid"] for key in this.test_client().get("/.well-known/jwks.json").json["keys"]}
    assert new_kids < published and before in published
    with this.app_context():
        signing = keys.current_signing_key()
        assert signing.kid in new_kids and signing.kid != before
        assert signing.as_dict(private=True) == next(key for key in new_keys if key.kid == signing.kid).as_dict(private=True)


def test_rotation_drops_keys_only_after_their_tokens_expired(app, signing_keys, monkeypatch):
    """A retired key stays while its tokens may live; one rotation later it goes, for every alg."""
    with app.app_context():
        second, removed = keys.rotate_signing_keys()
        assert removed == []
        later = time.time() + max(Config.ACCESS_TOKEN_EXPIRES_IN, Config.ID_TOKEN_EXPIRES_IN) + 1
        monkeypatch.setattr(time, "time", lambda: later)
        third, removed = keys.rotate_signing_keys()
        assert sorted(removed) == sorted(key.kid for key in signing_keys)
        assert {key["kid"] for key in keys.public_jwks()["keys"]} == {key.kid for key in [*second, *third]}


def test_rotate_keys_command(app):
    """`flask --app auth_server rotate-keys` prints the new kids."""
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0
    assert "New signing keys" in result.output
    with app.app_context():
        assert len(keys.public_jwks()["keys"]) == 2 * len(Config.SIGNING_ALGS)

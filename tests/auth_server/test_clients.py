"""Clients from a file (CLIENTS_FILE): RFC 7591 metadata, validated at start (clients.py)."""

import json
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest

from auth_server import create_app
from auth_server.clients import ClientsFileError
from auth_server.clients import load_clients
from auth_server.config import Config
from auth_server.models import Client
from auth_server.models import db

from .conftest import CALLBACK
from .conftest import Flow
from .conftest import public_jwks


def load(path):
    """Load a clients file with this server's capability lists."""
    return load_clients(path, Config.CLIENT_AUTH_METHODS, Config.SIGNING_ALGS, Config.CLIENT_SIGNING_ALGS)


def write(tmp_path, clients):
    """A clients file holding these clients."""
    path = tmp_path / "clients.json"
    path.write_text(json.dumps(clients))
    return str(path)


def own_rp(**metadata):
    """A relying party a user registers in their own file."""
    return {"client_id": "my-rp", "client_secret": "my-rp-secret", "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code"], "response_types": ["code"],
            "scope": "openid profile", **metadata}


def test_the_default_file_registers_the_demo_clients():
    """The demo clients: the app and the lab in three profiles each, seed-cli, notes-api (RFC 7591 names)."""
    clients = {client["client_id"]: client for client in load(Config.CLIENTS_FILE)}
    assert set(clients) == {"notes-web", "notes-classic", "notes-fapi", "seed-cli", "notes-api",
                            "notes-lab", "notes-lab-classic", "notes-lab-fapi"}
    # RFC 9126 §6: the classic ones are the only clients that may skip PAR.
    skip_par = {name for name, client in clients.items()
                if client.get("redirect_uris") and not client.get("require_pushed_authorization_requests")}
    assert skip_par == {"notes-classic", "notes-lab-classic"}
    assert clients["notes-web"]["token_endpoint_auth_methods"] == ["client_secret_basic", "client_secret_post"]
    assert clients["seed-cli"]["token_endpoint_auth_method"] == "client_secret_post"
    fapi = clients["notes-fapi"]
    assert fapi["security_profile"] == "fapi2"
    assert fapi["token_endpoint_auth_method"] == "private_key_jwt"
    assert fapi["jwks_uri"].endswith("/.well-known/jwks.json")
    assert fapi["redirect_uris"] == [CALLBACK]
    assert fapi["dpop_bound_access_tokens"] and fapi["require_signed_request_object"]
    assert fapi["id_token_signed_response_alg"] in Config.SIGNING_ALGS
    assert "client_secret" not in fapi


def test_environment_overrides_expand_at_load(monkeypatch):
    """DEMO ONLY secrets and redirect URIs: "${NAME:-default}" reads the environment."""
    monkeypatch.setenv("NOTES_WEB_SECRET", "from-the-environment")
    monkeypatch.setenv("NOTES_WEB_REDIRECT_URI", "https://rp.example/cb")
    clients = {client["client_id"]: client for client in load(Config.CLIENTS_FILE)}
    assert clients["notes-web"]["client_secret"] == "from-the-environment"
    assert clients["notes-fapi"]["redirect_uris"] == ["https://rp.example/cb"]
    assert clients["seed-cli"]["client_secret"] == "seed-cli-secret"  # the default after ":-"


def test_the_client_model_exposes_the_metadata(app):
    """Client.dpop_bound_access_tokens (RFC 9449 §5.2) and the profile, for other modules."""
    with app.app_context():
        fapi = db.session.scalar(db.select(Client).filter_by(client_id="notes-fapi"))
        web = db.session.scalar(db.select(Client).filter_by(client_id="notes-web"))
        assert fapi.dpop_bound_access_tokens is True and fapi.is_fapi and fapi.require_signed_request_object
        assert web.dpop_bound_access_tokens is False and not web.is_fapi
        assert fapi.token_endpoint_auth_methods == ["private_key_jwt"]


@pytest.mark.parametrize(("change", "field"), [
    ({"colour": "blue"}, "colour"),                                          # unknown field
    ({"redirect_uris": CALLBACK}, "redirect_uris"),                          # a string, not a list
    ({"require_pkce": "yes"}, "require_pkce"),                               # not a boolean
    ({"request_uri_lifetime": True}, "request_uri_lifetime"),                # a boolean, not a number
    ({"token_endpoint_auth_method": "client_secret_jwt"}, "token_endpoint_auth_method"),  # not offered
    ({"token_endpoint_auth_methods": ["client_secret_post"]}, "token_endpoint_auth_method"),  # both
    ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks_uri"),         # private_key_jwt, no keys
    ({"jwks": {"keys": []}, "jwks_uri": "https://rp.example/jwks"}, "jwks_uri"),  # both
    ({"jwks": {"not": "a set"}}, "jwks"),
    ({"client_secret": None}, "client_secret"),                              # null is no string
    ({"id_token_signed_response_alg": "HS256"}, "id_token_signed_response_alg"),
    ({"token_endpoint_auth_signing_alg": "RS256"}, "token_endpoint_auth_signing_alg"),
    ({"security_profile": "fapi1"}, "security_profile"),
    ({"security_profile": "fapi2"}, "token_endpoint_auth_method"),           # FAPI: private_key_jwt only
    ({"require_signed_request_object": True}, "jwks_uri"),                  # nothing to verify with
    ({"client_id": ""}, "client_id"),
])
def test_a_bad_client_is_refused_naming_the_client_and_the_field(tmp_path, change, field):
    """Start-up stops with an error that says which client and which field are wrong."""
    path = write(tmp_path, [own_rp(**change)])
    with pytest.raises(ClientsFileError) as error:
        load(path)
    assert f"field '{field}'" in str(error.value)
    if change.get("client_id", "my-rp"):
        assert "my-rp" in str(error.value)


def test_a_client_without_an_auth_method_is_refused(tmp_path):
    """No token_endpoint_auth_method (nor our list): the error names the field."""
    rp = own_rp()
    del rp["token_endpoint_auth_method"]
    with pytest.raises(ClientsFileError, match="'my-rp'.*field 'token_endpoint_auth_method' is required"):
        load(write(tmp_path, [rp]))


def test_a_client_without_a_secret_for_basic_is_refused(tmp_path):
    """client_secret_basic needs a secret: the error names client_secret."""
    rp = own_rp()
    del rp["client_secret"]
    with pytest.raises(ClientsFileError, match="'my-rp'.*field 'client_secret'"):
        load(write(tmp_path, [rp]))


@pytest.mark.parametrize("content", ["{not json", '{"client_id": "x"}', '["a string"]'])
def test_an_unreadable_file_is_refused(tmp_path, content):
    """Not JSON, or not an array of objects: a clear error naming the file."""
    path = tmp_path / "clients.json"
    path.write_text(content)
    with pytest.raises(ClientsFileError, match="clients.json"):
        load(str(path))


def test_a_client_id_twice_is_refused(tmp_path):
    """Two clients with one client_id would shadow each other."""
    with pytest.raises(ClientsFileError, match="'my-rp'.*field 'client_id'"):
        load(write(tmp_path, [own_rp(), own_rp()]))


def test_a_missing_file_is_refused(tmp_path):
    """A CLIENTS_FILE that is not there: the error names it."""
    with pytest.raises(ClientsFileError, match="missing.json"):
        load(str(tmp_path / "missing.json"))


def test_a_user_registers_their_own_relying_party(tmp_path, test_config):
    """CLIENTS_FILE pointing at a user's file: their client runs the flow; the demo ones are gone."""
    path = write(tmp_path, [own_rp()])
    flow = Flow(create_app({**test_config, "CLIENTS_FILE": path}).test_client())
    request_uri = flow.request_uri(auth=("my-rp", "my-rp-secret"), scope="openid profile", audience=None)
    consent_url = flow.login(flow.authorize(request_uri, client_id="my-rp").location).location
    code = parse_qs(urlparse(flow.consent(consent_url).location).query)["code"][0]
    tokens = flow.exchange(code, auth=("my-rp", "my-rp-secret"))
    assert tokens.status_code == 200, tokens.json
    assert "refresh_token" not in tokens.json  # its grant_types hold no refresh_token
    assert flow.push().status_code == 401  # notes-web is not in this file


def test_a_user_file_with_keys_by_value_loads(tmp_path, client_keys):
    """private_key_jwt with `jwks` (RFC 7591 §2) instead of a jwks_uri."""
    rp = own_rp(token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(client_keys))
    del rp["client_secret"]
    (client,) = load(write(tmp_path, [rp]))
    assert client["jwks"]["keys"][0]["kid"] == client_keys["PS256"].kid


def test_a_client_removed_from_the_file_is_no_longer_registered(tmp_path, test_config, flow):
    """The file is the source of truth: restarted with the user's file, notes-web is gone."""
    assert flow.push().status_code == 201  # the default file, on this database
    restarted = Flow(create_app({**test_config, "CLIENTS_FILE": write(tmp_path, [own_rp()])}).test_client())
    assert restarted.push().status_code == 401
    assert restarted.push(auth=("my-rp", "my-rp-secret"), scope="openid", audience=None).status_code == 201

"""Discovery (RFC 8414, OIDC Discovery) and the JWKS."""

import pytest

from auth_server import create_app


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
def test_metadata_advertises_par(client, path):
    """RFC 9126 §5 and RFC 9207 §3 metadata, on both well-known paths."""
    metadata = client.get(path).json
    assert metadata["issuer"] == "http://localhost:9000"
    assert metadata["pushed_authorization_request_endpoint"] == "http://localhost:9000/oauth/par"
    # RFC 9126 §5: false, as one client (notes-classic) may skip PAR; the others' own
    # registrations require it (§6).
    assert metadata["require_pushed_authorization_requests"] is False
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["authorization_endpoint"] == "http://localhost:9000/authorize"
    assert metadata["token_endpoint"] == "http://localhost:9000/oauth/token"
    assert metadata["userinfo_endpoint"] == "http://localhost:9000/userinfo"
    assert metadata["jwks_uri"] == "http://localhost:9000/.well-known/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]


def test_issuer_comes_from_configuration(test_config):
    """The issuer is one public URL, set by ISSUER (docker keeps it at localhost)."""
    app = create_app({**test_config, "ISSUER": "https://as.example"})
    metadata = app.test_client().get("/.well-known/openid-configuration").json
    assert metadata["issuer"] == "https://as.example"
    assert metadata["token_endpoint"] == "https://as.example/oauth/token"


def test_jwks_has_public_keys_only(client):
    """RFC 7517: the private parts never leave the server."""
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert {key["alg"]: key["kty"] for key in keys} == {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}
    for key in keys:
        assert key["use"] == "sig"
        assert key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_home_page_names_the_party(client):
    """Every page says which party it is."""
    page = client.get("/")
    assert page.status_code == 200
    assert "Authorization Server" in page.text


def test_unknown_page_is_a_readable_404(client):
    """Front channel: an HTML page, not a traceback."""
    page = client.get("/nope")
    assert page.status_code == 404
    assert page.mimetype == "text/html"


@pytest.mark.parametrize("method, path", [("PUT", "/interaction/x/login"), ("DELETE", "/authorize")])
def test_wrong_method_on_a_page_is_a_readable_405(client, method, path):
    """Front channel: 405 is a page with an Allow header, not a crash."""
    page = client.open(path, method=method)
    assert page.status_code == 405
    assert page.mimetype == "text/html"
    assert "GET" in page.headers["Allow"]

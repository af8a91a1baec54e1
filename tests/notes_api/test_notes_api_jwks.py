"""bearer.py, the key side: discovery, the JWKS cache, key rotation, and the AS being down."""

import pytest
import requests
import responses

ISSUER = "http://localhost:9000"
INTERNAL = "http://auth_server:9000"


def test_keys_are_fetched_once_then_cached(api, auth_server, make_token):
    """One discovery and one JWKS fetch serve many requests (JWKS_CACHE_SECONDS)."""
    for _ in range(3):
        assert api.list_notes(make_token()).status_code == 200
    assert auth_server.calls_to(auth_server.discovery_url) == 1
    assert auth_server.jwks_calls == 1


def test_cached_keys_expire(make_app, auth_server, make_token):
    """With a zero cache lifetime every request fetches the JWKS again."""
    client = make_app(JWKS_CACHE_SECONDS=0).test_client()
    for _ in range(2):
        response = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token()})
        assert response.status_code == 200
    assert auth_server.jwks_calls == 2
    assert auth_server.calls_to(auth_server.discovery_url) == 1


def test_unknown_kid_refetches_jwks_exactly_once(make_app, auth_server, make_token, assert_bearer_error):
    """An unknown kid may mean a rotation: fetch again once, then give up with invalid_token."""
    client = make_app(JWKS_MIN_REFETCH_SECONDS=0).test_client()
    token = make_token(header={"kid": "no-such-key"})
    response = client.get("/api/notes", headers={"Authorization": "Bearer " + token})
    assert_bearer_error(response, 401, "invalid_token")
    assert "unknown kid" in response.get_json()["error_description"]
    assert auth_server.jwks_calls == 2  # the first fetch, and exactly one refetch


def test_unknown_kid_refetches_are_rate_limited(api, auth_server, make_token, assert_bearer_error):
    """A spray of made-up kids cannot make us hammer the AS (JWKS_MIN_REFETCH_SECONDS)."""
    assert api.list_notes(make_token()).status_code == 200
    for number in range(5):
        response = api.list_notes(make_token(header={"kid": f"made-up-{number}"}))
        assert_bearer_error(response, 401, "invalid_token")
    assert auth_server.jwks_calls == 1


def test_rotated_key_is_picked_up(make_app, auth_server, make_token, signing_key, other_key):
    """After the AS adds a new key, a token signed with it works after one refetch."""
    client = make_app(JWKS_MIN_REFETCH_SECONDS=0).test_client()
    old = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token()})
    assert old.status_code == 200
    auth_server.publish(signing_key, other_key)
    new_token = make_token(key=other_key, header={"kid": other_key.kid})
    new = client.get("/api/notes", headers={"Authorization": "Bearer " + new_token})
    assert new.status_code == 200
    assert auth_server.jwks_calls == 2


@pytest.mark.parametrize("breakage", [
    "jwks connection refused",
    "jwks server error",
    "jwks not json",
    "jwks not a key set",
    "discovery connection refused",
    "discovery names another issuer",
    "discovery without jwks_uri",
])
def test_auth_server_unreachable_is_503(http_mock, auth_server, api, make_token, breakage):
    """No keys means no verdict: 503 temporarily_unavailable, never a 500 or a 401."""
    jwks, discovery = auth_server.jwks_url, auth_server.discovery_url
    if breakage == "jwks connection refused":
        http_mock.upsert(responses.GET, jwks, body=requests.ConnectionError("refused"))
    elif breakage == "jwks server error":
        http_mock.upsert(responses.GET, jwks, status=500, body="oops")
    elif breakage == "jwks not json":
        http_mock.upsert(responses.GET, jwks, body="<html>hello</html>")
    elif breakage == "jwks not a key set":
        http_mock.upsert(responses.GET, jwks, json={"keys": [{"kty": "RSA"}]})
    elif breakage == "discovery connection refused":
        http_mock.upsert(responses.GET, discovery, body=requests.ConnectionError("refused"))
    elif breakage == "discovery names another issuer":
        wrong = {"issuer": "http://evil.example", "jwks_uri": jwks}
        http_mock.upsert(responses.GET, discovery, json=wrong)
    elif breakage == "discovery without jwks_uri":
        http_mock.upsert(responses.GET, discovery, json={"issuer": ISSUER})

    response = api.list_notes(make_token())

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "10"
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable"
    assert "could not be reached" in body["error_description"]


def test_api_recovers_when_auth_server_returns(http_mock, auth_server, api, make_token, signing_key):
    """A failed fetch is not cached: the next request tries again."""
    http_mock.upsert(responses.GET, auth_server.jwks_url, body=requests.ConnectionError("refused"))
    assert api.list_notes(make_token()).status_code == 503
    auth_server.publish(signing_key)
    assert api.list_notes(make_token()).status_code == 200


def test_discovery_and_jwks_use_the_back_channel(auth_server, make_auth_server, make_app, make_token):
    """Discovery at the internal URL lists public URLs; the JWKS is still fetched internally."""
    internal = make_auth_server(INTERNAL)
    client = make_app(AUTH_SERVER_INTERNAL_URL=INTERNAL).test_client()

    response = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token()})

    assert response.status_code == 200
    assert internal.calls_to(INTERNAL + "/.well-known/openid-configuration") == 1
    assert internal.jwks_calls == 1
    # Nothing went to the public URL, which inside docker would be this container.
    assert auth_server.calls_to(auth_server.discovery_url) == 0
    assert auth_server.jwks_calls == 0


def test_jwks_url_override_skips_discovery(http_mock, auth_server, make_app, make_token, signing_key):
    """JWKS_URL, when set, is used as is, and discovery is never fetched."""
    keys_url = "http://keys.internal/jwks.json"
    http_mock.get(keys_url, json={"keys": [signing_key.as_dict(private=False)]})
    client = make_app(JWKS_URL=keys_url).test_client()

    response = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token()})

    assert response.status_code == 200
    assert auth_server.calls_to(auth_server.discovery_url) == 0
    assert len(http_mock.calls) == 1


@pytest.mark.parametrize(("url", "expected"), [
    (ISSUER + "/.well-known/jwks.json", INTERNAL + "/.well-known/jwks.json"),
    (ISSUER, INTERNAL),
    ("http://localhost:90001/.well-known/jwks.json", "http://localhost:90001/.well-known/jwks.json"),
    ("https://keys.example/jwks.json", "https://keys.example/jwks.json"),
])
def test_back_channel_rewrites_only_the_issuer_prefix(make_app, url, expected):
    """Only URLs under the issuer are rewritten, and only their prefix."""
    app = make_app(AUTH_SERVER_INTERNAL_URL=INTERNAL + "/")
    assert app.extensions["notes_api.issuer_keys"].back_channel(url) == expected


def test_issuer_with_a_trailing_slash_is_compared_exactly(http_mock, make_app, make_token, assert_bearer_error):
    """An issuer written with a trailing "/" (Auth0's are): discovery, then tokens, match it exactly.

    The "/" is dropped only to build the discovery URL; the issuer named in the
    metadata and in each token's `iss` must equal ISSUER, "/" included.
    """
    slashed = ISSUER + "/"
    # OIDC Discovery §4.1: the well-known path follows the issuer less its "/".
    http_mock.upsert(responses.GET, ISSUER + "/.well-known/openid-configuration",
                     json={"issuer": slashed, "jwks_uri": slashed + ".well-known/jwks.json"})
    client = make_app(ISSUER=slashed).test_client()

    accepted = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token(iss=slashed)})
    assert accepted.status_code == 200
    assert accepted.json["notes"][0]["text"] == "Buy oat milk and coffee beans."
    # RFC 9068 §4: exact match, so the same URL without its "/" is another issuer.
    refused = client.get("/api/notes", headers={"Authorization": "Bearer " + make_token(iss=ISSUER)})
    assert_bearer_error(refused, 401, "invalid_token")

"""jwt_view.py: a JWT's header and claims explained, its signature checked against the JWKS."""

import base64
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from client_app.inspector import jwt_view

NOW = 1_800_000_000


@pytest.fixture
def token(signing_key):
    """An access token as our AS signs it (RFC 9068)."""
    claims = {"iss": "http://as.test:9000", "sub": "alice", "aud": ["urn:my-notes-api"],
              "client_id": "notes-web", "scope": "read:notes", "iat": NOW, "exp": NOW + 86400,
              "jti": "j1", "custom": 1}
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": signing_key.kid}, claims, signing_key)


def test_header_and_claims_are_explained(token, signing_key):
    """Every header field and claim has its value and a sentence; times are readable."""
    explained = jwt_view.explain(token, KeySet([signing_key]), now=NOW + 60)
    header = {h["name"]: h for h in explained["header"]}
    assert header["typ"]["value"] == '"at+jwt"'
    assert "access token" in header["typ"]["explanation"]
    claims = {c["name"]: c for c in explained["claims"]}
    assert list(claims) == ["iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti", "custom"]
    assert claims["aud"]["value"] == '["urn:my-notes-api"]'
    for name in ("iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"):
        assert claims[name]["explanation"].endswith(".")
    assert claims["custom"]["explanation"] == "A claim this inspector has no explanation for."
    assert claims["iat"]["when"] == "2027-01-15 08:00:00 UTC (1 min 0 s ago)"
    assert claims["exp"]["when"].endswith("(in 23 h 59 min)")
    assert claims["sub"]["when"] == ""
    assert explained["claims_raw"]["sub"] == "alice"


def test_a_genuine_signature_passes(token, signing_key):
    """RS256 verified with the key named by kid."""
    signature = jwt_view.explain(token, KeySet([signing_key]))["signature"]
    assert signature == {"outcome": "passed",
                         "detail": f"RS256 signature verified with the JWKS key {signing_key.kid!r}"}


def test_a_tampered_token_fails(token, signing_key):
    """Change one claim and keep the signature: the check fails."""
    header, claims, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    forged["scope"] = "write:notes"
    claims = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    result = jwt_view.explain(f"{header}.{claims}.{signature}", KeySet([signing_key]))["signature"]
    assert result["outcome"] == "failed"
    assert "does not verify" in result["detail"]


def test_another_keys_signature_fails(signing_key, other_key):
    """Signed by a key the AS does not publish (same kid claimed): failed."""
    forged = jwt.encode({"alg": "RS256", "kid": signing_key.kid}, {"sub": "mallory"}, other_key)
    assert jwt_view.explain(forged, KeySet([signing_key]))["signature"]["outcome"] == "failed"


def test_an_unknown_kid_refetches_the_jwks_once(signing_key, other_key):
    """A kid the cached JWKS lacks: fetch it again (the AS may have rotated its keys)."""
    rotated = jwt.encode({"alg": "RS256", "kid": other_key.kid}, {"sub": "alice"}, other_key)
    calls = []

    def refetch():
        """The JWKS after rotation."""
        calls.append(1)
        return KeySet([signing_key, other_key])

    assert jwt_view.explain(rotated, KeySet([signing_key]), refetch)["signature"]["outcome"] == "passed"
    assert calls == [1]


def test_a_kid_unknown_even_after_refetch_fails(signing_key, other_key):
    """Still no such key: failed, saying so."""
    rotated = jwt.encode({"alg": "RS256", "kid": other_key.kid}, {"sub": "alice"}, other_key)
    result = jwt_view.explain(rotated, KeySet([signing_key]), lambda: KeySet([signing_key]))["signature"]
    assert result == {"outcome": "failed", "detail": f"no key with kid {other_key.kid!r} in the "
                                                     "authorization server's JWKS"}


def test_without_a_jwks_the_signature_is_unchecked(token):
    """The AS could not be reached: the token is still decoded, the signature unchecked."""
    explained = jwt_view.explain(token, None)
    assert explained["signature"]["outcome"] == "unchecked"
    assert explained["claims_raw"]["client_id"] == "notes-web"


@pytest.mark.parametrize("value", [
    None, 42, "", "access-token-1", "a.b", "a.b.c.d",
    "!!!.eyJzdWIiOiJhIn0.sig",  # header not base64url JSON
    "eyJhbGciOiJSUzI1NiJ9.WzFd.sig",  # claims are a JSON list, not an object
])
def test_not_a_jwt(value, signing_key):
    """Opaque tokens and garbage are not JWTs: None, never an exception."""
    assert jwt_view.explain(value, KeySet([signing_key])) is None


@pytest.mark.parametrize(("timestamp", "now", "text"), [
    (NOW, None, "2027-01-15 08:00:00 UTC"),
    (NOW, NOW, "2027-01-15 08:00:00 UTC (now)"),
    (NOW + 5, NOW, "2027-01-15 08:00:05 UTC (in 5 s)"),
    (NOW - 7200, NOW, "2027-01-15 06:00:00 UTC (2 h 0 min ago)"),
])
def test_readable_time(timestamp, now, text):
    """Unix times as UTC, with how far from now."""
    assert jwt_view.readable_time(timestamp, now) == text

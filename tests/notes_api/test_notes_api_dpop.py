"""DPoP (RFC 9449) at the notes API: bound tokens need a proof by their key (§7)."""

import base64
import hashlib
import json
import re
import secrets
import time

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

from notes_api.config import Config

from .conftest import AUDIENCE
from .conftest import DESCRIPTION_CHARS
from .conftest import ISSUER

NOTES_URL = Config.PUBLIC_URL + "/api/notes"


@pytest.fixture(scope="session")
def dpop_key():
    """The client's DPoP key pair (P-256), made once."""
    return ECKey.generate_key("P-256")


@pytest.fixture(scope="session")
def thief_key():
    """An attacker's own key, used with a stolen token."""
    return ECKey.generate_key("P-256")


def b64(data):
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(token):
    """RFC 9449 §4.2: the access token's hash, as a proof carries it."""
    return b64(hashlib.sha256(token.encode()).digest())


def make_proof(key, token, htu=NOTES_URL, htm="GET", header=None, sign_with=None, alg="ES256", **claims):
    """A DPoP proof for this token (RFC 9449 §4.2); keyword arguments replace claims."""
    proof_header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    proof_header.update(header or {})
    proof_claims = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time()),
                    "ath": ath(token)}
    proof_claims.update(claims)
    proof_claims = {name: value for name, value in proof_claims.items() if value is not None}
    return jwt.encode(proof_header, proof_claims, sign_with or key, algorithms=[alg])


@pytest.fixture
def bound_token(make_token, dpop_key):
    """An access token bound to the client's DPoP key (RFC 9449 §6.1: cnf.jkt)."""
    return make_token(cnf={"jkt": dpop_key.thumbprint()})


def call(client, token, proof=None, scheme="DPoP", method="GET"):
    """Call /api/notes with this token, scheme and proof."""
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    if method == "POST":
        return client.post("/api/notes", headers=headers, json={"text": "A DPoP note."})
    return client.get("/api/notes", headers=headers)


def assert_dpop_error(response, error):
    """RFC 9449 §7.1: 401, a DPoP challenge with our algs and the error, the same error as JSON."""
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    assert params["algs"] == " ".join(Config.DPOP_SIGNING_ALGS)
    assert params["error"] == error
    assert DESCRIPTION_CHARS.fullmatch(params["error_description"])
    assert response.get_json()["error"] == error
    assert response.get_json()["error_description"] == params["error_description"]


def test_bound_token_with_its_proof_is_accepted(client, bound_token, dpop_key):
    """§7.1: DPoP scheme, a proof by the token's key, ath of this token -> 200."""
    response = call(client, bound_token, make_proof(dpop_key, bound_token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["notes"]


def test_post_with_a_proof_for_post_is_accepted(client, bound_token, dpop_key):
    """§4.3: htm is the request's method."""
    response = call(client, bound_token, make_proof(dpop_key, bound_token, htm="POST"), method="POST")
    assert response.status_code == 201, response.get_json()


def test_bound_token_as_bearer_is_refused(client, bound_token):
    """§7.2: a DPoP-bound token replayed as a bearer token -> invalid_token."""
    assert_dpop_error(call(client, bound_token, scheme="Bearer"), "invalid_token")


def test_bound_token_without_proof_is_refused(client, bound_token):
    """§7.1: the DPoP scheme without a DPoP header -> invalid_dpop_proof."""
    assert_dpop_error(call(client, bound_token), "invalid_dpop_proof")


def test_proof_by_another_key_is_refused(client, bound_token, thief_key):
    """§7.1: a stolen token with the thief's own key: the jkt does not match."""
    assert_dpop_error(call(client, bound_token, make_proof(thief_key, bound_token)), "invalid_dpop_proof")


def test_reused_proof_is_refused(client, bound_token, dpop_key):
    """§11.1: a proof's jti is single use."""
    proof = make_proof(dpop_key, bound_token)
    assert call(client, bound_token, proof).status_code == 200
    assert_dpop_error(call(client, bound_token, proof), "invalid_dpop_proof")


def test_proof_for_another_token_is_refused(client, bound_token, dpop_key, make_token):
    """§4.3 check 12: ath is the hash of the token sent with it."""
    other = make_token(cnf={"jkt": dpop_key.thumbprint()})
    assert_dpop_error(call(client, bound_token, make_proof(dpop_key, other)), "invalid_dpop_proof")


@pytest.mark.parametrize("claims", [
    {"htu": Config.PUBLIC_URL + "/api"},
    {"htu": "http://notes_api:8000/api/notes"},
    {"htm": "POST"},
    {"iat": int(time.time()) - 3600},
    {"iat": int(time.time()) + 3600},
    {"jti": None},
    {"ath": None},
], ids=["other-htu", "internal-host-htu", "other-htm", "iat-too-old", "iat-in-future", "no-jti", "no-ath"])
def test_proof_for_another_request_is_refused(client, bound_token, dpop_key, claims):
    """§4.3: htm, htu (PUBLIC_URL), a recent iat, a jti and an ath."""
    assert_dpop_error(call(client, bound_token, make_proof(dpop_key, bound_token, **claims)), "invalid_dpop_proof")


def test_htu_with_a_query_is_accepted(client, bound_token, dpop_key):
    """§4.3 check 9: htu is compared without its query and fragment."""
    response = call(client, bound_token, make_proof(dpop_key, bound_token, htu=NOTES_URL + "?page=1"))
    assert response.status_code == 200, response.get_json()


def test_unsigned_proof_is_refused(client, bound_token, dpop_key):
    """§4.3: alg none is never accepted."""
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": dpop_key.as_dict(private=False)}
    claims = {"jti": secrets.token_urlsafe(12), "htm": "GET", "htu": NOTES_URL, "iat": int(time.time()),
              "ath": ath(bound_token)}
    proof = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."
    assert_dpop_error(call(client, bound_token, proof), "invalid_dpop_proof")


def test_hs256_proof_is_refused(client, bound_token, dpop_key):
    """§4.2: a proof is signed with an asymmetric key, never a MAC."""
    proof = make_proof(dpop_key, bound_token, alg="HS256", sign_with=OctKey.generate_key(256))
    assert_dpop_error(call(client, bound_token, proof), "invalid_dpop_proof")


def test_symmetric_jwk_in_header_is_refused(client, bound_token, dpop_key):
    """§4.2: the jwk is an asymmetric public key, never a shared secret."""
    secret = OctKey.generate_key(256)
    proof = make_proof(dpop_key, bound_token, alg="HS256", sign_with=secret, header={"jwk": secret.as_dict()})
    assert_dpop_error(call(client, bound_token, proof), "invalid_dpop_proof")


def test_private_jwk_in_header_is_refused(client, bound_token, dpop_key):
    """§4.3 check 7: the jwk header holds a public key only."""
    proof = make_proof(dpop_key, bound_token, header={"jwk": dpop_key.as_dict(private=True)})
    assert_dpop_error(call(client, bound_token, proof), "invalid_dpop_proof")


def test_wrong_typ_is_refused(client, bound_token, dpop_key):
    """§4.3 check 4: typ is dpop+jwt."""
    assert_dpop_error(call(client, bound_token, make_proof(dpop_key, bound_token, header={"typ": "JWT"})),
                      "invalid_dpop_proof")


def test_ps256_proof_is_accepted(client, make_token):
    """§5.1: PS256 proofs, with an RSA jwk, work as ES256 ones do."""
    key = RSAKey.generate_key(2048)
    token = make_token(cnf={"jkt": key.thumbprint()})
    response = call(client, token, make_proof(key, token, alg="PS256"))
    assert response.status_code == 200, response.get_json()


def test_unbound_token_with_dpop_scheme_is_refused(client, make_token, dpop_key):
    """A token without cnf.jkt is a bearer token: the DPoP scheme does not fit it."""
    token = make_token()
    assert_dpop_error(call(client, token, make_proof(dpop_key, token)), "invalid_token")


def test_expired_dpop_token_gets_a_dpop_challenge(client, make_token, dpop_key):
    """§7.1: a request that used the DPoP scheme is answered in it, for any token error."""
    token = make_token(cnf={"jkt": dpop_key.thumbprint()}, exp=int(time.time()) - 3600)
    assert_dpop_error(call(client, token, make_proof(dpop_key, token)), "invalid_token")


def test_bearer_tokens_still_get_bearer_challenges(client, make_token):
    """A plain bearer token keeps RFC 6750's behaviour and challenge."""
    assert call(client, make_token(), scheme="Bearer").status_code == 200
    response = call(client, make_token(exp=int(time.time()) - 3600), scheme="Bearer")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="notes_api", error="invalid_token"')


@pytest.fixture
def introspecting_api(make_app, http_mock, auth_server, dpop_key):
    """The API with TOKEN_CHECK=introspection; the AS says the token is bound to dpop_key (§6.2)."""
    now = int(time.time())
    http_mock.upsert(responses.POST, auth_server.introspection_url, json={
        "active": True, "iss": ISSUER, "sub": "alice", "client_id": "notes-dpop",
        "aud": [AUDIENCE], "scope": "read:notes", "iat": now, "exp": now + 600,
        "token_type": "DPoP", "cnf": {"jkt": dpop_key.thumbprint()}})
    return make_app(TOKEN_CHECK="introspection").test_client()


def test_introspected_dpop_token_needs_its_proof(introspecting_api, dpop_key, thief_key):
    """§6.2: with introspection, cnf.jkt comes from the AS's answer, and binds just the same."""
    token = "opaque-looking-token"
    assert call(introspecting_api, token, make_proof(dpop_key, token)).status_code == 200
    assert_dpop_error(call(introspecting_api, token, scheme="Bearer"), "invalid_token")
    assert_dpop_error(call(introspecting_api, token, make_proof(thief_key, token)), "invalid_dpop_proof")

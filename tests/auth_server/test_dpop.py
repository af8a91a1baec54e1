"""DPoP (RFC 9449) at the authorization server: proofs, nonces, bound codes and tokens."""

import base64
import json
import secrets
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

from auth_server import dpop
from auth_server.config import Config

from .conftest import CALLBACK
from .conftest import WEB
from .conftest import Flow

ISSUER = Config.ISSUER
PAR_URL = ISSUER + "/oauth/par"
TOKEN_URL = ISSUER + "/oauth/token"
DPOP = ("notes-dpop", "notes-dpop-secret")

# A client registered for DPoP-bound tokens only (RFC 9449 §5.2).
DPOP_CLIENT = {
    "client_id": DPOP[0],
    "client_secret": DPOP[1],
    "client_name": "DPoP test client",
    "redirect_uris": [CALLBACK],
    "token_endpoint_auth_methods": ["client_secret_basic"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "scope": "openid profile email read:notes write:notes offline_access",
    "require_pushed_authorization_requests": True,
    "require_pkce": True,
    "dpop_bound_access_tokens": True,
}


@pytest.fixture(scope="session")
def dpop_key():
    """The client's DPoP key pair (P-256), made once."""
    return ECKey.generate_key("P-256")


@pytest.fixture(scope="session")
def other_key():
    """Someone else's DPoP key: an attacker holding a stolen code or token."""
    return ECKey.generate_key("P-256")


@pytest.fixture
def test_config(test_config):
    """The test settings, with the DPoP client registered."""
    return {**test_config, "CLIENTS": [*Config.CLIENTS, DPOP_CLIENT]}


def b64(data):
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def make_proof(key, htu, htm="POST", nonce=None, header=None, sign_with=None, alg="ES256", **claims):
    """A DPoP proof (RFC 9449 §4.2); keyword arguments replace claims (None leaves one out)."""
    proof_header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    proof_header.update(header or {})
    proof_claims = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time()), "nonce": nonce}
    proof_claims.update(claims)
    proof_claims = {name: value for name, value in proof_claims.items() if value is not None}
    return jwt.encode(proof_header, proof_claims, sign_with or key, algorithms=[alg])


class DPoPFlow(Flow):
    """The PAR flow of the DPoP client: pushes and token requests may carry a proof."""

    def __init__(self, client, key):
        super().__init__(client)
        self.key = key

    def server_nonce(self):
        """The DPoP-Nonce the server gives on every PAR and token response (§8)."""
        return self.client.post("/oauth/token").headers["DPoP-Nonce"]

    def push(self, auth=DPOP, proof=None, **overrides):
        """Step 2, as the DPoP client, with a DPoP header if given."""
        headers = {"DPoP": proof} if proof else {}
        self.client_id = auth[0]  # the browser arrives at /authorize for this client
        return self.client.post("/oauth/par", auth=auth, data=self.params(**overrides), headers=headers)

    def authorize(self, request_uri, client_id=None, **extra):
        """Step 4 for the client that pushed."""
        return super().authorize(request_uri, client_id or self.client_id, **extra)

    def proof(self, htu=TOKEN_URL, key=None, **claims):
        """A proof for the token endpoint with the server's current nonce."""
        claims.setdefault("nonce", self.server_nonce())
        return make_proof(key or self.key, htu, **claims)

    def token_request(self, data, proof=None, auth=DPOP):
        """POST /oauth/token with this form and proof."""
        headers = {"DPoP": proof} if proof else {}
        return self.client.post("/oauth/token", auth=auth, data=data, headers=headers)

    def exchange(self, code, proof=None, auth=DPOP):
        """Step 8 with a DPoP proof."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": self.verifier}
        return self.token_request(data, proof, auth)

    def bound_code(self):
        """A code bound to this flow's key by dpop_jkt at PAR (§10)."""
        return self.code(dpop_jkt=self.key.thumbprint())["code"]


@pytest.fixture
def dflow(client, dpop_key):
    """The DPoP client's flow, with its key."""
    return DPoPFlow(client, dpop_key)


def assert_dpop_error(response, error="invalid_dpop_proof"):
    """An RFC 9449 error: 400 with the error code, and a nonce for the next proof."""
    assert response.status_code == 400, response.json
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert response.headers["DPoP-Nonce"]


def test_discovery_lists_the_dpop_algs(client):
    """RFC 9449 §5.1: dpop_signing_alg_values_supported is config's list."""
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["dpop_signing_alg_values_supported"] == Config.DPOP_SIGNING_ALGS


def test_dpop_client_gets_a_dpop_bound_token(dflow, dpop_key, jwks):
    """§5, §6.1: PAR with dpop_jkt, code, proof -> token_type DPoP and cnf.jkt."""
    response = dflow.exchange(dflow.bound_code(), dflow.proof())
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"
    claims = jwt.decode(response.json["access_token"], jwks).claims
    assert claims["cnf"] == {"jkt": dpop_key.thumbprint()}
    assert response.headers["DPoP-Nonce"]


def test_proof_without_nonce_gets_use_dpop_nonce_then_succeeds(dflow):
    """§8: no nonce -> 400 use_dpop_nonce with DPoP-Nonce; the same code then works with it."""
    code = dflow.bound_code()
    refused = dflow.exchange(code, make_proof(dflow.key, TOKEN_URL))
    assert_dpop_error(refused, "use_dpop_nonce")
    nonce = refused.headers["DPoP-Nonce"]
    response = dflow.exchange(code, make_proof(dflow.key, TOKEN_URL, nonce=nonce))
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"


def test_stale_nonce_gets_use_dpop_nonce(app, dflow):
    """§8: a nonce from an earlier window is no longer current."""
    with app.app_context():
        window = int(time.time()) // app.config["DPOP_NONCE_LIFETIME"]
        stale = dpop.nonce_for_window(window - 2)
    assert_dpop_error(dflow.exchange(dflow.bound_code(), dflow.proof(nonce=stale)), "use_dpop_nonce")


def test_dpop_client_without_proof_is_refused(dflow):
    """§5.2: a client registered with dpop_bound_access_tokens must send a proof."""
    assert_dpop_error(dflow.exchange(dflow.code()["code"]))


def test_bound_code_with_another_key_is_refused(dflow, other_key):
    """§10: the code's dpop_jkt names one key; a proof by another is refused."""
    assert_dpop_error(dflow.exchange(dflow.bound_code(), dflow.proof(key=other_key)))


def test_push_with_a_proof_binds_the_code(dflow, other_key):
    """§10: a DPoP proof on the push binds the code to its key, as dpop_jkt would."""
    code = dflow.code(proof=make_proof(dflow.key, PAR_URL, nonce=dflow.server_nonce()))["code"]
    assert_dpop_error(dflow.exchange(code, dflow.proof(key=other_key)))


def test_push_without_nonce_gets_use_dpop_nonce(dflow):
    """§8: the PAR endpoint asks for its nonce too."""
    assert_dpop_error(dflow.push(proof=make_proof(dflow.key, PAR_URL)), "use_dpop_nonce")


def test_push_with_a_mismatched_dpop_jkt_is_refused(dflow, other_key):
    """§10.1: dpop_jkt and the push's proof must name the same key."""
    response = dflow.push(proof=make_proof(dflow.key, PAR_URL, nonce=dflow.server_nonce()),
                          dpop_jkt=other_key.thumbprint())
    assert_dpop_error(response)


def test_reused_proof_is_refused(dflow):
    """§11.1: a proof's jti is single use."""
    proof = dflow.proof()
    assert dflow.exchange(dflow.bound_code(), proof).status_code == 200
    second_code = dflow.code(dpop_jkt=dflow.key.thumbprint(), nonce=secrets.token_urlsafe(8))["code"]
    assert_dpop_error(dflow.exchange(second_code, proof))


@pytest.mark.parametrize("claims", [
    {"htu": ISSUER + "/oauth/par"},
    {"htu": "http://auth_server:9000/oauth/token"},
    {"htm": "GET"},
    {"iat": int(time.time()) - 3600},
    {"iat": int(time.time()) + 3600},
    {"jti": None},
], ids=["other-htu", "internal-host-htu", "other-htm", "iat-too-old", "iat-in-future", "no-jti"])
def test_proof_for_another_request_is_refused(dflow, claims):
    """§4.3: htm, htu (our public URL), a recent iat and a jti."""
    assert_dpop_error(dflow.exchange(dflow.bound_code(), dflow.proof(**claims)))


def test_proof_with_a_query_in_htu_is_accepted(dflow):
    """§4.3 check 9: htu is compared without its query and fragment."""
    response = dflow.exchange(dflow.bound_code(), dflow.proof(htu=TOKEN_URL + "?x=1#y"))
    assert response.status_code == 200, response.json


def test_unsigned_proof_is_refused(dflow):
    """§4.3: alg none is never accepted."""
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": dflow.key.as_dict(private=False)}
    claims = {"jti": secrets.token_urlsafe(12), "htm": "POST", "htu": TOKEN_URL,
              "iat": int(time.time()), "nonce": dflow.server_nonce()}
    assert_dpop_error(dflow.exchange(dflow.bound_code(), f"{b64(header)}.{b64(claims)}."))


def test_hs256_proof_is_refused(dflow):
    """§4.2: a proof is signed with an asymmetric key, never a MAC."""
    secret = OctKey.generate_key(256)
    proof = dflow.proof(alg="HS256", sign_with=secret)
    assert_dpop_error(dflow.exchange(dflow.bound_code(), proof))


def test_symmetric_jwk_in_header_is_refused(dflow):
    """§4.2: the jwk is an asymmetric public key, never a shared secret."""
    secret = OctKey.generate_key(256)
    proof = dflow.proof(alg="HS256", sign_with=secret, header={"jwk": secret.as_dict()})
    assert_dpop_error(dflow.exchange(dflow.bound_code(), proof))


def test_private_jwk_in_header_is_refused(dflow):
    """§4.3 check 7: the jwk header holds a public key only."""
    proof = dflow.proof(header={"jwk": dflow.key.as_dict(private=True)})
    assert_dpop_error(dflow.exchange(dflow.bound_code(), proof))


def test_proof_signed_by_another_key_than_its_jwk_is_refused(dflow, other_key):
    """§4.3 check 8: the signature verifies with the jwk in the header."""
    assert_dpop_error(dflow.exchange(dflow.bound_code(), dflow.proof(sign_with=other_key)))


def test_wrong_typ_is_refused(dflow):
    """§4.3 check 4: typ is dpop+jwt."""
    assert_dpop_error(dflow.exchange(dflow.bound_code(), dflow.proof(header={"typ": "JWT"})))


def test_ps256_proof_is_accepted(dflow):
    """§5.1: PS256 is on the list too; the token is bound to that RSA key."""
    key = RSAKey.generate_key(2048)
    response = dflow.exchange(dflow.code()["code"], dflow.proof(key=key, alg="PS256"))
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"


def test_refresh_token_is_bound_to_the_key(dflow, other_key, jwks):
    """§5: a refresh needs a proof by the same key, and returns a DPoP-bound token."""
    tokens = dflow.exchange(dflow.bound_code(), dflow.proof()).json
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert_dpop_error(dflow.token_request(data, dflow.proof(key=other_key)))
    response = dflow.token_request(data, dflow.proof())
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"
    assert jwt.decode(response.json["access_token"], jwks).claims["cnf"] == {"jkt": dflow.key.thumbprint()}


def test_bearer_client_still_gets_bearer_tokens(flow, jwks):
    """A client without a proof keeps its Bearer tokens, with no cnf claim."""
    tokens = flow.tokens()
    assert tokens["token_type"] == "Bearer"
    assert "cnf" not in jwt.decode(tokens["access_token"], jwks).claims


def test_bearer_client_with_a_proof_gets_a_dpop_token(client, dpop_key, jwks):
    """§5: any client that sends a valid proof gets a token bound to its key."""
    flow = DPoPFlow(client, dpop_key)
    code = flow.code(auth=WEB)["code"]
    response = flow.exchange(code, flow.proof(), auth=WEB)
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"
    assert jwt.decode(response.json["access_token"], jwks).claims["cnf"] == {"jkt": dpop_key.thumbprint()}


USERINFO_URL = ISSUER + "/userinfo"


def userinfo(client, token, proof=None, scheme="DPoP"):
    """GET /userinfo with this token, scheme and proof."""
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return client.get("/userinfo", headers=headers)


def assert_userinfo_error(response, error):
    """RFC 9449 §7.1: 401 with a DPoP challenge naming our algs and the error."""
    assert response.status_code == 401, response.json
    assert response.json["error"] == error
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'DPoP algs="{" ".join(Config.DPOP_SIGNING_ALGS)}", error="{error}"')


@pytest.fixture
def dpop_token(dflow):
    """A DPoP-bound access token of the DPoP client."""
    return dflow.exchange(dflow.bound_code(), dflow.proof()).json["access_token"]


def test_userinfo_accepts_a_dpop_token_with_its_proof(client, dflow, dpop_token):
    """§7.1: DPoP scheme, a proof by the token's key with ath and our nonce."""
    response = userinfo(client, dpop_token, dflow.proof(htu=USERINFO_URL, htm="GET", ath=dpop.token_hash(dpop_token)))
    assert response.status_code == 200, response.json
    assert response.json["sub"] == "alice"


def test_userinfo_refuses_a_dpop_token_as_bearer(client, dpop_token):
    """§7.2: a DPoP-bound token sent as a bearer token -> invalid_token."""
    assert_userinfo_error(userinfo(client, dpop_token, scheme="Bearer"), "invalid_token")


def test_userinfo_refuses_a_dpop_token_without_proof(client, dpop_token):
    """§7.1: the DPoP scheme needs a proof."""
    assert_userinfo_error(userinfo(client, dpop_token), "invalid_dpop_proof")


def test_userinfo_refuses_a_proof_by_another_key(client, dflow, dpop_token, other_key):
    """§7.1: a stolen DPoP token with the thief's own key."""
    proof = dflow.proof(key=other_key, htu=USERINFO_URL, htm="GET", ath=dpop.token_hash(dpop_token))
    assert_userinfo_error(userinfo(client, dpop_token, proof), "invalid_dpop_proof")


def test_userinfo_refuses_a_wrong_ath(client, dflow, dpop_token):
    """§4.3 check 12: ath is the hash of the token sent with the proof."""
    proof = dflow.proof(htu=USERINFO_URL, htm="GET", ath=dpop.token_hash(dpop_token + "x"))
    assert_userinfo_error(userinfo(client, dpop_token, proof), "invalid_dpop_proof")


def test_userinfo_asks_for_its_nonce(client, dflow, dpop_token):
    """§9: no nonce -> 401 use_dpop_nonce with DPoP-Nonce; with it, 200."""
    proof = make_proof(dflow.key, USERINFO_URL, htm="GET", ath=dpop.token_hash(dpop_token))
    refused = userinfo(client, dpop_token, proof)
    assert_userinfo_error(refused, "use_dpop_nonce")
    proof = make_proof(dflow.key, USERINFO_URL, htm="GET", ath=dpop.token_hash(dpop_token),
                       nonce=refused.headers["DPoP-Nonce"])
    assert userinfo(client, dpop_token, proof).status_code == 200


def test_userinfo_refuses_a_bearer_token_sent_as_dpop(client, flow, dpop_key):
    """A token without cnf.jkt is a bearer token: the DPoP scheme does not fit it."""
    token = flow.tokens()["access_token"]
    proof = make_proof(dpop_key, USERINFO_URL, htm="GET", ath=dpop.token_hash(token),
                       nonce=client.post("/oauth/token").headers["DPoP-Nonce"])
    assert_userinfo_error(userinfo(client, token, proof), "invalid_token")


def test_introspection_names_the_dpop_key(client, dpop_token, dpop_key):
    """§6.2: an introspected DPoP token says token_type DPoP and gives cnf.jkt."""
    answer = client.post("/oauth/introspect", auth=("notes-api", "notes-api-secret"), data={"token": dpop_token}).json
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": dpop_key.thumbprint()}

"""Our auth_server and notes_api under FAPI 2.0, against panva's oauth4webapi (fapi_rp.js).

The relying party is registered the way a deployer would add one: a clients file
(CLIENTS_FILE) holding its public keys inline (`jwks`), security_profile "fapi2",
DPoP-bound tokens and signed request objects required. It then runs the whole flow
with private_key_jwt, a signed request object pushed with PAR, and DPoP from the
push to the notes API.
"""

import json

import pytest
import requests
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from tests.stack import authorize
from tests.stack import free_ports

from .conftest import NOTES_API
from .conftest import RelyingParty
from .conftest import our_service

CLIENT_ID = "oauth4webapi-fapi"
# Never listened on: the test reads the redirect to it and hands it to the relying party.
REDIRECT_URI = "http://localhost:3000/fapi/callback"
SCOPE = "openid profile email read:notes"


def private_jwk(key):
    """A key as the JSON of its private JWK, for the relying party's environment."""
    return json.dumps(key.as_dict(private=True))


@pytest.fixture(scope="module")
def rp_keys():
    """The relying party's keys: RSA for its assertions and request objects, EC P-256 for DPoP."""
    signing = RSAKey.generate_key(2048, parameters={"kid": "rp-ps256", "alg": "PS256", "use": "sig"})
    dpop = ECKey.generate_key("P-256", parameters={"alg": "ES256"})
    return signing, dpop


@pytest.fixture(scope="module")
def fapi_services(tmp_path_factory, rp_keys, request):
    """auth_server with only the relying party registered (from a clients file), and notes_api."""
    tmp = tmp_path_factory.mktemp("fapi_interop")
    signing, _ = rp_keys
    clients_file = tmp / "clients.json"
    clients_file.write_text(json.dumps([{
        "client_id": CLIENT_ID,
        "client_name": "oauth4webapi (FAPI 2.0)",
        "security_profile": "fapi2",
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "PS256",
        "jwks": {"keys": [signing.as_dict(private=False)]},
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": SCOPE,
        "require_signed_request_object": True,
        "dpop_bound_access_tokens": True,
        "id_token_signed_response_alg": "PS256",
    }]))
    auth_port, api_port = free_ports(2)
    issuer = f"http://localhost:{auth_port}"
    processes = []
    try:
        processes.append(our_service("auth_server", auth_port, tmp, ISSUER=issuer, CLIENTS_FILE=str(clients_file)))
        processes[-1].wait_until_up("/.well-known/openid-configuration")
        api_url = f"http://localhost:{api_port}"
        processes.append(our_service("notes_api", api_port, tmp, ISSUER=issuer, AUDIENCE=NOTES_API,
                                     PUBLIC_URL=api_url))
        processes[-1].wait_until_up("/healthz")
        yield processes
    finally:
        for process in processes:
            process.stop()
        if request.session.testsfailed:
            for process in processes:
                print(f"\n===== {process.name} log =====\n{process.log()}")


def fapi_relying_party(node, fapi_services, signing, dpop):
    """oauth4webapi as the FAPI 2.0 client, given its issuer, its keys and the API's URL."""
    auth_server, notes_api = fapi_services
    return RelyingParty(node, "fapi_rp.js", auth_server.url, secret=None, CLIENT_ID=CLIENT_ID,
                        REDIRECT_URI=REDIRECT_URI, SCOPE=SCOPE, NOTES_API_URL=notes_api.url,
                        CLIENT_PRIVATE_JWK=private_jwk(signing), DPOP_PRIVATE_JWK=private_jwk(dpop))


@pytest.fixture(scope="module")
def fapi_rp(node, fapi_services, rp_keys):
    """The relying party with the keys it registered."""
    return fapi_relying_party(node, fapi_services, *rp_keys)


@pytest.fixture(scope="module")
def flow(fapi_rp, fapi_services, rp_keys):
    """One whole FAPI 2.0 flow: what the push returned, and what every later check returned."""
    with requests.Session() as session:  # alice's browser at our login and consent pages
        pushed = fapi_rp.authorize()
        ok, result = fapi_rp.callback(pushed, authorize(session, pushed["authorization_url"], "alice", "allow"))
    assert ok, result
    return pushed, result


def test_push_with_assertion_request_object_and_dpop_is_accepted(flow, fapi_services, rp_keys):
    """RFC 9126 §2.2 with FAPI 2.0 §5.3.2.2: a request_uri living under 600 seconds."""
    pushed, _ = flow
    assert 0 < pushed["expires_in"] < 600
    _, dpop = rp_keys
    assert pushed["dpop_jkt"] == dpop.thumbprint()
    auth_log = fapi_services[0].log()
    assert f"par: signed request object verified client={CLIENT_ID} alg=PS256" in auth_log


def test_code_exchange_gives_a_dpop_bound_token_and_a_ps256_id_token(flow, fapi_services, rp_keys):
    """RFC 9449 §5: token_type DPoP, cnf.jkt the RP's key; FAPI 2.0 §5.4.1: PS256 ID token."""
    pushed, result = flow
    assert result["token"]["token_type"].lower() == "dpop"
    _, dpop = rp_keys
    assert result["access_token_cnf"] == {"jkt": dpop.thumbprint()}
    assert result["access_token_header"]["alg"] == "PS256"
    claims = result["id_token_claims"]
    assert (claims["iss"], claims["sub"], claims["aud"]) == (fapi_services[0].url, "alice", [CLIENT_ID])
    assert claims["nonce"] == pushed["nonce"]


def test_userinfo_and_notes_api_accept_the_token_with_a_proof(flow):
    """RFC 9449 §7: UserInfo and the notes API answer a DPoP request; the API lists alice's notes."""
    _, result = flow
    assert result["userinfo"]["sub"] == "alice"
    assert result["notes"]["status"] == 200
    assert any("oat milk" in note["text"] for note in result["notes"]["body"]["notes"])


def test_notes_api_refuses_the_bound_token_as_a_bearer_token(flow):
    """RFC 9449 §7.1: a DPoP-bound token sent without a proof is refused with a DPoP challenge."""
    _, result = flow
    refused = result["bearer_refused"]
    assert refused["status"] == 401
    assert refused["www_authenticate"].startswith("DPoP")


def test_a_key_the_client_did_not_register_is_refused_at_par(node, fapi_services, rp_keys):
    """RFC 7523 §3 and RFC 6749 §5.2: an assertion by another key (same kid) is 401 invalid_client."""
    _, dpop = rp_keys
    other = RSAKey.generate_key(2048, parameters={"kid": "rp-ps256", "alg": "PS256", "use": "sig"})
    ok, error = fapi_relying_party(node, fapi_services, other, dpop).run("authorize")
    assert not ok
    assert (error["status"], error["oauth_error"]) == (401, "invalid_client")

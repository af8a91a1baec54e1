"""PROFILE=fapi2: the client's keys, private_key_jwt, the signed request object and DPoP.

The fake AS (conftest.py) answers like auth_server does for notes-fapi: PS256 ID
tokens, DPoP tokens, and, when told, a DPoP nonce it insists on (RFC 9449 §8).
"""

import base64
import hashlib
import html
import itertools
import re
import json

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey
from sqlalchemy import select

from client_app import create_app
from client_app.fapi import keys
from client_app.fapi.dpop import DPoPNonce
from client_app import masking
from client_app.inspector import jwt_view
from client_app.models import db
from tests.client_app.conftest import ISSUER
from tests.client_app.conftest import unverified_claims

FAPI_CLIENT = "notes-fapi"
# The AS's back channel, deliberately not its public issuer: htu must still name the public URL.
INTERNAL_AS = "http://as-internal.test:9000"
# The API's public URL, as it names itself, behind an internal NOTES_API_URL.
PUBLIC_API = "https://notes.public.test"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def settings(settings):
    """The client as notes-fapi: no secret, the AS reached on an internal URL."""
    return {**settings, "PROFILES": ("fapi2",), "PROFILE": "fapi2", "FAPI_CLIENT_ID": FAPI_CLIENT,
            "AUTH_SERVER_INTERNAL_URL": INTERNAL_AS, "NOTES_API_PUBLIC_URL": PUBLIC_API}


@pytest.fixture(scope="session")
def ps256_key():
    """The fake AS's PS256 key (notes-fapi's id_token_signed_response_alg)."""
    return RSAKey.generate_key(2048, parameters={"kid": "ps256-key", "use": "sig", "alg": "PS256"})


@pytest.fixture
def auth_server(auth_server, ps256_key):
    """The fake AS as it answers notes-fapi: PS256 ID tokens for it, DPoP tokens, a nonce."""
    auth_server.id_token_key = ps256_key
    auth_server.published_keys = [ps256_key]
    auth_server.id_token_alg = "PS256"
    auth_server.id_token_claims = {"aud": FAPI_CLIENT, "azp": FAPI_CLIENT}
    auth_server.token_extra = {"token_type": "DPoP"}
    auth_server.dpop_nonce = "nonce-from-the-as"
    return auth_server


def client_keys(client):
    """The client's published JWKS as a KeySet."""
    return KeySet.import_key_set(client.get("/.well-known/jwks.json").get_json())


def decode(token, key_set, alg="PS256"):
    """A JWT's header and claims, its signature verified."""
    decoded = jwt.decode(token, key_set, algorithms=[alg])
    return decoded.header, decoded.claims


def dpop_key_thumbprint(app):
    """The thumbprint of the client's DPoP key, read from its database."""
    with app.app_context():
        return keys.dpop_key().thumbprint()


def test_the_keys_are_made_once_and_kept_in_the_database(app, settings):
    """A second create_app on the same database uses the same key pairs (state lives in the DB)."""
    first = app.test_client().get("/.well-known/jwks.json").get_json()
    dpop = dpop_key_thumbprint(app)
    again = create_app(settings)
    assert again.test_client().get("/.well-known/jwks.json").get_json() == first
    assert dpop_key_thumbprint(again) == dpop
    with again.app_context():
        assert {row.name for row in db.session.scalars(select(keys.ClientKey))} == {"signing", "dpop"}


def test_the_jwks_serves_the_signing_key_public_half_only(app, client):
    """RFC 7517: public parameters only; the DPoP key is not published (it travels in proofs)."""
    document = client.get("/.well-known/jwks.json")
    assert document.status_code == 200
    (key,) = document.get_json()["keys"]
    assert key["alg"] == app.config["CLIENT_SIGNING_ALG"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    with app.app_context():
        assert key["kid"] == keys.signing_key().kid
        assert key["kid"] != keys.dpop_key().kid


def test_es256_signing_key(settings, http):
    """CLIENT_SIGNING_ALG=ES256 makes an EC P-256 signing key."""
    app = create_app({**settings, "CLIENT_SIGNING_ALG": "ES256"})
    (key,) = app.test_client().get("/.well-known/jwks.json").get_json()["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")


def test_an_unknown_profile_or_alg_is_refused(settings):
    """A typo in PROFILE or CLIENT_SIGNING_ALG stops the app at start."""
    with pytest.raises(ValueError, match="PROFILE"):
        create_app({**settings, "PROFILE": "fapi"})
    with pytest.raises(ValueError, match="CLIENT_SIGNING_ALG"):
        create_app({**settings, "CLIENT_SIGNING_ALG": "HS256"})


def test_the_push_is_a_signed_request_object(app, client, flow, auth_server):
    """RFC 9126 §3: only client_id, the request object and the client assertion are pushed."""
    flow.start()
    push = auth_server.pushes[-1]
    assert set(push["form"]) == {"client_id", "request", "client_assertion_type", "client_assertion"}
    assert push["authorization"] is None  # no secret, no HTTP Basic
    header, claims = decode(push["form"]["request"], client_keys(client))
    assert header["typ"] == "oauth-authz-req+jwt"
    # RFC 9101 §4, FAPI 2.0 §5.3.2.1: who signed it, for whom, for how long.
    assert claims["iss"] == claims["client_id"] == FAPI_CLIENT
    assert claims["aud"] == ISSUER
    assert claims["nbf"] <= claims["iat"] < claims["exp"] <= claims["nbf"] + 3600
    assert claims["jti"]
    assert claims["response_type"] == "code"
    assert claims["redirect_uri"] == app.config["REDIRECT_URI"]
    assert claims["scope"] == app.config["SCOPE"]
    assert claims["audience"] == app.config["AUDIENCE"]
    assert claims["code_challenge_method"] == "S256"
    # RFC 9449 §10: the code is bound to the client's DPoP key.
    assert claims["dpop_jkt"] == dpop_key_thumbprint(app)
    assert {"state", "nonce", "code_challenge"} <= set(claims)


def test_client_assertions_at_par_and_token_endpoint(client, flow, auth_server):
    """RFC 7523 §2.2: iss = sub = client_id, aud = the issuer, a minute's life, a new jti each time."""
    flow.complete()
    forms = [auth_server.pushes[-1]["form"], auth_server.token_requests[-1]["form"]]
    jtis = set()
    for form in forms:
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assert "client_secret" not in form
        _, claims = decode(form["client_assertion"], client_keys(client))
        assert claims["iss"] == claims["sub"] == FAPI_CLIENT
        assert claims["aud"] == ISSUER
        assert claims["exp"] - claims["iat"] == 60
        jtis.add(claims["jti"])
    assert len(jtis) == len(forms)


def test_the_token_request_carries_a_proof_with_the_nonce_from_par(app, flow, auth_server):
    """RFC 9449 §4.2: typ, ES256, the public jwk; htm, htu (the public URL), the AS's nonce."""
    flow.complete()
    (token_request,) = auth_server.token_requests  # the nonce from PAR was right: no retry
    proof = token_request["dpop"]
    header, claims = decode(proof, KeySet.import_key_set({"keys": [unverified_header(proof)["jwk"]]}), "ES256")
    assert header["typ"] == "dpop+jwt"
    assert "d" not in header["jwk"]
    assert claims["htm"] == "POST"
    assert claims["htu"] == ISSUER + "/oauth/token"
    assert claims["nonce"] == auth_server.dpop_nonce
    assert claims["jti"] and isinstance(claims["iat"], int)
    assert "ath" not in claims


def unverified_header(token):
    """A JWT's header, unverified."""
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_use_dpop_nonce_is_answered_once_with_the_nonce(app, flow, auth_server):
    """RFC 9449 §8: no nonce yet, the AS answers use_dpop_nonce; one retry with its nonce, kept in the DB."""
    auth_server.par_gives_nonce = False
    flow.complete()
    first, second = auth_server.token_requests
    assert "nonce" not in unverified_claims(first["dpop"])
    assert unverified_claims(second["dpop"])["nonce"] == auth_server.dpop_nonce
    assert unverified_claims(first["dpop"])["jti"] != unverified_claims(second["dpop"])["jti"]
    # Each attempt is a new client assertion (the AS takes each jti once).
    assert first["form"]["client_assertion"] != second["form"]["client_assertion"]
    with app.app_context():
        (row,) = db.session.scalars(select(DPoPNonce)).all()
        assert row.nonce == auth_server.dpop_nonce
        assert row.login_id == flow.row().id


def test_a_second_use_dpop_nonce_is_an_error_page(flow, auth_server, expect_page, monkeypatch):
    """One retry only: an AS that asks again gets a readable page, not a loop."""
    auth_server.par_gives_nonce = False
    flow.start()
    # The AS's nonce moves on between the two attempts (a fresh one on every answer).
    nonces = itertools.count()
    monkeypatch.setattr(type(auth_server), "dpop_nonce", property(lambda self: f"nonce-{next(nonces)}"),
                        raising=False)
    expect_page(flow.callback(), 400, "use_dpop_nonce")
    assert len(auth_server.token_requests) == 2


def test_a_bearer_token_is_refused_under_fapi2(flow, auth_server, expect_page):
    """RFC 9449 §5: the client asked for DPoP; a Bearer token would lose the binding."""
    auth_server.token_extra = {"token_type": "Bearer"}
    flow.start()
    expect_page(flow.callback(), 400, "is not DPoP")


def test_the_api_is_called_with_dpop_and_ath(app, flow, notes_api):
    """RFC 9449 §7.1: the DPoP scheme, and a proof naming the API's public URL and the token's hash."""
    flow.complete()
    assert flow.client.get("/notes").status_code == 200
    (call,) = notes_api.requests
    (proof,) = notes_api.proofs
    scheme, _, token = call["authorization"].partition(" ")
    assert scheme == "DPoP"
    claims = unverified_claims(proof)
    assert claims["htm"] == "GET"
    assert claims["htu"] == PUBLIC_API + "/api/notes"
    assert claims["ath"] == base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    assert unverified_header(proof)["jwk"]["kty"] == "EC"
    with app.app_context():
        assert unverified_header(proof)["jwk"] == keys.dpop_key().as_dict(private=False)


def test_a_refresh_carries_a_proof(app, flow, notes_api, auth_server):
    """RFC 9449 §5: the refresh token is bound to the key, so the refresh grant proves it too."""
    flow.complete()
    with app.app_context():
        login = db.session.get(type(flow.row()), flow.row().id)
        login.expires_at = 0
        db.session.commit()
    assert flow.client.get("/notes").status_code == 200
    (refresh,) = auth_server.refresh_requests()
    assert unverified_claims(refresh["dpop"])["htu"] == ISSUER + "/oauth/token"
    assert refresh["form"]["client_assertion_type"] == ASSERTION_TYPE
    assert notes_api.requests[-1]["authorization"] == f"DPoP access-token-{auth_server.issued}"


def test_the_flow_trace_call_uses_a_client_assertion(flow, flow_trace, client):
    """The inspector's call to the AS authenticates like every other: private_key_jwt."""
    flow.complete()
    assert client.get("/inspector").status_code == 200
    assert flow_trace.requests
    form = flow_trace.requests[-1]["form"]
    assert form["client_assertion_type"] == ASSERTION_TYPE
    assert flow_trace.requests[-1]["authorization"] is None



def test_the_inspector_takes_the_clients_jwts_apart(flow, flow_trace, client, notes_api):
    """Assertions (2, 8), the request object (2) and DPoP proofs (8, 11), each explained and verified."""
    flow.complete()
    client.get("/notes")
    page = html.unescape(client.get("/inspector").get_data(as_text=True))
    for title in ("The client assertion (RFC 7523 §2.2)", "The request object (RFC 9101)",
                  "The DPoP proof (RFC 9449 §4.2)"):
        assert title in page
    assert page.count('class="jwt-claims" data-token="client_assertion"') == 2
    assert page.count('class="jwt-claims" data-token="dpop_proof"') == 2
    assert page.count('class="jwt-claims" data-token="request_object"') == 1
    assert "Signature check: failed" not in page
    for name, count in (("client_assertion", 2), ("request_object", 1)):
        assert page.count(f'data-token="{name}">Signature check: passed — PS256 signature verified') == count
    assert page.count('data-token="dpop_proof">Signature check: passed — ES256 signature verified '
                      "with the public key in the proof") == 2
    for claim in ("htm", "htu", "ath", "dpop_jkt", "jti"):
        assert f'<tr data-claim="{claim}">' in page
    assert jwt_view.CLAIMS["ath"] in page
    assert jwt_view.CLAIMS_BY_KIND["client_assertion"]["aud"] in page
    assert "private_key_jwt" in page


@pytest.mark.parametrize("query", ["", "?reveal=all"])
def test_no_client_assertion_reaches_a_browser_whole(app, flow, flow_trace, client, auth_server, query):
    """An assertion is a credential: masked like the secret, even revealed, even with tokens shown."""
    app.config["INSPECTOR_SHOWS_TOKENS"] = True
    flow.complete()
    assertions = [auth_server.pushes[-1]["form"]["client_assertion"],
                  auth_server.token_requests[-1]["form"]["client_assertion"]]
    assertions += [r["form"]["client_assertion"] for r in flow_trace.requests]
    for path in ("/inspector" + query, "/inspector/export.json", "/inspector/export.mmd"):
        shown = client.get(path).get_data(as_text=True)
        for assertion in assertions:
            # Not whole, nor its signature (the part that makes it a credential).
            assert assertion not in shown
            assert assertion.rsplit(".", 1)[1] not in shown


def test_the_request_objects_state_is_masked_until_revealed(flow, flow_trace, client):
    """The state inside the decoded request object is masked like everywhere else, until revealed."""
    flow.start()
    state = flow.pushed()["state"]

    def state_row(query):
        page = client.get("/inspector" + query).get_data(as_text=True)
        table = page[page.index('class="jwt-claims" data-token="request_object"'):]
        return html.unescape(re.search(r'<tr data-claim="state">.*?</tr>', table, re.S).group(0))

    assert state not in state_row("")
    assert masking.mask(state) in state_row("")
    assert state in state_row("?reveal=all")


def test_a_dpop_bound_access_tokens_cnf_is_explained(ps256_key):
    """FAPI 2.0 access tokens: PS256 verified with the AS's JWKS, cnf.jkt explained (RFC 9449 §6.1)."""
    token = jwt.encode({"alg": "PS256", "kid": ps256_key.kid, "typ": "at+jwt"},
                       {"sub": "alice", "cnf": {"jkt": "thumbprint"}}, ps256_key, algorithms=["PS256"])
    explained = jwt_view.explain(token, KeySet([ps256_key]))
    assert explained["signature"] == {"outcome": "passed",
                                      "detail": f"PS256 signature verified with the JWKS key {ps256_key.kid!r}"}
    (cnf,) = [c for c in explained["claims"] if c["name"] == "cnf"]
    assert cnf["explanation"] == jwt_view.CLAIMS["cnf"]


def test_step_by_step_mode_runs_the_fapi2_flow(flow, notes_api, expect_page):
    """Paused before 2, 8 and 11, each Send does its step with the FAPI 2.0 pieces (the nonce kept from PAR)."""
    assert flow.post_form("/inspector/step-mode", {"on": "1"}).status_code == 303
    assert flow.start().headers["Location"] == "/inspector#step-2"
    assert flow.post_form("/inspector/send/2", page="/inspector").status_code == 303
    assert "request" in flow.auth_server.pushes[-1]["form"]
    assert flow.callback().headers["Location"] == "/inspector#step-8"
    assert flow.post_form("/inspector/send/8", page="/inspector").headers["Location"] == "/notes"
    (token_request,) = flow.auth_server.token_requests
    assert unverified_claims(token_request["dpop"])["nonce"] == flow.auth_server.dpop_nonce
    assert flow.client.get("/notes").headers["Location"] == "/inspector#step-11"
    assert flow.post_form("/inspector/send/11", page="/inspector").headers["Location"] == "/notes"
    expect_page(flow.client.get("/notes"), 200, "Buy milk")
    assert notes_api.requests[-1]["authorization"].startswith("DPoP ")

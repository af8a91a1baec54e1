"""DPoP (RFC 9449) end to end on the running stack: a bound code, a bound token, the API."""

import base64
import hashlib
import secrets
import time
from urllib.parse import urlencode

import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.stack import TIMEOUT
from tests.stack import authorize
from tests.stack import query

SEED_CLI = {"client_id": "seed-cli", "client_secret": "seed-cli-secret"}


def make_proof(key, htm, htu, **claims):
    """A DPoP proof (RFC 9449 §4.2) for one request."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    payload = {"jti": secrets.token_urlsafe(12), "htm": htm, "htu": htu, "iat": int(time.time()), **claims}
    return jwt.encode(header, payload, key, algorithms=["ES256"])


def test_dpop_flow_from_push_to_the_api(browser, stack):
    """§10 dpop_jkt at PAR, §8 the nonce dance, §5 a DPoP token, §7 the API with a proof."""
    key = ECKey.generate_key("P-256")
    pushed = requests.post(stack.auth + "/oauth/par", timeout=TIMEOUT, data={
        **SEED_CLI, "redirect_uri": "https://jwt.io", "audience": "urn:my-notes-api",
        "scope": "openid read:notes", "response_type": "code", "dpop_jkt": key.thumbprint()})
    assert pushed.status_code == 201, pushed.text
    back = authorize(browser, stack.auth + "/authorize?" + urlencode(
        {"client_id": "seed-cli", "request_uri": pushed.json()["request_uri"]}))
    code = query(back)["code"]

    token_url = stack.auth + "/oauth/token"
    form = {**SEED_CLI, "grant_type": "authorization_code", "code": code, "redirect_uri": "https://jwt.io"}
    # §8: the first proof has no nonce; the server answers use_dpop_nonce with one.
    asked = requests.post(token_url, data=form, timeout=TIMEOUT,
                          headers={"DPoP": make_proof(key, "POST", token_url)})
    assert asked.status_code == 400
    assert asked.json()["error"] == "use_dpop_nonce"
    nonce = asked.headers["DPoP-Nonce"]
    issued = requests.post(token_url, data=form, timeout=TIMEOUT,
                           headers={"DPoP": make_proof(key, "POST", token_url, nonce=nonce)})
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "DPoP"
    access_token = issued.json()["access_token"]

    notes_url = stack.api + "/api/notes"
    ath = base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()
    notes = requests.get(notes_url, timeout=TIMEOUT, headers={
        "Authorization": f"DPoP {access_token}", "DPoP": make_proof(key, "GET", notes_url, ath=ath)})
    assert notes.status_code == 200, notes.text
    assert notes.json()["notes"], "alice has seeded notes"

    # §7.2: the same token without its key, as a bearer token, is refused.
    stolen = requests.get(notes_url, timeout=TIMEOUT, headers={"Authorization": f"Bearer {access_token}"})
    assert stolen.status_code == 401
    assert stolen.json()["error"] == "invalid_token"

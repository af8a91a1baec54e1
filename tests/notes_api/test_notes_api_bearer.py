"""bearer.py: finding the token, checking the JWT, scopes, and RFC 6750 error responses."""

import base64
import hashlib
import hmac
import json
import logging
import time

import pytest
from joserfc import jws
from joserfc.jwk import RSAKey

KID = "test-key-1"


def b64url(data):
    """Base64url without padding, as JWS uses it (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value):
    """A JSON object as a JWS segment."""
    return b64url(json.dumps(value).encode())


def payload_of(token):
    """The claims of a compact JWT, read without checking anything."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# Each bad token is built from make_token and the issuer's real signing key.


def alg_none(make_token, signing_key):
    """RFC 8725 §2.1: an unsigned token that says alg "none"."""
    header = {"alg": "none", "typ": "at+jwt", "kid": KID}
    return segment(header) + "." + make_token().split(".")[1] + "."


def hs256_with_public_key(make_token, signing_key):
    """Algorithm confusion: HS256 'signed' with the issuer's public key as the HMAC secret."""
    header = {"alg": "HS256", "typ": "at+jwt", "kid": KID}
    signing_input = segment(header) + "." + make_token().split(".")[1]
    secret = signing_key.as_pem(private=False)
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def rs512_with_the_real_key(make_token, signing_key):
    """A real signature by the real key, but with an algorithm we did not allow."""
    fields = {name: value for name, value in signing_key.as_dict(private=True).items() if name != "alg"}
    unrestricted = RSAKey.import_key(fields)
    return make_token(header={"alg": "RS512"}, key=unrestricted)


def tampered_payload(make_token, signing_key):
    """Alice's token with the sub changed to bob; the signature is kept."""
    header, _, signature = make_token().split(".")
    claims = payload_of(make_token())
    claims["sub"] = "bob"
    return f"{header}.{segment(claims)}.{signature}"


def now():
    """The current time in whole seconds."""
    return int(time.time())


USERINFO = "http://localhost:9000/userinfo"

ALG = "alg is not allowed"
TYP = "typ must be at+jwt"

# How to build each bad token (from make_token and the issuer's key), and what its
# error_description must say. Times are computed when the test runs, not at import.
BAD_TOKENS = [
    pytest.param(alg_none, ALG, id="alg none"),
    pytest.param(hs256_with_public_key, ALG, id="alg confusion HS256"),
    pytest.param(rs512_with_the_real_key, ALG, id="alg RS512 not allowed"),
    pytest.param(lambda make, key: make(header={"typ": "JWT"}), TYP, id="typ JWT"),
    pytest.param(lambda make, key: make(header={"typ": None}), TYP, id="typ missing"),
    pytest.param(lambda make, key: make(header={"typ": "application/jwt"}), TYP, id="typ application/jwt"),
    pytest.param(lambda make, key: make(aud="urn:someone-else"), "'aud'", id="aud someone else"),
    pytest.param(lambda make, key: make(aud=["urn:a", USERINFO]), "'aud'", id="aud list without us"),
    pytest.param(lambda make, key: make(aud=None), "'aud'", id="aud missing"),
    pytest.param(lambda make, key: make(iss="http://evil.example"), "'iss'", id="iss other"),
    pytest.param(lambda make, key: make(iss="http://localhost:9000/"), "'iss'", id="iss trailing slash"),
    pytest.param(lambda make, key: make(iss=None), "'iss'", id="iss missing"),
    pytest.param(lambda make, key: make(iat=now() - 3600, exp=now() - 120), "expired", id="expired"),
    pytest.param(lambda make, key: make(exp=None), "'exp'", id="exp missing"),
    pytest.param(lambda make, key: make(nbf=now() + 120), "not yet valid", id="nbf in the future"),
    pytest.param(lambda make, key: make(iat=now() + 120), "in the future", id="iat in the future"),
    pytest.param(lambda make, key: make(sub=None), "'sub'", id="sub missing"),
    pytest.param(lambda make, key: make(sub=""), "'sub'", id="sub empty"),
    pytest.param(lambda make, key: make(scope=["read:notes"]), "scope claim", id="scope not a string"),
    pytest.param(lambda make, key: make(header={"kid": "no-such-key"}), "unknown kid", id="unknown kid"),
    pytest.param(lambda make, key: make(header={"kid": None}), "no kid", id="kid missing"),
    pytest.param(tampered_payload, "signature does not verify", id="tampered payload"),
    pytest.param(lambda make, key: "garbage", "not a well-formed JWT", id="garbage"),
    pytest.param(lambda make, key: "abc.def.ghi", "not a well-formed JWT", id="three garbage parts"),
]


@pytest.mark.parametrize(("build", "reason"), BAD_TOKENS)
def test_bad_token_is_invalid_token(api, make_token, signing_key, assert_bearer_error, build, reason):
    """RFC 6750 §3.1: every kind of bad token -> 401 invalid_token, in header and body."""
    response = api.list_notes(build(make_token, signing_key))
    assert_bearer_error(response, 401, "invalid_token")
    assert reason in response.get_json()["error_description"]


def test_token_signed_by_another_key_is_invalid(api, make_token, other_key, assert_bearer_error):
    """A token signed by a key the issuer does not hold, under the issuer's kid, fails."""
    response = api.list_notes(make_token(key=other_key, header={"kid": KID}))
    assert_bearer_error(response, 401, "invalid_token")
    assert response.get_json()["error_description"] == "The token's signature does not verify."


@pytest.mark.parametrize("payload", [b"[1, 2]", b"not json"], ids=["a JSON array", "not JSON"])
def test_signed_payload_that_is_not_a_claims_object_is_invalid(api, signing_key, assert_bearer_error, payload):
    """RFC 7519 §7.2: a good signature over something other than a JSON object is no token."""
    token = jws.serialize_compact({"alg": "RS256", "typ": "at+jwt", "kid": KID}, payload, signing_key)
    response = api.list_notes(token)
    assert_bearer_error(response, 401, "invalid_token")
    assert response.get_json()["error_description"] == "The token's claims are not a JSON object."


def test_expired_token_says_so(api, make_token, assert_bearer_error):
    """The description tells the client why, so it knows to refresh."""
    response = api.list_notes(make_token(exp=now() - 120))
    assert_bearer_error(response, 401, "invalid_token")
    assert response.get_json()["error_description"] == "The token is expired."


@pytest.mark.parametrize(("claim", "offset"), [
    ("exp", -10),  # expired 10 s ago: within the 30 s leeway
    ("nbf", +10),  # valid in 10 s: within the leeway
    ("iat", +10),  # issued "in 10 s" by a clock running a little fast
])
def test_clock_leeway(api, make_token, claim, offset):
    """RFC 7519 §4.1.4/§4.1.5: small clock differences are forgiven."""
    assert api.list_notes(make_token(**{claim: now() + offset})).status_code == 200


def test_single_string_audience(api, make_token):
    """RFC 7519 §4.1.3: aud may be one string instead of a list."""
    assert api.list_notes(make_token(aud="urn:my-notes-api")).status_code == 200


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_access_token_types_accepted(api, make_token, typ):
    """RFC 9068 §4: "at+jwt" or "application/at+jwt", compared case-insensitively."""
    response = api.list_notes(make_token(header={"typ": typ}))
    assert response.status_code == 200
    assert "notes" in response.get_json()


def test_no_token_gets_bare_challenge(api):
    """RFC 6750 §3.1: without any authentication info, 401 and no error code at all."""
    response = api.list_notes(None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="notes_api"'
    body = response.get_json()
    assert "error" not in body
    assert "Authorization: Bearer" in body["error_description"]


@pytest.mark.parametrize("authorization", ["Basic YWxpY2U6YWxpY2U=", "Digest username=a", "Token abc"])
def test_other_scheme_counts_as_no_token(client, authorization):
    """RFC 6750 §3.1: an unsupported authentication method is treated as none at all."""
    response = client.get("/api/notes", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="notes_api"'
    assert "error" not in response.get_json()


@pytest.mark.parametrize("authorization", [
    "Bearer",  # no token
    "Bearer ",  # still no token
    "Bearer a b",  # two tokens
    "Bearer abc,def",  # not a b64token
    'Bearer ab"c',
])
def test_malformed_authorization_header(client, assert_bearer_error, authorization):
    """RFC 6750 §2.1 and §3.1: "Bearer" must be followed by exactly one b64token -> 400."""
    response = client.get("/api/notes", headers={"Authorization": authorization})
    assert_bearer_error(response, 400, "invalid_request")


def test_scheme_name_is_case_insensitive(client, make_token):
    """RFC 9110 §11.1: "bearer" works as well as "Bearer"."""
    response = client.get("/api/notes", headers={"Authorization": "bearer " + make_token()})
    assert response.status_code == 200


def test_token_in_query_string_is_refused(client, auth_server, make_token, assert_bearer_error):
    """RFC 9700 §4.3.2: a token in the URL leaks, so it is refused, even next to a good header."""
    token = make_token()
    for headers in ({}, {"Authorization": "Bearer " + token}):
        response = client.get(f"/api/notes?access_token={token}", headers=headers)
        assert_bearer_error(response, 400, "invalid_request")
    # Refused before looking at the token: we never fetched any key.
    assert auth_server.jwks_calls == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_token_in_form_body_is_refused(client, make_token, assert_bearer_error, content_type):
    """RFC 6750 §2.2 is allowed, not required; we accept the header only (either form encoding)."""
    token = make_token()
    response = client.post("/api/notes", data={"access_token": token, "text": "hello"}, content_type=content_type)
    assert_bearer_error(response, 400, "invalid_request")


def test_token_in_query_string_is_refused_however_the_name_is_encoded(client, make_token, assert_bearer_error):
    """The query is read as any server reads it: a percent-encoded name is the same name."""
    response = client.get(f"/api/notes?access%5Ftoken={make_token()}")
    assert_bearer_error(response, 400, "invalid_request")


@pytest.mark.parametrize("scope", [
    "openid write:notes",
    "read:notesX",  # scopes match whole words, not prefixes
    None,  # no scope claim at all
])
def test_reading_without_read_scope(api, make_token, assert_bearer_error, scope):
    """RFC 6750 §3.1: a good token without the needed scope -> 403 insufficient_scope."""
    response = api.list_notes(make_token(scope=scope))
    assert_bearer_error(response, 403, "insufficient_scope", scope="read:notes")


def test_writing_without_write_scope(api, make_token, assert_bearer_error):
    """A read-only token cannot add notes."""
    response = api.add_note(make_token(scope="openid read:notes"), json={"text": "hi"})
    assert_bearer_error(response, 403, "insufficient_scope", scope="write:notes")


def test_logs_never_hold_a_whole_token(api, client, make_token, caplog):
    """Logs show at most a token's first characters: never the token, never its signature."""
    caplog.set_level(logging.DEBUG)  # every logger's lines (the libraries' too)
    caplog.set_level(logging.DEBUG, logger="notes_api")  # and the app's, the check's DEBUG line included
    good, expired = make_token(), make_token(exp=now() - 120)
    assert api.list_notes(good).status_code == 200
    assert api.add_note(good, json={"text": "logged?"}).status_code == 201
    assert api.list_notes(expired).status_code == 401
    assert api.list_notes(good + "x").status_code == 401
    assert client.get(f"/api/notes?access_token={good}").status_code == 400
    assert any("token ok" in record.getMessage() for record in caplog.records)
    for token in (good, expired):
        for record in caplog.records:
            assert token not in record.getMessage()
            assert token.split(".")[2] not in record.getMessage()

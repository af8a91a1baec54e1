"""masking.py: the one policy by which the inspector and the attack lab hide secrets, rule by rule."""

import pytest

from client_app import masking
from client_app.inspector import walkthrough
from client_app.lab import kit
from client_app.masking import SECRET_FIELDS
from client_app.masking import mask
from client_app.masking import mask_header
from client_app.masking import mask_json
from client_app.masking import mask_jwts
from client_app.masking import mask_params
from client_app.masking import mask_url

# A long secret value: cut to its first characters.
VALUE = "SplxlOBeZQQYbYS6WxSbIA"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
PUBLIC = ["scope", "redirect_uri", "iss", "client_id", "code_challenge", "code_challenge_method",
          "response_type", "grant_type", "token_type", "expires_in", "error", "username"]


def test_which_fields_are_secret():
    """Credentials, what ties a flow together, tokens, the password and the CSRF token."""
    assert SECRET_FIELDS == {
        "client_secret", "client_assertion",
        "code", "state", "nonce", "code_verifier", "request_uri",
        "access_token", "refresh_token", "id_token",
        "password", "csrf_token",
    }


@pytest.mark.parametrize(("value", "shown"), [
    (VALUE, "SplxlO…"),
    ("0123456789abc", "012345…"),
    ("0123456789ab", "…"),
    ("short", "…"),
    ("", "…"),
])
def test_how_much_is_shown(value, shown):
    """The first 6 characters and "…"; a value of 12 characters or fewer, "…" alone."""
    assert masking.SHOWN_CHARACTERS == 6
    assert mask(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c",
     "urn:ietf:params:oauth:request_uri:6esc_1…"),
    ("urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c",
     "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_1…"),
    ("urn:ietf:params:oauth:request_uri:req-1", "urn:ietf:params:oauth:request_uri:…"),
])
def test_a_request_uri_keeps_its_urn_prefix(value, shown):
    """The URN prefix is public (RFC 9126 §2.2), percent-encoded or not; only the reference is cut."""
    assert mask(value) == shown


@pytest.mark.parametrize("name", sorted(SECRET_FIELDS))
def test_every_secret_parameter_is_masked(name):
    """In a query or a form, each secret field's value is masked."""
    assert mask_params([(name, VALUE)]) == [(name, "SplxlO…")]


@pytest.mark.parametrize("name", PUBLIC)
def test_other_parameters_are_shown(name):
    """Everything else is shown whole: it is what the learner came to read."""
    assert mask_params([(name, VALUE)]) == [(name, VALUE)]


def test_a_url_has_its_secret_parameters_masked():
    """The query's secrets masked, the rest kept, shown unencoded; a URL without a query as it is."""
    url = f"http://localhost:3000/callback?code={VALUE}&state={VALUE}&iss=http%3A%2F%2Fas.test"
    assert mask_url(url) == "http://localhost:3000/callback?code=SplxlO…&state=SplxlO…&iss=http://as.test"
    assert mask_url("http://localhost:3000/callback") == "http://localhost:3000/callback"


def test_json_is_masked_at_any_depth():
    """Secret fields with a string value are masked in objects, nested objects and lists."""
    body = {"access_token": VALUE, "expires_in": 3600, "nested": {"refresh_token": VALUE},
            "list": [{"code": VALUE}, "plain"], "state": None}
    assert mask_json(body) == {"access_token": "SplxlO…", "expires_in": 3600,
                               "nested": {"refresh_token": "SplxlO…"},
                               "list": [{"code": "SplxlO…"}, "plain"], "state": None}


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("Authorization", f"Bearer {VALUE}", "Bearer SplxlO…"),
    ("authorization", "Basic bm90ZXMtd2ViOm5vdGVzLXdlYi1zZWNyZXQ=", "Basic bm90ZX…"),
    ("Authorization", VALUE, "SplxlO…"),
    ("Location", f"http://as.test/authorize?client_id=notes-web&request_uri={VALUE}",
     "http://as.test/authorize?client_id=notes-web&request_uri=SplxlO…"),
    ("Content-Type", "application/json", "application/json"),
])
def test_headers(name, value, shown):
    """Authorization keeps its scheme visible; a Location is a URL; other headers are shown."""
    assert mask_header(name, value) == shown


def test_any_jwt_in_a_text_is_masked():
    """A compact JWT is recognised anywhere in free text, whatever field it came from."""
    text = f"<p>Your token: {JWT}.</p> and eyJ-not-a-jwt"
    assert mask_jwts(text) == "<p>Your token: eyJhbG….</p> and eyJ-not-a-jwt"
    assert masking.JWT.fullmatch(JWT)


def test_the_inspector_follows_the_policy():
    """Its pieces mask exactly what the policy masks, as much as the policy shows."""
    url = "http://c/cb?" + "&".join(f"{name}={VALUE}" for name in sorted(SECRET_FIELDS) + PUBLIC)
    assert walkthrough.plain(walkthrough.url_pieces(url)) == mask_url(url)
    pieces = walkthrough.jwt_pieces([walkthrough.Piece(f"a {JWT} b")])
    assert walkthrough.plain(pieces) == mask_jwts(f"a {JWT} b") == "a eyJhbG… b"


def test_the_lab_follows_the_policy(app):
    """A run scrubs every secret it saw, and any JWT, with the policy's mask."""
    run = kit.Run(kit.Target(app.config))
    run.secrets.add(VALUE)
    assert run.scrub(f"saw {VALUE} and {JWT}") == "saw SplxlO… and eyJhbG…"


@pytest.mark.parametrize(("name", "kind"), [
    ("client_secret", masking.CREDENTIAL), ("client_assertion", masking.CREDENTIAL),
    ("access_token", masking.TOKEN), ("refresh_token", masking.TOKEN), ("id_token", masking.TOKEN),
    ("code", masking.SECRET), ("code_verifier", masking.SECRET), ("state", masking.SECRET),
    ("scope", None), ("client_id", None),
])
def test_what_each_field_is(name, kind):
    """The client's credentials, the user's tokens, the other secrets, and the public rest."""
    assert masking.field_kind(name) == kind


@pytest.mark.parametrize(("header", "kind"), [
    ("Basic bm90ZXMtd2ViOnNlY3JldA==", masking.CREDENTIAL),
    ("basic bm90ZXMtd2ViOnNlY3JldA==", masking.CREDENTIAL),
    ("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", masking.TOKEN),
    ("opaque-value", masking.CREDENTIAL),
])
def test_what_an_authorization_header_carries(header, kind):
    """Basic is the client authenticating; Bearer is the user's token; anything else counts as ours."""
    assert masking.credentials_kind(header) == kind


@pytest.mark.parametrize(("kind", "shows_tokens", "allowed"), [
    (masking.CREDENTIAL, False, False), (masking.CREDENTIAL, True, False),
    (masking.TOKEN, False, False), (masking.TOKEN, True, True),
    (masking.SECRET, False, True), (masking.SECRET, True, True),
])
def test_who_may_see_a_secret_whole(kind, shows_tokens, allowed):
    """Never the client's credentials; the tokens only where the setting allows; the rest on request."""
    assert masking.may_reveal(kind, shows_tokens) is allowed

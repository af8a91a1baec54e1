"""One flow, step by step, as the inspector shows it and the exports write it.

Brings together, for the current LoginSession:
- the messages the client recorded (flow.py): steps 1-4, 7-8, 10-12;
- what the authorization server recorded (POST /oauth/flow-trace): steps 2-7 as it
  served them, and the checks it made at step 9;
- the two JWTs of step 10, decoded, explained and signature-checked (jwt_view.py), and
  under FAPI 2.0 the client's own: its client assertions (steps 2, 8), its request
  object (step 2) and its DPoP proofs (steps 8, 11);
- cross-step checks: the same request_uri in steps 3 and 4, the same code in 7 and 8,
  the same access token in 10 and 11, the verifier of step 8 matching the challenge
  of step 2...
Secrets, as the client's one masking policy defines them (masking.py), are split out
of every text into Pieces, so a page can mask them (with a reveal toggle) and an
export can leave them masked. What no browser may have whole (the client's
credentials; the user's tokens unless INSPECTOR_SHOWS_TOKENS) is masked here, on the
server, before any page or export is made: the reveal toggle has nothing more to show.
"""

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import current_app
from joserfc.jwk import KeySet

from joserfc.errors import JoseError

from .. import flow
from .. import masking
from .. import oauth_client
from .. import stepmode
from ..fapi import keys as client_keys
from ..flow import CHANNELS
from ..flow import STEPS
from ..flow import party
from ..masking import SECRET
from ..masking import TOKEN
from ..masking import field_kind
from ..models import now
from . import jwt_view

# The JWTs of step 10 the inspector takes apart, and what each is.
JWT_NAMES = ("id_token", "access_token")
JWT_TITLES = {
    "id_token": "The ID token (OpenID Connect Core §2): who logged in",
    "access_token": "The access token (RFC 9068): what the API will accept",
    "client_assertion": "The client assertion (RFC 7523 §2.2): the client proves who it is with its "
                        "own key, instead of a secret",
    "request_object": "The request object (RFC 9101): the authorization request, signed by the client",
    "dpop_proof": "The DPoP proof (RFC 9449 §4.2): signed by the client's DPoP key for this one request",
}
# FAPI 2.0: the client's own JWTs, where they appear: (step, in the form or a header, its
# parameter or header, what it is: a JWT_TITLES and jwt_view.CLAIMS_BY_KIND key).
CLIENT_JWTS = ((2, "form", "client_assertion", "client_assertion"), (2, "form", "request", "request_object"),
               (8, "form", "client_assertion", "client_assertion"), (8, "header", "dpop", "dpop_proof"),
               (11, "header", "dpop", "dpop_proof"))


@dataclass(frozen=True)
class Piece:
    """A run of text; a secret one (it has a masking kind) is shown masked until revealed.

    A withheld piece is a secret already masked on the server (withhold): its text is
    all a browser ever gets.
    """

    text: str
    kind: str | None = None
    withheld: bool = False

    @property
    def secret(self):
        """True if the text is a secret, to be masked until revealed."""
        return self.kind is not None

    @property
    def masked(self):
        """The text, or if secret its first characters and an ellipsis (masking.mask)."""
        return masking.mask(self.text) if self.secret else self.text


def withhold(pieces, shows_tokens=False):
    """The pieces a browser may get: any secret it may not see whole is masked now, for good."""
    return [Piece(piece.masked, withheld=True)
            if piece.secret and not masking.may_reveal(piece.kind, shows_tokens) else piece
            for piece in pieces]


def plain(pieces, reveal=False):
    """Pieces joined into one string, secrets masked unless `reveal`."""
    return "".join(p.text if reveal or not p.secret else p.masked for p in pieces)


def url_pieces(url):
    """A URL with the values of secret query parameters as secret Pieces."""
    parts = urlsplit(url or "")
    if not parts.query:
        return [Piece(url or "")]
    head = url[: len(url) - len(parts.query) - (len(parts.fragment) + 1 if parts.fragment else 0)]
    pieces = [Piece(head)]
    for i, raw in enumerate(parts.query.split("&")):
        name, _, value = raw.partition("=")
        pieces.append(Piece(("&" if i else "") + name + ("=" if _ else "")))
        if value:
            pieces.append(Piece(value, field_kind(name)))
    return pieces


def header_pieces(name, value):
    """A header value; a credential keeps its scheme visible ("Bearer " + secret), a URL its shape."""
    if name.lower() in masking.URL_HEADERS:
        return url_pieces(value)
    if name.lower() not in masking.SECRET_HEADERS:
        return [Piece(value)]
    visible, credentials = masking.split_credentials(value)
    return _nonempty([Piece(visible), Piece(credentials, masking.credentials_kind(value))])


def jwt_pieces(pieces):
    """Pieces with every compact JWT left in plain text split out as a secret."""
    found = []
    for piece in pieces:
        if piece.secret:
            found.append(piece)
            continue
        at = 0
        for jwt in masking.JWT.finditer(piece.text):
            found += [Piece(piece.text[at:jwt.start()]), Piece(jwt.group(0), TOKEN)]
            at = jwt.end()
        found.append(Piece(piece.text[at:]))
    return _nonempty(found)


def _nonempty(pieces):
    """Pieces without the empty ones."""
    return [piece for piece in pieces if piece.text]


def body_pieces(body, content_type):
    """The body as ("form" | "json" | "text", pieces): forms one parameter per line, decoded."""
    if not body:
        return "text", []
    if "json" in content_type or body.lstrip().startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            pieces = [Piece("{\n")]
            for i, (name, value) in enumerate(data.items()):
                pieces.append(Piece(f'  "{name}": '))
                if field_kind(name) and isinstance(value, str):
                    pieces += [Piece('"'), Piece(value, field_kind(name)), Piece('"')]
                else:
                    # Secrets nested deeper stay masked, even when the page reveals.
                    pieces.append(Piece(json.dumps(masking.mask_json(value), ensure_ascii=False)))
                pieces.append(Piece(",\n" if i < len(data) - 1 else "\n"))
            return "json", pieces + [Piece("}")]
        if data is not None:
            return "json", [Piece(json.dumps(masking.mask_json(data), indent=2, ensure_ascii=False))]
    if "x-www-form-urlencoded" in content_type:
        pieces = []
        for i, (name, value) in enumerate(parse_qsl(body, keep_blank_values=True)):
            pieces += [Piece(("\n&" if i else "") + name + "="), Piece(value, field_kind(name))]
        return "form", pieces
    return "text", [Piece(body)]


def message_view(message, shows_tokens=False):
    """A recorded message, ready for a page: start line, headers, body, as Pieces (withheld ones masked)."""

    def shown(pieces):
        """Pieces with every JWT split out, and what the browser may not have masked for good."""
        return withhold(jwt_pieces(pieces), shows_tokens)

    headers = [(name, shown(header_pieces(name, value))) for name, value in message.headers]
    content_type = next((v for n, v in message.headers if n.lower() == "content-type"), "")
    body_kind, body = body_pieces(message.body, content_type)
    if message.kind == "request":
        start = [Piece(f"{message.method} ")] + url_pieces(message.url)
    else:
        start = [Piece(f"HTTP {message.status}")]
    return {"kind": message.kind, "start": shown(start), "headers": headers, "body_kind": body_kind,
            "body": shown(body), "status": message.status, "from_host": message.from_host,
            "to_host": message.to_host, "channel": message.channel}


def form_of(message):
    """A request's form body as a dict ({} if none)."""
    if message is None or message.kind != "request" or not message.body:
        return {}
    return dict(parse_qsl(message.body, keep_blank_values=True))


def _pushed(message):
    """The pushed authorization parameters: the form's, or the signed request object's (RFC 9126 §3)."""
    form = form_of(message)
    if "request" not in form:
        return form
    try:
        return {**form, **jwt_view.decode_part(form["request"].split(".")[1])}
    except (IndexError, ValueError, UnicodeDecodeError):
        return form


def json_of(message):
    """A response's JSON object body ({} if none)."""
    try:
        data = json.loads(message.body) if message is not None and message.body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _query(url):
    """A URL's query parameters as a dict."""
    return dict(parse_qsl(urlsplit(url or "").query, keep_blank_values=True))


def header_of(message, name):
    """A message's header value ("" if absent)."""
    if message is None:
        return ""
    return next((v for n, v in message.headers if n.lower() == name), "")


def client_authentication(authorization, form):
    """How the client authenticated in a request: the method, and where its credential was."""
    if authorization:
        return "client_secret_basic (Authorization: Basic)"
    if "client_assertion" in form:
        return "private_key_jwt (a client assertion in the form, RFC 7523 §2.2)"
    return "client_secret_post (in the form)" if "client_secret" in form else ""


def key_values(messages, shows_tokens=False):
    """The values worth pointing at in each step, {step: [(name, the Pieces that show it)]}."""
    m = messages.get
    push, pushed, sent, callback = _pushed(m(2)), json_of(m(3)), m(4), m(7)
    location = header_of(sent, "location")
    token_request, tokens = form_of(m(8)), json_of(m(10))
    auth_2, auth_8, bearer = header_of(m(2), "authorization"), header_of(m(8), "authorization"), header_of(m(11), "authorization")
    values = {
        2: [("client authentication", client_authentication(auth_2, form_of(m(2))), None)]
           + [(k, push.get(k, ""), field_kind(k)) for k in ("scope", "state", "nonce", "code_challenge",
                                                          "code_challenge_method", "redirect_uri", "dpop_jkt")],
        3: [("request_uri", str(pushed.get("request_uri", "")), SECRET),
            ("expires_in", str(pushed.get("expires_in", "")), None)],
        4: [("Location", location, None), ("request_uri", _query(location).get("request_uri", ""), SECRET)],
        7: [(k, _query(callback.url if callback else "").get(k, ""), field_kind(k))
            for k in ("code", "state", "iss")],
        8: [("client authentication", client_authentication(auth_8, token_request), None),
            ("code", token_request.get("code", ""), SECRET),
            ("code_verifier", token_request.get("code_verifier", ""), SECRET),
            ("redirect_uri", token_request.get("redirect_uri", ""), None)],
        10: [(k, str(tokens.get(k, "")), field_kind(k)) for k in (
            "access_token", "id_token", "refresh_token", "token_type", "expires_in", "scope")],
        11: [(f"access token ({bearer.partition(' ')[0]})", bearer.partition(" ")[2], TOKEN)],
        12: [("status", str(m(12).status) if m(12) else "", None)],
    }
    # A URL (step 4's Location) shows its secret parameters as secret Pieces.
    return {step: [(name, withhold(url_pieces(value) if name == "Location" else [Piece(value, kind)],
                                   shows_tokens))
                   for name, value, kind in found if value] for step, found in values.items()}


def cross_checks(messages, id_token_claims):
    """Values that must be the same in two steps, and whether they are."""
    m = messages.get
    push, callback = _pushed(m(2)), _query(m(7).url if m(7) else "")
    token_request, tokens = form_of(m(8)), json_of(m(10))
    verifier = token_request.get("code_verifier")
    pairs = [
        (4, "request_uri", "the request_uri in the redirect is the one the AS returned in step 3",
         json_of(m(3)).get("request_uri"), _query(header_of(m(4), "location")).get("request_uri")),
        (7, "state", "the state that came back is the one pushed in step 2 (CSRF defence)",
         push.get("state"), callback.get("state")),
        (8, "code", "the code sent to the token endpoint is the one that came back in step 7",
         callback.get("code"), token_request.get("code")),
        (8, "PKCE", "BASE64URL(SHA256(code_verifier)) equals the code_challenge pushed in step 2",
         push.get("code_challenge"), create_s256_code_challenge(verifier) if verifier else None),
        (10, "nonce", "the ID token's nonce is the one pushed in step 2 (replay defence)",
         push.get("nonce"), id_token_claims.get("nonce")),
        (11, "access token", "the token sent to the API is the access_token of step 10",
         tokens.get("access_token"), header_of(m(11), "authorization").partition(" ")[2] or None),
    ]
    return [{"step": step, "name": name, "label": label,
             "outcome": "not yet" if first is None or second is None else "same" if first == second else "different"}
            for step, name, label, first, second in pairs]


def states(messages, server, pause, profile=None):
    """Each step's state for the diagram: done, failed, paused, skipped or pending."""
    # The classic profile pushes nothing: steps 2 and 3 are not part of its flow.
    found = {2: "skipped", 3: "skipped"} if profile is not None and not profile.pushes else {}
    for number, message in messages.items():
        failed = message.kind == "response" and message.status >= 400 and number != 4
        if number == 7 and "error" in _query(message.url):
            failed = True
        found[number] = "failed" if failed else "done"
    requests = server.get("requests", []) if server else []
    for number in (5, 6):
        if any(r["step"] == number for r in requests):
            found[number] = "done"
    arrivals = [r for r in requests if r["step"] == 4]
    if arrivals and arrivals[0]["status"] >= 400:
        found[4] = "failed"
    token_requests = server.get("token_requests", []) if server else []
    if token_requests:
        found[9] = "done" if token_requests[0]["status"] == 200 else "failed"
    if pause is not None:
        found[pause.step] = "paused"
    return found


def build(login, reveal=False):
    """Everything the inspector shows for this login (None: no flow yet)."""
    # The user's own tokens reach their browser whole only if this demo says so.
    shows_tokens = current_app.config["INSPECTOR_SHOWS_TOKENS"]
    messages = flow.messages(login.id) if login is not None else {}
    profile = oauth_client.profile_of(login) if login is not None else None
    pause = stepmode.waiting(login)
    server, server_error = _server_report(login)
    jwts = _jwts(json_of(messages.get(10)))
    id_claims = jwts.get("id_token", {}).get("claims_raw", {}) if jwts.get("id_token") else {}
    checks = cross_checks(messages, id_claims)
    client_jwts = _client_jwts(messages, reveal, profile)
    values = key_values(messages, shows_tokens)
    step_states = states(messages, server, pause, profile)
    steps = []
    for step in STEPS:
        steps.append({
            "step": step,
            "source": party(step.source),
            "target": party(step.target),
            "channel_text": CHANNELS[step.channel],
            "state": step_states.get(step.number, "pending"),
            "message": message_view(messages[step.number], shows_tokens) if step.number in messages else None,
            "key_values": values.get(step.number, []),
            "checks": [c for c in checks if c["step"] == step.number],
            "server_requests": [_as_shown(r, reveal) for r in (server or {}).get("requests", [])
                                if _shown_at(r, step.number)],
            "jwts": ([{"name": n, "title": JWT_TITLES[n], "jwt": jwts[n]} for n in JWT_NAMES if n in jwts]
                     if step.number == 10 else client_jwts.get(step.number, [])),
        })
    token_requests = (server or {}).get("token_requests", [])
    return {
        "login": login,
        "profile": profile,
        "steps": steps,
        "states": step_states,
        "pause": pause,
        "server": server,
        "server_error": server_error,
        "token_checks": token_requests[0] if token_requests else None,
        "later_token_requests": token_requests[1:],
        "jwts": jwts,
        "cross_checks": checks,
        "reveal": reveal,
        "shows_tokens": shows_tokens,
        "issuer": current_app.config["ISSUER"],
    }


def _shown_at(server_request, number):
    """Which step's section shows an AS-side request: its own, and the redirect in 7."""
    if server_request["step"] == number:
        return True
    return number == 7 and server_request["step"] == 6 and server_request.get("location")


def _as_shown(server_request, reveal):
    """A request the AS served, its path and redirect with their secrets masked unless revealed."""
    if reveal:
        return server_request
    urls = {name: masking.mask_url(server_request[name]) for name in ("path", "location")
            if server_request.get(name)}
    return {**server_request, **urls}


def _server_report(login):
    """The AS's record of this flow, or (None, why not)."""
    if login is None or not login.request_uri:
        return None, None
    try:
        report = oauth_client.fetch_flow_trace(login)
    except oauth_client.AuthServerUnavailable as e:
        return None, e.message
    if report is None:
        return None, "The authorization server has no record of this flow (it keeps them a day)."
    return report, None


def _jwts(tokens):
    """The ID token and access token of step 10, explained (signature checked against the JWKS)."""
    if not tokens:
        return {}
    server = current_app.extensions["client_app.auth_server"]
    try:
        keys = server.keys()
    except oauth_client.AuthServerUnavailable:
        keys = None

    def refetch():
        """The JWKS fetched again (an unknown kid); empty if the AS cannot be reached."""
        try:
            return server.keys(refetch=True)
        except oauth_client.AuthServerUnavailable:
            return KeySet([])

    found = {}
    for name in JWT_NAMES:
        explained = jwt_view.explain(tokens.get(name), keys, refetch=refetch, now=now())
        if explained is not None:
            found[name] = explained
    return found


def _client_jwts(messages, reveal, profile):
    """FAPI 2.0: the JWTs the client signed, by step, explained (secret claims masked unless revealed)."""
    if profile is None or not profile.fapi:
        return {}
    own_keys = KeySet.import_key_set(client_keys.public_jwks())
    found = {}
    for number, where, field, kind in CLIENT_JWTS:
        message = messages.get(number)
        token = form_of(message).get(field) if where == "form" else header_of(message, field)
        if not token:
            continue
        if kind == "dpop_proof":
            keys, signer = _proof_key(token), "the public key in the proof's own header"
        else:
            keys, signer = own_keys, "the client's JWKS"
        explained = jwt_view.explain(token, keys, now=now(), kind=kind, signer=signer)
        if explained is None:
            continue
        for claim in explained["claims"]:
            # A request object carries the login's state and nonce: masked like everywhere else.
            if field_kind(claim["name"]) and not reveal:
                value = str(explained["claims_raw"][claim["name"]])
                claim["value"] = json.dumps(masking.mask(value), ensure_ascii=False)
        shown = {key: explained[key] for key in ("header", "claims", "signature")}
        found.setdefault(number, []).append({"name": kind, "title": JWT_TITLES[kind], "jwt": shown})
    return found


def _proof_key(proof):
    """RFC 9449 §4.2: the public key a DPoP proof carries in its header, as a KeySet (None if unusable)."""
    try:
        return KeySet.import_key_set({"keys": [jwt_view.decode_part(proof.split(".")[0])["jwk"]]})
    except (IndexError, KeyError, TypeError, ValueError, UnicodeDecodeError, JoseError):
        # No usable jwk in the header: the signature is shown unchecked.
        return None

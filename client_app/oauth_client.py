"""The client's side of the PAR flow, one function per protocol step.

Step numbers follow the seed diagram (par-flow.md, the twelve arrows):
  1-3   start_login          new LoginSession; push the request to the PAR endpoint
  4     authorization_url    send the browser with only client_id and request_uri
  7     check_callback       state, iss and error checks on the redirect back
  8-10  exchange_code        the code plus the PKCE verifier for tokens; check the ID token
  --    refresh              the refresh_token grant, when the access token runs out

Every call here is on the back channel (this process to the AS) except step 4,
which is the only URL the browser sees.

Each login runs one of the client's three profiles (config.profiles), chosen on the
home page and kept on its LoginSession:
  par      the seed's flow, as above, with the client secret.
  classic  no push: steps 2-3 do not happen, and step 4's URL carries the whole
           request (RFC 6749 §4.1.1), the way most apps still do it.
  fapi2    FAPI 2.0: the same steps with what fapi/ makes: a client assertion instead
           of the secret (private_key_jwt), the request signed as a request object at
           step 2, and DPoP: the code bound to the client's DPoP key, a proof with every
           token request, and DPoP-bound tokens (token_type DPoP).
"""

import hmac
import logging
import os
import secrets
import time
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import quote
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import current_app
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam
from sqlalchemy import update

from . import flow
from .config import profiles
from .errors import PageError
from .fapi import assertions
from .fapi import dpop
from .fapi import request_object
from .models import LoginSession
from .models import db
from .models import now

log = logging.getLogger("client_app")

# Refresh this long before the access token expires, so it cannot run out mid-call.
EXPIRY_MARGIN_SECONDS = 30
# Clock skew tolerated on the ID token's exp and iat (RFC 7519 §4.1.4: "a few minutes").
CLOCK_SKEW_SECONDS = 60
# RFC 6749 §2.3.1: the two ways a confidential client may send its secret.
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# The alg the AS signs our ID tokens with: its default, or what notes-fapi is registered
# with (id_token_signed_response_alg; FAPI 2.0 §5.4.1). RFC 8725 §3.1: we decide.
ID_TOKEN_ALGS = {"classic": ["RS256"], "par": ["RS256"], "fapi2": ["PS256"]}
# RFC 9126 §2.2: the request_uri the PAR endpoint returns is a URN under this prefix,
# followed by the server's one-time reference to the pushed request.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


class AuthServerUnavailable(PageError):
    """The AS could not be reached, or answered with something unusable."""

    status = 502
    title = "Authorization server unavailable"
    offer_login = True


class PushRejected(PageError):
    """The PAR endpoint refused the pushed request (RFC 9126 §2.3)."""

    status = 502
    title = "The authorization server refused the login request"
    offer_login = True


class CallbackRejected(PageError):
    """The redirect back to /callback does not answer a login started here."""

    status = 400
    title = "Login response rejected"
    offer_login = True


class LoginDeclined(PageError):
    """The user said no at the consent page (RFC 6749 §4.1.2.1: access_denied)."""

    status = 403
    title = "You declined"
    offer_login = True


class TokenRequestRejected(PageError):
    """The token endpoint refused the grant (RFC 6749 §5.2)."""

    status = 400
    title = "The authorization server refused to issue tokens"
    offer_login = True


class IdTokenRejected(PageError):
    """The ID token failed one of the checks of OIDC Core §3.1.3.7."""

    status = 400
    title = "The ID token could not be trusted"
    offer_login = True


class ProfileNotOffered(PageError):
    """The browser's login runs a profile this client no longer offers (PROFILES changed)."""

    status = 400
    title = "Please log in again"
    offer_login = True
    ends_session = True


class SessionExpired(PageError):
    """The tokens are dead and cannot be refreshed: the user must log in again."""

    status = 401
    title = "Your session has expired"
    offer_login = True
    ends_session = True


class AuthServer:
    """The AS as this process sees it: discovery and JWKS, each cached for a while.

    The cache is app-wide knowledge about the server, never per-user state.
    """

    def __init__(self, config):
        self.issuer = config["ISSUER"]
        # OIDC Discovery §4.1: URLs are built on the issuer without its trailing "/".
        self.public_base = self.issuer.rstrip("/")
        self.internal_base = config["AUTH_SERVER_INTERNAL_URL"] or self.public_base
        self.timeout = config["HTTP_TIMEOUT_SECONDS"]
        self.cache_seconds = config["METADATA_CACHE_SECONDS"]
        self._metadata, self._metadata_fetched = None, 0.0
        self._keys, self._keys_fetched = None, 0.0

    def back_channel(self, url):
        """Rewrite a public URL of the AS to the base this process can reach."""
        # The classic docker breakage: discovery names endpoints under the public
        # issuer (http://localhost:9000), but inside a container "localhost" is the
        # container itself. Server-to-server calls go to the internal base instead;
        # only the browser (step 4) uses the public authorization_endpoint.
        if url == self.public_base or url.startswith(self.public_base + "/"):
            return self.internal_base + url[len(self.public_base):]
        return url

    def metadata(self):
        """Discovery (OIDC Discovery §4, RFC 8414 §3), back-channel endpoints rewritten."""
        if self._metadata is not None and not self._stale(self._metadata_fetched):
            return self._metadata
        url = self.internal_base + "/.well-known/openid-configuration"
        document = _json(_send("GET", url, self.timeout), "Discovery")
        # RFC 8414 §3.3: the document must name exactly the issuer we were configured
        # with, or an impostor could hand us its own endpoints.
        if document.get("issuer") != self.issuer:
            raise AuthServerUnavailable(
                f"Discovery at {url} names the issuer {document.get('issuer')!r}, "
                f"but this client expects {self.issuer!r}.")
        needed = ("authorization_endpoint", "pushed_authorization_request_endpoint",
                  "token_endpoint", "jwks_uri")
        missing = [name for name in needed if not isinstance(document.get(name), str)]
        if missing:
            raise AuthServerUnavailable(f"Discovery at {url} has no {', '.join(missing)}.")
        self._metadata = {
            # Front channel: the browser goes here, so it stays the public URL.
            "authorization_endpoint": document["authorization_endpoint"],
            # Back channel: this process calls these directly.
            "pushed_authorization_request_endpoint":
                self.back_channel(document["pushed_authorization_request_endpoint"]),
            "token_endpoint": self.back_channel(document["token_endpoint"]),
            # RFC 9449 §4.3: a DPoP proof names the URL the AS knows itself by (its htu).
            "public_token_endpoint": document["token_endpoint"],
            "jwks_uri": self.back_channel(document["jwks_uri"]),
        }
        self._metadata_fetched = time.monotonic()
        return self._metadata

    def keys(self, refetch=False):
        """The AS's signing keys (its JWKS), fetched over the back channel and cached."""
        if self._keys is not None and not refetch and not self._stale(self._keys_fetched):
            return self._keys
        url = self.metadata()["jwks_uri"]
        document = _json(_send("GET", url, self.timeout), "The JWKS endpoint")
        try:
            self._keys = KeySet.import_key_set(document)
        except (JoseError, KeyError, TypeError, ValueError) as e:
            raise AuthServerUnavailable(f"The JWKS at {url} holds no usable key.") from e
        self._keys_fetched = time.monotonic()
        return self._keys

    def _stale(self, fetched_at):
        """True when something fetched at `fetched_at` should be fetched again."""
        return time.monotonic() - fetched_at >= self.cache_seconds


def _server():
    """This app's AuthServer (set up by init_app)."""
    return current_app.extensions["client_app.auth_server"]


def offered_profiles():
    """The profiles this client offers on its home page, in order (PROFILES)."""
    return [current_app.extensions["client_app.profiles"][name] for name in current_app.config["PROFILES"]]


def known_profile(name):
    """The Profile called `name`, offered or not; None for a name this client never had."""
    return current_app.extensions["client_app.profiles"].get(name)


def profile_of(login):
    """The Profile a login runs; a login of a profile no longer offered (PROFILES) is over."""
    profile = known_profile(login.profile)
    if profile is None or profile.name not in current_app.config["PROFILES"]:
        raise ProfileNotOffered(f"Your login used the profile {login.profile!r}, which this client no "
                                "longer offers. Please log in again.")
    return profile


# The back channel's HTTP session and the process it belongs to (see back_channel).
_back_channel = {}


def http_session():
    """A requests session that reads nothing from the environment (requests' trust_env).

    No proxy: calls go straight to the AS and the notes API. No ~/.netrc: requests
    sends netrc credentials on any call made without auth=, over the call's own
    Authorization header, so an entry for the API's host would replace the bearer
    token. (Reading them also cost about 0.15 ms a call.) A private CA (an https AS or
    notes API) is still honoured, from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE as requests
    would, read when the session is made.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return session


def back_channel():
    """This process's HTTP session for every back-channel call (the AS, the notes API).

    Built once per process, not for every call (requests.request() builds one each
    time), and never shared by two forked gunicorn workers; a server that keeps
    connections open (gunicorn's sync workers do not) gets them reused. It keeps no
    cookies: a cookie a server sets on one user's call must never ride on the next user's.
    """
    pid = os.getpid()
    if _back_channel.get("pid") != pid:
        session = http_session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # accept none
        _back_channel.update(pid=pid, session=session)
    return _back_channel["session"]


def _send(method, url, timeout, **kwargs):
    """One outbound HTTP call with a timeout; an unreachable AS becomes a 502 page."""
    try:
        return back_channel().request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as e:
        raise AuthServerUnavailable(
            f"Could not reach the authorization server at {url} ({type(e).__name__}).") from e


def _json(response, what):
    """The JSON object in an AS response; a server error or non-JSON becomes a 502 page."""
    if response.status_code >= 500:
        raise AuthServerUnavailable(f"{what} answered HTTP {response.status_code}.")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AuthServerUnavailable(f"{what} answered HTTP {response.status_code} without a JSON object.")
    return body


def client_authentication(form, client_id, client_secret, method):
    """A form and the HTTP Basic credentials (or None) that authenticate a client (RFC 6749 §2.3.1)."""
    if method == "client_secret_post":
        return {**form, "client_id": client_id, "client_secret": client_secret}, None
    # client_secret_basic: id and secret are form-urlencoded, then sent as HTTP Basic.
    return form, (quote(client_id, safe=""), quote(client_secret, safe=""))


def _post_with_client_auth(url, form, profile, headers=None):
    """POST a form to the AS, authenticated as the profile's client (fapi2: a fresh client assertion)."""
    config = current_app.config
    if profile.fapi:
        # RFC 7523 §2.2: a new assertion for each call, as the AS takes each one once.
        form, auth = {**form, **assertions.authentication_form(profile.client_id, config["ISSUER"])}, None
    else:
        form, auth = client_authentication(form, profile.client_id, profile.client_secret,
                                           config["TOKEN_ENDPOINT_AUTH_METHOD"])
    return _send("POST", url, config["HTTP_TIMEOUT_SECONDS"], data=form, auth=auth, headers=headers)


def _configured(**parameters):
    """Request parameters from settings, {name: setting}; an empty setting is not sent."""
    config = current_app.config
    return {name: config[setting] for name, setting in parameters.items() if config[setting]}


def _same(received, expected):
    """Compare two secrets in constant time, so timing leaks nothing about them."""
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    return hmac.compare_digest(received.encode(), expected.encode())


def start_login(profile, push=True):
    """Steps 1-3: a new LoginSession for a profile, pushed to the PAR endpoint; returns the saved row.

    The classic profile never pushes. push=False (step-by-step mode) saves the row
    unpushed: the inspector's "Send step 2" button pushes it later with
    push_authorization_request.
    """
    login = LoginSession(
        id=secrets.token_urlsafe(32),
        flow_id=secrets.token_hex(4),
        profile=profile.name,
        # RFC 6749 §10.12: state ties the callback to this browser (CSRF defence).
        state=secrets.token_urlsafe(32),
        # OIDC Core §3.1.2.1: nonce ties the ID token to this login (replay defence).
        nonce=secrets.token_urlsafe(32),
        # RFC 7636 §4.1: a high-entropy verifier of 43-128 unreserved characters.
        code_verifier=secrets.token_urlsafe(48),
    )
    if push and profile.pushes:
        # If the AS refuses it, the login is never saved (nor its messages, flow.py).
        push_authorization_request(login)
    # The purge writes, so it comes after the push: SQLite's write lock is then held
    # for these writes and the login's, never across the push's round trip.
    flow.forget_old_logins()
    db.session.add(login)
    db.session.commit()
    return login


def authorization_request(login):
    """The authorization request (RFC 6749 §4.1.1): pushed at step 2, or under classic, step 4's URL."""
    config = current_app.config
    return {
        "response_type": "code",
        "client_id": profile_of(login).client_id,
        "redirect_uri": config["REDIRECT_URI"],
        "scope": config["SCOPE"],
        "state": login.state,
        "nonce": login.nonce,
        # RFC 7636 §4.2: only the verifier's hash is sent now; the verifier waits for step 8.
        "code_challenge": create_s256_code_challenge(login.code_verifier),
        "code_challenge_method": "S256",
        # The API the access token is for: Auth0's `audience`, RFC 8707 §2's `resource`.
        **_configured(audience="AUDIENCE", resource="RESOURCE"),
    }


def push_authorization_request(login):
    """Steps 2-3: POST the authorization request to the PAR endpoint (RFC 9126 §2.1)."""
    profile = profile_of(login)
    endpoint = _server().metadata()["pushed_authorization_request_endpoint"]
    form = authorization_request(login)
    if profile.fapi:
        # RFC 9449 §10: bind the code to our DPoP key. RFC 9126 §3: the whole request
        # is signed as a request object; only client_id and the assertion go beside it.
        form["dpop_jkt"] = dpop.thumbprint()
        form = {"client_id": profile.client_id, "request": request_object.request_object(
            form, profile.client_id, current_app.config["ISSUER"])}
    log.info("step 2 push flow=%s profile=%s endpoint=%s", login.flow_id, profile.name, endpoint)
    response = _post_with_client_auth(endpoint, form, profile)
    # Inspector: keep steps 2 and 3 exactly as sent and received (flow.py).
    flow.record_exchange(login, 2, 3, response)
    body = _json(response, "The PAR endpoint")
    # RFC 9126 §2.2: success is 201 Created with a request_uri and its lifetime.
    if response.status_code != 201 or not isinstance(body.get("request_uri"), str):
        # RFC 9126 §2.3: otherwise an OAuth error (invalid_request, invalid_client...).
        raise PushRejected(
            "The authorization server did not accept this client's pushed authorization request.",
            error=body.get("error", f"HTTP {response.status_code}"),
            error_description=body.get("error_description"))
    login.request_uri = body["request_uri"]
    if profile.fapi:
        # RFC 9449 §8.2: the AS hands out its nonce with every answer; the token request will need it.
        dpop.remember_nonce(login, response)
    log.info("step 3 request_uri received flow=%s expires_in=%s", login.flow_id, body.get("expires_in"))


def authorization_url(login):
    """Step 4: the authorization endpoint with only client_id and request_uri (RFC 9126 §4)."""
    endpoint = _server().metadata()["authorization_endpoint"]
    profile = profile_of(login)
    if profile.pushes:
        # Everything else (scope, state, PKCE...) was pushed in step 2, out of the browser's reach.
        query = urlencode({"client_id": profile.client_id, "request_uri": login.request_uri})
    else:
        # Classic: the whole request rides in the URL, where the browser (and its history,
        # extensions, the AS's access log) sees and can change it (RFC 9126 §1).
        query = urlencode(authorization_request(login))
    separator = "&" if urlsplit(endpoint).query else "?"
    log.info("step 4 redirect flow=%s", login.flow_id)
    return endpoint + separator + query


def check_callback(login, args):
    """Step 7: accept the redirect back only if it answers this login, from our issuer.

    Returns the authorization code. A login's state works for one callback only.
    """
    log.info("step 7 callback flow=%s", login.flow_id if login else "-")
    # RFC 6749 §10.12: the state must be the one this browser's login sent (CSRF defence).
    if login is None or not _same(args.get("state"), login.state):
        raise CallbackRejected(
            "This response does not answer a login started in this browser (the state does "
            "not match). It may be a replay or a cross-site request forgery.")
    # Spend the state atomically, so a second callback with it (a replay) finds none.
    spent = db.session.execute(SPEND_STATE, {"login_id": login.id}).rowcount
    db.session.commit()
    if spent != 1:
        raise CallbackRejected("This login response has already been used.")
    # Inspector: keep step 7 as received, even if a check below refuses it. Only now:
    # a cross-site request with a made-up state must not become this browser's step 7.
    flow.record_received(login, 7)
    # RFC 9207 §2.4: our AS advertises authorization_response_iss_parameter_supported,
    # so `iss` must be present and name the server we sent the user to (mix-up defence).
    issuer = current_app.config["ISSUER"]
    if "iss" not in args:
        raise CallbackRejected("The response does not say which authorization server sent it "
                               "(no iss parameter, RFC 9207).")
    if args["iss"] != issuer:
        raise CallbackRejected(f"The response comes from {args['iss']!r}, not from {issuer!r} "
                               "where this login was sent (RFC 9207 mix-up defence).")
    # RFC 6749 §4.1.2.1: the AS reports failures in the redirect, with an error code.
    error = args.get("error")
    if error == "access_denied":
        raise LoginDeclined("You chose not to let the Notes app use your account. Nothing was "
                            "shared. You can log in again whenever you like.",
                            error=error, error_description=args.get("error_description"))
    if error:
        raise CallbackRejected("The authorization server could not complete the login.",
                               error=error, error_description=args.get("error_description"))
    code = args.get("code")
    if not code:
        raise CallbackRejected("The response carries no authorization code.", error="invalid_request")
    return code


# One UPDATE checks and spends a login's state: built once, and Core, so the login this
# request loaded keeps its old state in memory (nothing reads it after the check).
logins = LoginSession.__table__
SPEND_STATE = (update(logins).where(logins.c.id == bindparam("login_id"), logins.c.state.is_not(None))
               .values(state=None))


def exchange_code(login, code):
    """Steps 8-10: trade the code and PKCE verifier for tokens; keep them server-side."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        # RFC 6749 §4.1.3: the same redirect_uri as in the authorization request.
        "redirect_uri": current_app.config["REDIRECT_URI"],
        # RFC 7636 §4.5: proves this client is the one that pushed the code_challenge.
        "code_verifier": login.code_verifier,
    }
    log.info("step 8 token request flow=%s", login.flow_id)
    tokens = _token_request(form, login, record=True)
    claims = validate_id_token(tokens.get("id_token"), login.nonce, profile_of(login))
    _store_tokens(login, tokens)
    login.id_token = tokens["id_token"]
    login.claims = claims
    # Their job is done: the verifier and nonce are never needed again.
    login.code_verifier = login.nonce = None
    db.session.commit()
    log.info("step 10 tokens received flow=%s sub=%s scope=%r expires_in=%s",
             login.flow_id, claims.get("sub"), login.scope, tokens.get("expires_in"))


def _token_request(form, login, record=False):
    """POST a grant to the token endpoint (RFC 6749 §3.2); the tokens, or a page error.

    `record` is set for the code exchange only, whose messages the inspector shows.
    """
    endpoint = _server().metadata()["token_endpoint"]
    # RFC 8707 §2.2: name the resource again, or a server may issue a token for
    # another one (oidc-provider: for its UserInfo endpoint).
    form = {**form, **_configured(resource="RESOURCE")}
    profile = profile_of(login)
    if profile.fapi:
        response = _post_with_dpop_proof(endpoint, form, login, profile)
    else:
        response = _post_with_client_auth(endpoint, form, profile)
    if record:
        # Inspector: keep steps 8 and 10 exactly as sent and received (flow.py).
        flow.record_exchange(login, 8, 10, response)
    body = _json(response, "The token endpoint")
    if response.status_code != 200 or not isinstance(body.get("access_token"), str):
        # RFC 6749 §5.2: invalid_grant, invalid_client, ...
        raise TokenRequestRejected(
            "The authorization server would not issue tokens for this login.",
            error=body.get("error", f"HTTP {response.status_code}"),
            error_description=body.get("error_description"))
    # RFC 6750: a Bearer token; RFC 9449 §5: under fapi2, a DPoP-bound one, nothing less.
    expected = "DPoP" if profile.fapi else "Bearer"
    if str(body.get("token_type", "")).lower() != expected.lower():
        raise TokenRequestRejected(f"The token type {body.get('token_type')!r} is not {expected}.")
    return body


def _post_with_dpop_proof(endpoint, form, login, profile):
    """POST to the token endpoint with a DPoP proof; once more with the AS's nonce if it asks (RFC 9449 §8)."""
    public_url = _server().metadata()["public_token_endpoint"]
    response = _post_with_client_auth(endpoint, form, profile, headers={
        "DPoP": dpop.proof("POST", public_url, nonce=dpop.nonce_for(login))})
    dpop.remember_nonce(login, response)
    if response.status_code == 400 and _error_code(response) == "use_dpop_nonce" and response.headers.get("DPoP-Nonce"):
        # §8: our nonce was missing or stale; a new proof (and assertion) with the one just given.
        log.info("dpop: the AS asked for its nonce; retrying once flow=%s", login.flow_id)
        response = _post_with_client_auth(endpoint, form, profile, headers={
            "DPoP": dpop.proof("POST", public_url, nonce=dpop.nonce_for(login))})
        dpop.remember_nonce(login, response)
    db.session.commit()
    return response


def _error_code(response):
    """The OAuth error code of a JSON error answer, or None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _store_tokens(login, tokens):
    """Save a token response on the LoginSession (the caller commits)."""
    login.access_token = tokens["access_token"]
    # RFC 9700 §4.14.2: refresh tokens rotate; the newest is the only live one.
    login.refresh_token = tokens.get("refresh_token", login.refresh_token)
    expires_in = tokens.get("expires_in")
    # RFC 6749 §5.1: expires_in is only RECOMMENDED; without it we learn of expiry from a 401.
    login.expires_at = now() + int(expires_in) if isinstance(expires_in, (int, float)) else None
    login.scope = tokens.get("scope", login.scope)


def validate_id_token(id_token, nonce, profile):
    """OIDC Core §3.1.3.7: check the ID token's signature and claims; return its claims."""
    if not isinstance(id_token, str):
        raise IdTokenRejected("The token response has no ID token (was the openid scope granted?).")
    config = current_app.config
    server = _server()
    algorithms = ID_TOKEN_ALGS[profile.name]
    try:
        try:
            token = jwt.decode(id_token, server.keys(), algorithms=algorithms)
        except InvalidKeyIdError:
            # A key id we have not seen: the AS may have rotated its keys. Fetch once more.
            token = jwt.decode(id_token, server.keys(refetch=True), algorithms=algorithms)
        claims = token.claims
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW_SECONDS,
            # Step 2: issued by the server we sent the user to.
            iss={"essential": True, "value": config["ISSUER"]},
            # Step 3: issued for this client (aud contains our client_id).
            aud={"essential": True, "value": profile.client_id},
            sub={"essential": True},
            # Steps 9-10: not expired, not issued in the future.
            exp={"essential": True},
            iat={"essential": True},
        ).validate(claims)
    except JoseError as e:
        raise IdTokenRejected(f"The ID token failed validation: {e.description or e.error}.") from e
    # Steps 4-5: if there is an authorized party, it must be this client.
    if "azp" in claims and claims["azp"] != profile.client_id:
        raise IdTokenRejected(f"The ID token was issued to {claims['azp']!r} (azp), not to this client.")
    # Step 11: the nonce we sent in step 2 must come back, or this token is from another login.
    if not _same(claims.get("nonce"), nonce):
        raise IdTokenRejected("The ID token's nonce does not match this login (a replayed or "
                              "injected token).")
    return claims


def refresh_if_expiring(login):
    """Refresh the access token if it expires within EXPIRY_MARGIN_SECONDS."""
    if login.expires_at is not None and login.expires_at - EXPIRY_MARGIN_SECONDS <= now():
        refresh(login)


def refresh(login):
    """Trade the refresh token for new tokens (RFC 6749 §6), storing the rotated one."""
    if not login.refresh_token:
        raise SessionExpired("Your access has run out and there is no refresh token. "
                             "Please log in again.")
    log.info("refresh token grant flow=%s", login.flow_id)
    try:
        # RFC 9449 §5: under fapi2 the refresh token is bound to our DPoP key; _token_request proves it.
        tokens = _token_request({"grant_type": "refresh_token", "refresh_token": login.refresh_token}, login)
    except TokenRequestRejected as e:
        raise SessionExpired("Your access could not be renewed. Please log in again.",
                             error=e.error, error_description=e.error_description) from e
    # OIDC Core §12.2: a new ID token here would be optional; we keep the login's claims.
    _store_tokens(login, tokens)
    db.session.commit()
    log.info("refresh tokens received flow=%s expires_in=%s", login.flow_id, tokens.get("expires_in"))


def fetch_flow_trace(login):
    """The AS's own record of this flow (steps 4-7, step 9's checks), or None if it has none.

    A teaching endpoint of our AS, not an RFC: POST /oauth/flow-trace, authenticated
    as at the token endpoint, over the back channel like every server-to-server call.
    """
    if not login.request_uri:
        return None  # nothing pushed (classic, or not yet): the AS keeps its trace by request_uri
    server = _server()
    url = server.back_channel(server.issuer + "/oauth/flow-trace")
    log.info("inspector: flow trace requested flow=%s", login.flow_id)
    response = _post_with_client_auth(url, {"request_uri": login.request_uri}, profile_of(login))
    if response.status_code == 404:
        return None
    body = _json(response, "The flow-trace endpoint")
    if response.status_code != 200:
        raise AuthServerUnavailable(f"The flow-trace endpoint answered HTTP {response.status_code} "
                                    f"({body.get('error')}).")
    return body


def init_app(app):
    """Check the client settings; give the app its profiles and its view of the AS."""
    app.extensions["client_app.profiles"] = profiles(app.config)
    known = tuple(app.extensions["client_app.profiles"])
    offered = app.config["PROFILES"]
    if not offered or any(name not in known for name in offered):
        raise ValueError(f"PROFILES must list some of {known}")
    if app.config["PROFILE"] not in offered:
        raise ValueError(f"PROFILE must be one of PROFILES {offered}")
    if app.config["TOKEN_ENDPOINT_AUTH_METHOD"] not in AUTH_METHODS:
        raise ValueError(f"TOKEN_ENDPOINT_AUTH_METHOD must be one of {AUTH_METHODS}")
    app.extensions["client_app.auth_server"] = AuthServer(app.config)

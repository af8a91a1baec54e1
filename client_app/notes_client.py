"""Calls to the Notes API (the resource server) with the access token: steps 11-12.

The access token travels only here, in the Authorization header of a back-channel
request (RFC 6750 §2.1); the browser never sees it. Under fapi2 the token is DPoP-bound:
it goes with the DPoP scheme and a proof by the client's key (RFC 9449 §7.1).
"""

import logging
import re

import requests
from flask import current_app

from . import flow
from . import oauth_client
from .errors import PageError
from .fapi import dpop

log = logging.getLogger("client_app")

# RFC 6750 §3: WWW-Authenticate: Bearer error="...", error_description="...", scope="..."
# (RFC 9449 §7.1: the same parameters after the DPoP scheme.)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class NotesApiUnavailable(PageError):
    """The Notes API could not be reached (connection error, timeout, or a 5xx)."""

    status = 503
    title = "Notes service unavailable"
    offer_notes = True


class InsufficientScope(PageError):
    """The access token lacks a scope the API needs (RFC 6750 §3.1: insufficient_scope)."""

    status = 403
    title = "Missing permission"
    offer_login = True
    offer_notes = True


class NotesApiRefused(PageError):
    """The Notes API refused the request itself (a 4xx other than 401 and 403 scope)."""

    status = 400
    title = "The Notes API refused the request"
    offer_notes = True


class InvalidToken(Exception):
    """The API answered 401: the access token is expired, revoked or otherwise dead."""

    def __init__(self, error, error_description):
        super().__init__(error)
        self.error = error
        self.error_description = error_description


def call_api(login, call, *args):
    """Run one API call with a fresh access token; after a 401, refresh once and retry."""
    oauth_client.refresh_if_expiring(login)
    try:
        return call(login, *args)
    except InvalidToken:
        # RFC 6750 §3.1 invalid_token: the token may have been revoked or expired early.
        # One refresh and one retry; a second 401 means the login is over.
        oauth_client.refresh(login)
    try:
        return call(login, *args)
    except InvalidToken as e:
        raise oauth_client.SessionExpired(
            "The Notes API still rejects your access after it was renewed. Please log in again.",
            error=e.error, error_description=e.error_description) from e


def list_notes(login):
    """GET /api/notes: the user's notes, as a list of dicts."""
    body = _request(login, "GET", "/api/notes")
    notes = body.get("notes") if isinstance(body, dict) else body
    if not isinstance(notes, list):
        raise NotesApiRefused("The Notes API's answer did not contain a list of notes.")
    return notes


def add_note(login, text):
    """POST /api/notes: store one note; returns what the API answered."""
    return _request(login, "POST", "/api/notes", json={"text": text})


def _request(login, method, path, json=None):
    """Send one request with the Bearer token; the JSON answer, or a page error."""
    config = current_app.config
    url = config["NOTES_API_URL"] + path
    log.info("step 11 API call flow=%s %s %s", login.flow_id, method, path)
    try:
        response = oauth_client.back_channel().request(
            method, url, json=json, timeout=config["HTTP_TIMEOUT_SECONDS"],
            headers=authorization_headers(login, method, path))
    except requests.RequestException as e:
        raise NotesApiUnavailable(
            f"Could not reach the Notes API at {config['NOTES_API_URL']} ({type(e).__name__}). "
            "Your notes are safe; try again in a moment.") from e
    # Inspector: keep steps 11 and 12 exactly as sent and received (the first call wins).
    flow.record_exchange(login, 11, 12, response)
    if response.status_code >= 500:
        raise NotesApiUnavailable(f"The Notes API answered HTTP {response.status_code}. "
                                  "Try again in a moment.")
    if response.status_code >= 400:
        _raise_for_error(response)
    try:
        body = response.json()
    except ValueError as e:
        raise NotesApiRefused("The Notes API answered without JSON.") from e
    log.info("step 12 notes received flow=%s status=%s", login.flow_id, response.status_code)
    return body


def authorization_headers(login, method, path):
    """The headers that carry the access token: Bearer, or under fapi2 DPoP with a proof."""
    config = current_app.config
    if not oauth_client.profile_of(login).fapi:
        # RFC 6750 §2.1: the token goes in the Authorization header, never in the URL.
        return {"Authorization": f"Bearer {login.access_token}", "Accept": "application/json"}
    # RFC 9449 §4.3: htu is the URL the API knows itself by, which NOTES_API_URL may not be.
    public_url = (config["NOTES_API_PUBLIC_URL"] or config["NOTES_API_URL"]) + path
    # §7.1: the DPoP scheme, and a proof whose ath is this token's hash.
    return {"Authorization": f"DPoP {login.access_token}", "Accept": "application/json",
            "DPoP": dpop.proof(method, public_url, access_token=login.access_token)}


def _raise_for_error(response):
    """Turn a 4xx from the API into InvalidToken or the right page error."""
    error = _bearer_error(response)
    if response.status_code == 401:
        raise InvalidToken(error.get("error", "invalid_token"), error.get("error_description"))
    if response.status_code == 403 and error.get("error") == "insufficient_scope":
        needed = error.get("scope")
        raise InsufficientScope(
            f"Your access token does not carry the scope {needed or 'this request needs'}. "
            "It was not requested, or not granted at the consent page; log in again to grant it.",
            error="insufficient_scope", error_description=error.get("error_description"))
    raise NotesApiRefused(f"The Notes API answered HTTP {response.status_code}.",
                          error=error.get("error"), error_description=error.get("error_description"))


def _bearer_error(response):
    """The error fields of an API failure: the WWW-Authenticate challenge, else the JSON body."""
    challenge = response.headers.get("WWW-Authenticate", "")
    scheme = challenge.partition(" ")[0].lower()
    fields = dict(_CHALLENGE_PARAM.findall(challenge)) if scheme in ("bearer", "dpop") else {}
    if "error" not in fields:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            fields.update({k: body[k] for k in ("error", "error_description", "scope")
                           if isinstance(body.get(k), str)})
    return fields

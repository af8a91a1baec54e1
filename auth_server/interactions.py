"""Logins in progress: what happens between the browser's arrival and the redirect back.

At /authorize the request_uri is used up and its pushed parameters move into an
Interaction row, bound to this browser by a random id in its session cookie. The
login and consent pages then work from that row, so:
- a slow typist does not fail when the request_uri's 30 s run out;
- reloading the login or consent page works (RFC 9126 §4 allows the reload);
- another browser holding the same URL gets nothing (the row is not its own).
"""

import logging
import secrets

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import current_app
from flask import request
from flask import session

from .models import Interaction
from .models import db
from .models import now

log = logging.getLogger("auth_server")


def browser_id():
    """A random id for this browser, kept in its (signed) session cookie."""
    if "browser_id" not in session:
        session["browser_id"] = secrets.token_urlsafe(16)
    return session["browser_id"]


def start(oauth2_request):
    """Move a validated pushed request into a new login, bound to this browser."""
    interaction = Interaction(
        id=secrets.token_urlsafe(16),
        browser_id=browser_id(),
        client_id=oauth2_request.client.client_id,
        request_uri=getattr(oauth2_request, "request_uri", ""),
        params=dict(oauth2_request.payload.data),
        expires_at=now() + current_app.config["INTERACTION_EXPIRES_IN"],
    )
    db.session.add(interaction)
    db.session.commit()
    log.info("step 5 login started interaction=%s client=%s", interaction.id[:8], interaction.client_id)
    return interaction


def resume(request_uri):
    """The unfinished login this browser already started with this request_uri, if any."""
    if "browser_id" not in session:
        return None
    return db.session.scalar(db.select(Interaction).filter_by(
        request_uri=request_uri, browser_id=session["browser_id"], completed_at=None))


def load(interaction_id):
    """This browser's unfinished, unexpired login with this id, or None."""
    interaction = db.session.get(Interaction, interaction_id)
    if (interaction is None or interaction.browser_id != session.get("browser_id")
            or interaction.completed_at is not None or interaction.expires_at < now()):
        return None
    return interaction


def log_in(interaction, user):
    """Record who authenticated, and when (the ID token's auth_time); renew the session."""
    interaction.user_id = user.id
    interaction.auth_time = now()
    renew_session()
    db.session.commit()
    log.info("step 5 user authenticated interaction=%s sub=%s", interaction.id[:8], user.sub)


def renew_session():
    """A new browser_id and CSRF token at sign-in, so a session fixed before it is worthless.

    Session fixation: a cookie an attacker planted (or copied) before sign-in must not
    be signed in after it (OWASP: renew the session id when privilege changes). The
    cookie is signed, not stored, so renewing means a new random browser_id: this
    browser's unfinished logins move to it and the old id finds nothing. The CSRF
    token (RFC 6749 §10.12) goes too; Flask-WTF makes a new one for the next form.
    """
    old_id = session.get("browser_id")
    session.clear()
    new_id = browser_id()
    db.session.execute(db.update(Interaction).where(
        Interaction.browser_id == old_id, Interaction.completed_at.is_(None)).values(browser_id=new_id))


def oauth2_request(interaction):
    """Rebuild the authorization request from the pushed parameters stored here."""
    rebuilt = OAuth2Request(request.method, request.url, headers=request.headers)
    rebuilt.payload = BasicOAuth2Payload(interaction.params)
    rebuilt.pushed = True  # already resolved: PushedAuthorizationRequests lets it through
    rebuilt.interaction = interaction
    return rebuilt


def complete(interaction):
    """Close the login; False if another request (a double click) closed it first.

    One UPDATE checks and closes, so one login can never issue two codes.
    """
    closed = db.session.execute(
        db.update(Interaction).where(Interaction.id == interaction.id, Interaction.completed_at.is_(None))
        .values(completed_at=now())
    ).rowcount
    # Logins abandoned long ago are purged here, so they cannot pile up.
    db.session.execute(db.delete(Interaction).where(Interaction.expires_at < now() - 3600))
    db.session.commit()
    return closed == 1

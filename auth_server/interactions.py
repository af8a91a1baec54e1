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
from sqlalchemy import bindparam

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
    """Move a validated pushed request into a new login, bound to this browser; its id."""
    interaction_id = secrets.token_urlsafe(16)
    client_id = oauth2_request.client.client_id
    db.session.execute(ADD, {
        "id": interaction_id, "browser_id": browser_id(), "client_id": client_id,
        "request_uri": getattr(oauth2_request, "request_uri", ""), "params": dict(oauth2_request.payload.data),
        "expires_at": now() + current_app.config["INTERACTION_EXPIRES_IN"],
    })
    db.session.commit()
    log.info("step 5 login started interaction=%s client=%s", interaction_id[:8], client_id)
    return interaction_id


def resume(request_uri):
    """The unfinished login this browser already started with this request_uri, if any."""
    if "browser_id" not in session:
        return None
    return db.session.scalar(RESUME, {"request_uri": request_uri, "browser_id": session["browser_id"]})


def load(interaction_id):
    """This browser's unfinished, unexpired login with this id, or None."""
    if "browser_id" not in session:
        return None
    return db.session.scalar(LOAD, {"id": interaction_id, "browser_id": session["browser_id"], "now": now()})


def log_in(interaction, user):
    """Record who authenticated, and when (the ID token's auth_time); renew the session."""
    db.session.execute(LOG_IN, {"the_login": interaction.id, "the_user": user.id, "the_time": now()})
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
    db.session.execute(MOVE_TO_BROWSER, {"old_id": old_id, "new_id": browser_id()})


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
    at = now()
    closed = db.session.execute(CLOSE, {"the_login": interaction.id, "now": at}).rowcount
    # Logins abandoned long ago are purged here, so they cannot pile up.
    db.session.execute(PURGE, {"before": at - 3600})
    db.session.commit()
    return closed == 1


# A login's statements, built once: building one costs more than running it. The
# writes go to the table (Core), so the ORM has nothing to do; they do not change an
# Interaction already loaded, and no request reads one again after writing it.
# (SQLAlchemy keeps a column's own name for its new value: hence "the_login", ...)
interaction_table = Interaction.__table__
UNFINISHED = db.select(Interaction).where(Interaction.browser_id == bindparam("browser_id"),
                                          Interaction.completed_at.is_(None))
LOAD = UNFINISHED.where(Interaction.id == bindparam("id"), Interaction.expires_at >= bindparam("now"))
RESUME = UNFINISHED.where(Interaction.request_uri == bindparam("request_uri"))
ADD = interaction_table.insert()
LOG_IN = interaction_table.update().where(interaction_table.c.id == bindparam("the_login")).values(
    user_id=bindparam("the_user"), auth_time=bindparam("the_time"))
MOVE_TO_BROWSER = interaction_table.update().where(
    interaction_table.c.browser_id == bindparam("old_id"), interaction_table.c.completed_at.is_(None),
).values(browser_id=bindparam("new_id"))
CLOSE = interaction_table.update().where(
    interaction_table.c.id == bindparam("the_login"), interaction_table.c.completed_at.is_(None),
).values(completed_at=bindparam("now"))
PURGE = interaction_table.delete().where(interaction_table.c.expires_at < bindparam("before"))

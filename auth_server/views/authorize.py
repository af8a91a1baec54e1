"""The front channel: /authorize (step 4), then login and consent (steps 5-7)."""

import math

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms import StringField
from wtforms import SubmitField

from .. import interactions
from .. import login_throttle
from .. import tokens
from ..models import keep_loaded_rows
from ..oauth2 import authorization_server
from ..oauth2 import query_client

bp = Blueprint("authorize", __name__)
# Steps 4-7 commit as they go and read their client, login and user again after.
bp.before_request(keep_loaded_rows)


class LoginForm(FlaskForm):
    """Username and password (CSRF token included by Flask-WTF)."""

    username = StringField("Username")
    password = PasswordField("Password")


class ConsentForm(FlaskForm):
    """Allow or deny: denying is a first-class outcome (access_denied)."""

    allow = SubmitField("Allow")
    deny = SubmitField("Deny")


@bp.get("/authorize")
def authorize():
    """Step 4: the browser arrives with client_id and request_uri; check them now."""
    # RFC 9126 §4: the same browser reloading this URL resumes its login.
    request_uri = request.args.get("request_uri")
    if request_uri and (interaction := interactions.resume(request_uri)):
        return redirect(url_for(".login", interaction_id=interaction.id), 303)
    try:
        # Resolves the request_uri (par.py), then validates like any authorization request.
        grant = authorization_server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return authorization_error(error)
    interaction_id = interactions.start(grant.request)
    return redirect(url_for(".login", interaction_id=interaction_id), 303)


@bp.route("/interaction/<interaction_id>/login", methods=["GET", "POST"])
def login(interaction_id):
    """Step 5: the user authenticates."""
    interaction = interactions.load(interaction_id)
    if interaction is None:
        return login_gone()
    form = LoginForm()
    error = None
    wait = 0
    if form.validate_on_submit():
        username, password = form.username.data or "", form.password.data or ""
        address = request.remote_addr or ""
        # RFC 6749 §10.10: guessing is capped per username and per address, across logins.
        wait = login_throttle.wait_seconds(username, address)
        user = None if wait else login_throttle.authenticate(username, password)
        if wait:
            error = too_many_wrong_passwords(wait)
        elif user is None:
            wait = login_throttle.record_failure(username, address)
            error = too_many_wrong_passwords(wait) if wait else "Wrong username or password."
        else:
            login_throttle.record_success(username)
            interactions.log_in(interaction, user)
            return redirect(url_for(".consent", interaction_id=interaction.id), 303)
    page = render_template("login.html", form=form, error=error, interaction=interaction,
                           client=client_of(interaction), users=current_app.config["USERS"])
    if wait:
        current_app.logger.warning("step 5 login locked for %d s interaction=%s", wait, interaction.id[:8])
        # RFC 6585 §4: 429 Too Many Requests, with Retry-After saying when to come back.
        return page, 429, {"Retry-After": str(wait)}
    return page, 401 if error else 200


@bp.route("/interaction/<interaction_id>/consent", methods=["GET", "POST"])
def consent(interaction_id):
    """Steps 5-7: the user sees the pushed scopes in plain words, and decides."""
    interaction = interactions.load(interaction_id)
    if interaction is None:
        return login_gone()
    user = interaction.user
    if user is None:
        return redirect(url_for(".login", interaction_id=interaction.id), 303)
    form = ConsentForm()
    if not form.validate_on_submit():
        client = client_of(interaction)
        scopes = [(name, current_app.config["SCOPES"].get(name, name)) for name in interaction.scopes
                  if name != "offline_access"]
        # OIDC Core §11: a refresh token is access while the user is away; say so
        # whenever one will be issued, asked for by offline_access or not.
        keeps_access = tokens.issues_refresh_token(client, interaction.params.get("scope", ""))
        return render_template("consent.html", form=form, interaction=interaction, user=user,
                               client=client, scopes=scopes, keeps_access=keeps_access)
    if not interactions.complete(interaction):
        return login_gone()
    server = authorization_server()
    oauth2_request = interactions.oauth2_request(interaction)
    try:
        grant = server.get_consent_grant(oauth2_request, end_user=user)
    except OAuth2Error as error:
        return authorization_error(error)
    # Step 7: a code (or access_denied), state and iss, sent back to the client.
    granted_user = user if form.allow.data else None
    response = server.create_authorization_response(oauth2_request, grant_user=granted_user, grant=grant)
    # RFC 9700 §4.12: after a POST, redirect with 303 so the browser does not re-post.
    response.status_code = 303
    current_app.logger.info("step 7 %s interaction=%s, redirecting to the client",
                            "code issued" if granted_user else "access denied", interaction.id[:8])
    return response


def too_many_wrong_passwords(wait):
    """The login page's message while a username or an address is locked."""
    when = f"{math.ceil(wait / 60)} minutes" if wait >= 120 else f"{wait} seconds"
    return ("Too many wrong passwords for this username, or from your network. "
            f"Try again in {when}.")


def client_of(interaction):
    """The client that started this login (its name is shown on the pages)."""
    return query_client(interaction.client_id)


def login_gone():
    """The login is unknown, finished, expired, or was started in another browser."""
    return render_template("error.html", error="invalid_request", description=(
        "This sign-in is no longer valid: it was finished, it expired, or it was started "
        "in another browser. Go back to the application and log in again.")), 400


def authorization_error(error):
    """RFC 6749 §4.1.2.1: errors about the client or redirect URI are shown, never redirected.

    Other errors go back to the client's verified redirect URI, with iss (RFC 9207).
    """
    if error.redirect_uri:
        location = dict(error()[2])["Location"]
        return redirect(add_params_to_uri(location, [("iss", current_app.config["ISSUER"])]), 303)
    current_app.logger.info("authorize refused: %s (%s)", error.error, error.description)
    return render_template("error.html", error=error.error, description=error.description), error.status_code

"""Token introspection (RFC 7662): ask the authorization server whether a token is active.

Used instead of bearer.py's steps 2 to 4 when TOKEN_CHECK=introspection. A JWT's
signature stays valid until the token expires, even after the server revoked it;
the server's answer does not. The price is one back-channel call per request: the
answers are not cached, so a revocation counts from the very next request.
"""

import logging
from urllib.parse import quote_plus

import requests
from flask import current_app
from flask import g

from . import bearer

log = logging.getLogger("notes_api")


def active_token_claims(token):
    """Steps 2 to 4 by introspection: the token's claims if the server says it is active."""
    answer = current_app.extensions["notes_api.introspection"].ask(token)
    # RFC 7662 §2.2: "active" is a boolean; anything but true means "do not accept".
    if answer.get("active") is not True:
        log.info("[%s] introspection: the token is not active", g.request_id)
        raise bearer.invalid_token("The token is not active (revoked, expired or unknown to the issuer).")
    # RFC 7662 §4: whether the token is meant for us is still ours to check; the
    # answer carries the JWT's claims, so the same rules apply (iss, aud, exp, sub).
    bearer.check_claims(answer)
    log.info("[%s] introspection: the token is active", g.request_id)
    return answer


class Introspection:
    """The issuer's introspection endpoint (learned from discovery) and our credentials there."""

    def __init__(self, config):
        self.endpoint = None  # learned from discovery on first use, like the JWKS address
        self.client_id = config["INTROSPECTION_CLIENT_ID"]
        self.client_secret = config["INTROSPECTION_CLIENT_SECRET"]
        self.timeout = config["HTTP_TIMEOUT_SECONDS"]

    def ask(self, token):
        """POST the token to the introspection endpoint (RFC 7662 §2.1); its JSON answer."""
        if self.endpoint is None:
            self.endpoint = bearer.issuer_keys().discover("introspection_endpoint")
        # RFC 6749 §2.3.1: the id and secret are form-urlencoded before HTTP Basic.
        credentials = (quote_plus(self.client_id), quote_plus(self.client_secret))
        try:
            response = requests.post(self.endpoint, auth=credentials, timeout=self.timeout,
                                     data={"token": token, "token_type_hint": "access_token"})
            response.raise_for_status()
            answer = response.json()
        except (requests.RequestException, ValueError) as error:
            raise bearer.AuthServerUnavailable(f"POST {self.endpoint} failed: {error}") from None
        if not isinstance(answer, dict):
            raise bearer.AuthServerUnavailable(f"POST {self.endpoint} did not return a JSON object.")
        return answer

"""A client's public keys (RFC 7591 §2): its `jwks`, or the JWK Set at its `jwks_uri`.

They verify the client's private_key_jwt assertions (client_assertion.py) and its
signed request objects (request_object.py). Keys fetched from a jwks_uri are kept in
the database for CLIENT_JWKS_CACHE_SECONDS, so every worker shares one copy and a
client that rotates its keys is heard within minutes.
"""

import logging
import os

import requests
from flask import current_app
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .models import ClientKeySet
from .models import db
from .models import now

log = logging.getLogger("auth_server")


class ClientKeysError(Exception):
    """The client's keys could not be found, fetched or read."""


def internal_url(url):
    """The back-channel URL for a client URL: the client app's public URL maps to its internal one."""
    config = current_app.config
    public, internal = config["CLIENT_APP_URL"], config["CLIENT_APP_INTERNAL_URL"]
    if url == public or url.startswith(public + "/"):
        return internal + url[len(public):]
    return url


def http_get(url, timeout):
    """GET with nothing from the environment (requests' trust_env off).

    The URL is one a client registered: this server's own ~/.netrc credentials must
    never go to it (requests adds them to a call made without auth=), nor a proxy's
    route. A private CA is still honoured (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE).
    """
    with requests.Session() as http:
        http.trust_env = False
        http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        return http.get(url, timeout=timeout)


def fetch_jwks(url):
    """GET a JWK Set (RFC 7517 §5) over the back channel, with a timeout."""
    try:
        response = http_get(internal_url(url), timeout=current_app.config["CLIENT_JWKS_TIMEOUT"])
        response.raise_for_status()
        jwks = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ClientKeysError(f"The client's jwks_uri could not be fetched: {type(error).__name__}.") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ClientKeysError("The client's jwks_uri did not return a JWK Set.")
    return jwks


def client_jwks(client):
    """The client's JWK Set as a dict: registered by value, cached, or fetched now."""
    if client.jwks is not None:
        return client.jwks
    if not client.jwks_uri:
        raise ClientKeysError("The client has registered no keys (jwks or jwks_uri).")
    cached = db.session.get(ClientKeySet, client.client_id)
    fresh = now() - current_app.config["CLIENT_JWKS_CACHE_SECONDS"]
    if cached is not None and cached.jwks_uri == client.jwks_uri and cached.fetched_at > fresh:
        return cached.jwks
    jwks = fetch_jwks(client.jwks_uri)
    log.info("client keys fetched client=%s keys=%d", client.client_id, len(jwks["keys"]))
    if cached is None:
        cached = ClientKeySet(client_id=client.client_id)
        db.session.add(cached)
    cached.jwks_uri, cached.jwks, cached.fetched_at = client.jwks_uri, jwks, now()
    db.session.commit()
    return jwks


def client_key_set(client):
    """The client's public keys as a joserfc KeySet."""
    try:
        return KeySet.import_key_set(client_jwks(client))
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ClientKeysError(f"The client's keys are not a valid JWK Set: {type(error).__name__}.") from None

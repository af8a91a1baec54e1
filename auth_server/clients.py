"""Registered clients: read from a JSON file (CLIENTS_FILE), validated, then seeded.

Each client is one object of RFC 7591 §2 client metadata. A few fields are this
project's own extensions (FIELDS below says which). A bad file stops the server at
start with an error naming the client and the field, never a 500 later.

The demo clients (clients.json; JSON holds no comments, so they are explained here):
- notes-web: the client app, a confidential client with a DEMO ONLY well-known secret.
- notes-classic: the client app's "classic" profile, the same but without PAR: the
  one web client allowed to send its whole authorization request through the browser,
  so that a learner can compare the two (PKCE is still required).
- seed-cli: the seed's curl commands, verbatim but for the host. The seed sends no
  code_challenge, so require_pkce is false; its token response (step 10) has a
  refresh_token without offline_access, so refresh_token_without_offline_access is true.
- notes-api: the resource server; it may only introspect access tokens (RFC 7662 §2.1),
  with no grant types and no redirect URIs: it can neither push nor get tokens.
- notes-lab: the attack lab's own client, so its attacks spend neither notes-web's PAR
  budget nor a client worker's time; its request_uri lives 2 s, so the expiry attack waits 3 s.
  notes-lab-classic and notes-lab-fapi are its twins in the other two profiles, for the
  defence matrix: an attack that succeeds against a profile does so against the lab's own client.
- notes-fapi: the client app under the FAPI 2.0 Security Profile (security_profile
  "fapi2"): private_key_jwt with the keys at its jwks_uri, signed request objects,
  DPoP-bound access tokens (RFC 9449 §5.2), PS256 ID tokens.
"""

import json
import os
import re

# Every field a client may have: its JSON type, and where the name comes from.
FIELDS = {
    # RFC 7591 §2 (client_secret and client_id: §3.2.1).
    "client_id": (str, "RFC 7591 §3.2.1"),
    "client_secret": (str, "RFC 7591 §3.2.1"),
    "client_name": (str, "RFC 7591 §2"),
    "redirect_uris": (list, "RFC 7591 §2"),
    "token_endpoint_auth_method": (str, "RFC 7591 §2"),
    "jwks": (dict, "RFC 7591 §2"),
    "jwks_uri": (str, "RFC 7591 §2"),
    "grant_types": (list, "RFC 7591 §2"),
    "response_types": (list, "RFC 7591 §2"),
    "scope": (str, "RFC 7591 §2"),
    "token_endpoint_auth_signing_alg": (str, "OIDC Dynamic Client Registration §2"),
    "id_token_signed_response_alg": (str, "OIDC Dynamic Client Registration §2"),
    "require_pushed_authorization_requests": (bool, "RFC 9126 §6"),
    "require_signed_request_object": (bool, "RFC 9101 §10.5"),
    "dpop_bound_access_tokens": (bool, "RFC 9449 §5.2"),
    # Ours, not registered names:
    # several methods where RFC 7591 has one (notes-web takes basic and post alike);
    "token_endpoint_auth_methods": (list, "ours"),
    # a client that may skip PKCE (seed-cli, whose seed sends none); default true;
    "require_pkce": (bool, "ours"),
    # a refresh token without the offline_access scope (seed-cli); default false;
    "refresh_token_without_offline_access": (bool, "ours"),
    # a resource server that may introspect any client's access tokens (notes-api);
    "may_introspect_access_tokens": (bool, "ours"),
    # this client's request_uri lifetime in seconds, instead of PAR_EXPIRES_IN (notes-lab);
    "request_uri_lifetime": (int, "ours"),
    # "fapi2": the client is held to the FAPI 2.0 Security Profile's rules.
    "security_profile": (str, "ours"),
}

# How each Python type is called in JSON, for the error message.
JSON_TYPES = {str: "string", list: "array", dict: "object", bool: "boolean", int: "integer"}

# The values of our `security_profile` field: "fapi2" is the FAPI 2.0 Security Profile.
SECURITY_PROFILES = ["fapi2"]

# "${NAME:-default}" in a string value: the environment variable NAME, or the default.
ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")


class ClientsFileError(ValueError):
    """The clients file is unreadable or a client in it is invalid."""


def expand_env(value):
    """Replace each ${NAME:-default} in a string (or list of strings) from the environment."""
    if isinstance(value, str):
        return ENV_REFERENCE.sub(lambda m: os.environ.get(m.group(1), m.group(2)), value)
    if isinstance(value, list):
        return [expand_env(item) for item in value]
    return value


def load_clients(path, auth_methods, signing_algs, client_algs):
    """Read, expand and validate the clients file; returns the list of clients."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError) as error:
        raise ClientsFileError(f"{path}: cannot read the clients file: {error}") from None
    if not isinstance(data, list):
        raise ClientsFileError(f"{path}: expected a JSON array of clients.")
    clients = []
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise ClientsFileError(f"{path}: client #{index + 1} is not a JSON object.")
        client = {name: expand_env(value) for name, value in raw.items()}
        validate_client(client, auth_methods, signing_algs, client_algs, f"{path}: client {client.get('client_id', index + 1)!r}")
        clients.append(client)
    ids = [client["client_id"] for client in clients]
    duplicates = sorted({client_id for client_id in ids if ids.count(client_id) > 1})
    if duplicates:
        raise ClientsFileError(f"{path}: client {duplicates[0]!r}: field 'client_id' appears twice in the file.")
    return clients


def validate_client(client, auth_methods, signing_algs, client_algs, where):
    """Refuse an unknown field, a wrong type, or metadata that cannot work together."""

    def fail(field, problem):
        raise ClientsFileError(f"{where}: field '{field}' {problem}")

    for field, value in client.items():
        if field not in FIELDS:
            fail(field, "is not a known client metadata field.")
        kind = FIELDS[field][0]
        # bool is an int in Python; a lifetime of `true` is still wrong.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            fail(field, f"must be a JSON {JSON_TYPES[kind]}.")
        if kind is list and not all(isinstance(item, str) for item in value):
            fail(field, "must be a list of strings.")
    if not client.get("client_id"):
        fail("client_id", "is required.")
    methods = client_auth_methods(client)
    if "token_endpoint_auth_method" in client and "token_endpoint_auth_methods" in client:
        fail("token_endpoint_auth_method", "cannot be set together with our list 'token_endpoint_auth_methods'.")
    if not methods:
        fail("token_endpoint_auth_method", "is required (or our list 'token_endpoint_auth_methods').")
    for method in methods:
        if method not in auth_methods:
            fail("token_endpoint_auth_method", f"'{method}' is not one of this server's: {', '.join(auth_methods)}.")
    if "jwks" in client and "jwks_uri" in client:
        fail("jwks_uri", "cannot be set together with 'jwks' (RFC 7591 §2).")
    if "jwks" in client and not isinstance(client["jwks"].get("keys"), list):
        fail("jwks", "must be a JWK Set: {\"keys\": [...]} (RFC 7517 §5).")
    if "private_key_jwt" in methods and "jwks" not in client and "jwks_uri" not in client:
        fail("jwks_uri", "or 'jwks' is required for private_key_jwt (the client's public keys).")
    if client.get("require_signed_request_object") and "jwks" not in client and "jwks_uri" not in client:
        fail("jwks_uri", "or 'jwks' is required to verify signed request objects.")
    if any(method.startswith("client_secret_") for method in methods) and not client.get("client_secret"):
        fail("client_secret", "is required for the client_secret_* methods.")
    for field, algs in (("id_token_signed_response_alg", signing_algs), ("token_endpoint_auth_signing_alg", client_algs)):
        if field in client and client[field] not in algs:
            fail(field, f"'{client[field]}' is not one of this server's: {', '.join(algs)}.")
    if "security_profile" in client:
        if client["security_profile"] not in SECURITY_PROFILES:
            fail("security_profile", f"must be one of: {', '.join(SECURITY_PROFILES)}.")
        # FAPI 2.0 §5.3.2.1: confidential clients only, authenticated by private_key_jwt (or mTLS).
        if methods != ["private_key_jwt"]:
            fail("token_endpoint_auth_method", "must be private_key_jwt for a FAPI 2.0 client.")
    if client.get("request_uri_lifetime", 1) < 1:
        fail("request_uri_lifetime", "must be at least 1 second.")


def client_auth_methods(client):
    """The methods a client may authenticate with: RFC 7591's one, or our list."""
    if "token_endpoint_auth_method" in client:
        return [client["token_endpoint_auth_method"]]
    return list(client.get("token_endpoint_auth_methods", []))

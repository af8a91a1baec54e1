"""FAPI 2.0 Security Profile: the limits for clients registered under it (security_profile "fapi2").

The other rules live where the thing they govern is done, each citing FAPI 2.0:
private_key_jwt only (clients.py), PAR, PKCE S256 (models.py, oauth2.py), PS256/ES256
(config CLIENT_SIGNING_ALGS), PS256 access tokens (tokens.py), refresh tokens not rotated
(oauth2.py).
"""

# §5.3.2.1: the authorization code lives at most 60 seconds.
MAX_CODE_LIFETIME = 60
# §5.3.2.2: the request_uri's expires_in is under 600 seconds.
MAX_REQUEST_URI_LIFETIME = 599


def code_lifetime(client, default):
    """The lifetime of this client's authorization codes: the server's, capped for FAPI."""
    return min(default, MAX_CODE_LIFETIME) if client.is_fapi else default


def request_uri_lifetime(client, default):
    """This client's request_uri lifetime: its own (request_uri_lifetime) or the server's, capped for FAPI."""
    lifetime = client.client_metadata.get("request_uri_lifetime", default)
    return min(lifetime, MAX_REQUEST_URI_LIFETIME) if client.is_fapi else lifetime

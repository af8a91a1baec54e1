// An independent authorization server for the interop tests: panva's oidc-provider
// (OpenID Certified), unmodified, configured as plain data below. client_app and
// notes_api are pointed at it by environment variables alone.
//
// Run: PORT=4000 CLIENT_REDIRECT_URI=http://localhost:3000/callback node provider.js
//
// Environment (each with its default):
//   PORT                 where to listen on 127.0.0.1 (4000)
//   ISSUER               the issuer identifier (http://localhost:$PORT)
//   CLIENT_REDIRECT_URI  the client's callback (http://localhost:3000/callback)
//   PROFILE              "par" (notes-web, client_secret_basic) or "fapi2": the FAPI 2.0
//                        Security Profile, with notes-fapi as the only client (default: par)
//   CLIENT_JWKS_URI      fapi2: where notes-fapi publishes its public keys
//                        (http://localhost:3000/.well-known/jwks.json)
//
// Like oidc-provider's own docs, every setting that is not the library's default
// says what the default is.

import { generateKeyPairSync } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const PORT = Number(process.env.PORT || 4000);
const ISSUER = process.env.ISSUER || `http://localhost:${PORT}`;
const CLIENT_REDIRECT_URI = process.env.CLIENT_REDIRECT_URI || 'http://localhost:3000/callback';
const FAPI2 = process.env.PROFILE === 'fapi2';
const CLIENT_JWKS_URI = process.env.CLIENT_JWKS_URI || 'http://localhost:3000/.well-known/jwks.json';

// The API our client asks for (RFC 8707 resource indicator) and the scopes it knows.
const NOTES_API = 'urn:my-notes-api';
const NOTES_API_SCOPES = 'read:notes write:notes';

// The test account. notes_api seeds notes for the subject "alice", so that is the
// sub here too; the name differs from our own server's so a test can tell who spoke.
// devInteractions accept any password: this provider is a test peer, not a product.
const ACCOUNTS = {
  alice: {
    sub: 'alice',
    name: 'Alice at oidc-provider',
    preferred_username: 'alice',
    email: 'alice@oidc-provider.example',
    email_verified: true,
  },
};

// A fresh signing key per run (default: oidc-provider's development keys, with a
// warning): RS256, or PS256 under FAPI 2.0 (§5.4.1: PS256, ES256 or EdDSA only).
// notes_api and client_app learn it from jwks_uri, as in production.
const SIGNING_ALG = FAPI2 ? 'PS256' : 'RS256';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `interop-${SIGNING_ALG.toLowerCase()}`, use: 'sig', alg: SIGNING_ALG };

// Our client_app, as each profile registers it.
const CLIENTS = {
  par: {
    client_id: 'notes-web',
    client_secret: 'notes-web-secret',
    redirect_uris: [CLIENT_REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'], // default ['authorization_code']
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', // default client_secret_basic, said anyway
  },
  // FAPI 2.0 §5.3.2.1: no secret; the client signs assertions with the key at its jwks_uri.
  fapi2: {
    client_id: 'notes-fapi',
    redirect_uris: [CLIENT_REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt', // RFC 7523 §2.2
    token_endpoint_auth_signing_alg: 'PS256',
    jwks_uri: CLIENT_JWKS_URI, // fetched when the client first pushes
    require_signed_request_object: true, // RFC 9101 §10.5: an unsigned request is refused
    request_object_signing_alg: 'PS256',
    dpop_bound_access_tokens: true, // RFC 9449 §5.2: every token bound to a DPoP key
    id_token_signed_response_alg: 'PS256', // default RS256
  },
};

// FAPI 2.0 on top of the settings below: the profile's checks, private_key_jwt only,
// and signed request objects understood (default: off).
const FAPI2_SETTINGS = {
  clientAuthMethods: ['private_key_jwt'], // default: all six methods
  // Default: globalThis.fetch through a dispatcher that refuses special-use addresses
  // (SSRF protection), loopback included. client_app runs on 127.0.0.1 in the test,
  // so its registered jwks_uri, and nothing else, is fetched without that dispatcher.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(
    url, url === new URL(CLIENT_JWKS_URI).href ? options : { ...options, dispatcher },
  ),
  features: {
    // Default disabled. '2.0': PKCE required, aud = issuer in assertions, request
    // objects with exp, nbf and aud living at most an hour, redirect_uri always sent.
    fapi: { enabled: true, profile: '2.0' },
    // RFC 9449. Default: enabled already; said because FAPI 2.0 §5.3.2.1 rests on it.
    dPoP: { enabled: true },
    // RFC 9101 through PAR (RFC 9126 §3). Default: disabled.
    requestObjects: { enabled: true, requireSignedRequestObject: true },
  },
};

const configuration = {
  clients: [FAPI2 ? CLIENTS.fapi2 : CLIENTS.par],
  jwks: { keys: [signingKey] },
  // Default: only sub is a claim. The profile and email scopes release these.
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Default: a stub that knows any id but only its sub (with a warning).
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return account;
      },
    };
  },
  // Default: PKCE required for public clients only. RFC 9700 §2.1.1: for everyone.
  // (oidc-provider accepts only S256, and so do we.)
  pkce: { required: () => true },
  // Default: signed with auto-generated keys; set so the test does not warn.
  cookies: { keys: ['interop-test-only-cookie-key'] },
  features: {
    // Default enabled: the library's own login and consent pages, for tests like this.
    devInteractions: { enabled: true },
    // RFC 9126. Default: enabled, not required. Here every authorization request
    // must be pushed first, exactly as at our own server.
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    // RFC 8707. Default: enabled, but every resource is refused (invalid_target).
    resourceIndicators: {
      enabled: true,
      // Default: the same. Kept to say that a client that names no resource gets
      // no API access token: the client must send `resource` (RFC 8707 §2).
      defaultResource: (ctx, client, oneOf) => oneOf,
      // RFC 9068: the notes API gets JWT access tokens, RS256, 1 hour.
      getResourceServerInfo(ctx, resource) {
        if (resource !== NOTES_API) throw new errors.InvalidTarget();
        return {
          audience: NOTES_API,
          scope: NOTES_API_SCOPES,
          accessTokenFormat: 'jwt', // default 'opaque'
          accessTokenTTL: 3600,
          jwt: { sign: { alg: SIGNING_ALG } },
        };
      },
    },
  },
};

if (FAPI2) {
  configuration.clientAuthMethods = FAPI2_SETTINGS.clientAuthMethods;
  configuration.fetch = FAPI2_SETTINGS.fetch;
  Object.assign(configuration.features, FAPI2_SETTINGS.features);
}

const provider = new Provider(ISSUER, configuration);

// A failed request is logged on stderr, so a failing test can show why.
provider.on('server_error', (ctx, err) => console.error('server_error', err));
for (const event of ['authorization.error', 'pushed_authorization_request.error', 'grant.error']) {
  provider.on(event, (ctx, err) => console.error(event, err.error, err.error_description, err.error_detail ?? '', err.cause ?? ''));
}

provider.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider ${ISSUER} listening on 127.0.0.1:${PORT}`);
});

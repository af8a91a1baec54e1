// An independent authorization server for the interop tests: panva's oidc-provider
// (OpenID Certified), unmodified, configured as plain data below. client_app and
// notes_api are pointed at it by environment variables alone.
//
// Run: PORT=4000 CLIENT_REDIRECT_URI=http://localhost:3000/callback node provider.js
//
// Environment (each with its default):
//   PORT                 where to listen on 127.0.0.1 (4000)
//   ISSUER               the issuer identifier (http://localhost:$PORT)
//   CLIENT_REDIRECT_URI  the notes-web client's callback (http://localhost:3000/callback)
//
// Like oidc-provider's own docs, every setting that is not the library's default
// says what the default is.

import { generateKeyPairSync } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const PORT = Number(process.env.PORT || 4000);
const ISSUER = process.env.ISSUER || `http://localhost:${PORT}`;
const CLIENT_REDIRECT_URI = process.env.CLIENT_REDIRECT_URI || 'http://localhost:3000/callback';

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

// A fresh RS256 signing key per run (default: oidc-provider's development keys,
// with a warning). notes_api and client_app learn it from jwks_uri, as in production.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', use: 'sig', alg: 'RS256' };

const configuration = {
  clients: [
    {
      client_id: 'notes-web',
      client_secret: 'notes-web-secret',
      redirect_uris: [CLIENT_REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'], // default ['authorization_code']
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic', // default client_secret_basic, said anyway
    },
  ],
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
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
};

const provider = new Provider(ISSUER, configuration);

// A failed request is logged on stderr, so a failing test can show why.
provider.on('server_error', (ctx, err) => console.error('server_error', err));
for (const event of ['authorization.error', 'pushed_authorization_request.error', 'grant.error']) {
  provider.on(event, (ctx, err) => console.error(event, err.error, err.error_description));
}

provider.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider ${ISSUER} listening on 127.0.0.1:${PORT}`);
});

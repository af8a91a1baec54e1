// A relying party built on panva's openid-client (OpenID Certified), run against our
// auth_server by tests/interop/test_openid_client.py. It plays a web app in two
// requests, as a real one would: "authorize" (login button) and "callback" (redirect
// back). Between the two, the test keeps state, nonce and code_verifier for it, the
// way a web app keeps them in the user's session.
//
//   node openid_client_rp.js authorize            -> {"authorization_url", "state", "nonce", "code_verifier"}
//   node openid_client_rp.js callback < session   -> {"token", "id_token_claims", "userinfo", "refreshed"}
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE, AUDIENCE.
// Any failure prints {"error", "code", "message", "status", "oauth_error"} and exits 2.

import * as client from 'openid-client';

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} is not set`);
  return process.env[name];
};

// The strictest settings the library offers for this flow.
async function configure() {
  const config = await client.discovery(
    new URL(env('ISSUER')), // OIDC Discovery §4: issuer + /.well-known/openid-configuration
    env('CLIENT_ID'),
    {
      // OIDC Core §3.1.3.7 step 7: the ID token must be RS256, as registered.
      id_token_signed_response_alg: 'RS256',
      // OIDC Core §2: auth_time must be present in every ID token.
      require_auth_time: true,
    },
    client.ClientSecretBasic(env('CLIENT_SECRET')), // RFC 6749 §2.3.1
    {
      execute: [
        // The test server runs on http://localhost; everything else stays strict.
        client.allowInsecureRequests,
        // Verify the ID token's signature against jwks_uri too (by default the
        // library trusts TLS for what the token endpoint returns).
        client.enableNonRepudiationChecks,
      ],
    },
  );
  return config;
}

async function authorize() {
  const config = await configure();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const parameters = {
    redirect_uri: env('REDIRECT_URI'),
    scope: env('SCOPE'),
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), // RFC 7636 §4.2
    code_challenge_method: 'S256',
  };
  if (process.env.AUDIENCE) parameters.audience = process.env.AUDIENCE;
  // RFC 9126: push the request (201 + request_uri), get back a URL with only
  // client_id and request_uri.
  const url = await client.buildAuthorizationUrlWithPAR(config, parameters);
  return { authorization_url: url.href, state, nonce, code_verifier: codeVerifier };
}

async function callback(session) {
  const config = await configure();
  // Checks state, RFC 9207 iss (the server advertises it, so it must be present and
  // exact), error responses; sends the code with the PKCE verifier; validates the
  // ID token (iss, aud, azp, exp, iat, auth_time, nonce, signature).
  const tokens = await client.authorizationCodeGrant(config, new URL(session.callback_url), {
    pkceCodeVerifier: session.code_verifier,
    expectedState: session.state,
    expectedNonce: session.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  // OIDC Core §5.3.2: the UserInfo sub must equal the ID token's.
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  // RFC 6749 §6; OIDC Core §12.2: a new ID token, if any, must match the first.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  return {
    token: describe(tokens),
    id_token_claims: claims,
    userinfo,
    refreshed: { ...describe(refreshed), refresh_token_rotated: refreshed.refresh_token !== tokens.refresh_token },
  };
}

// What a token response held, without printing any token.
function describe(tokens) {
  return {
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expires_in,
    has_access_token: typeof tokens.access_token === 'string',
    has_id_token: typeof tokens.id_token === 'string',
    has_refresh_token: typeof tokens.refresh_token === 'string',
  };
}

// An error as the test can assert on it: the library's class and code, and the
// OAuth error (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3) with its HTTP status if any.
function describeError(err) {
  const challenge = Array.isArray(err.cause) ? err.cause[0] : undefined; // WWW-Authenticate
  return {
    error: err.name,
    code: err.code,
    message: err.message,
    // openid-client wraps oauth4webapi's error, which says which check failed.
    detail: err.cause instanceof Error ? err.cause.message : undefined,
    status: err.status,
    oauth_error: err.error ?? challenge?.parameters?.error,
    challenge_scheme: challenge?.scheme,
  };
}

async function readStdin() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

try {
  const mode = process.argv[2];
  let result;
  if (mode === 'authorize') result = await authorize();
  else if (mode === 'callback') result = await callback(await readStdin());
  else throw new Error('usage: openid_client_rp.js authorize|callback');
  console.log(JSON.stringify(result));
} catch (err) {
  console.log(JSON.stringify(describeError(err)));
  process.exitCode = 2;
}

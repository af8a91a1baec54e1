// The same relying party as openid_client_rp.js, built on panva's lower-level
// oauth4webapi (the library openid-client stands on), run against our auth_server
// by tests/interop/test_oauth4webapi.py. It adds what openid-client does not do:
//   - RFC 8414 discovery (/.well-known/oauth-authorization-server), not OIDC's;
//   - each step's response checked on its own (PAR 201, redirect, token, userinfo);
//   - the access token validated as a resource server would (RFC 9068: typ
//     at+jwt, iss, aud, exp, iat, sub, client_id, jti, signature).
//
//   node oauth4webapi_rp.js authorize            -> {"authorization_url", "state", "nonce", "code_verifier"}
//   node oauth4webapi_rp.js callback < session   -> {"token", "id_token_claims", "userinfo",
//                                                    "access_token_claims", "id_token_as_access_token", "refreshed"}
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE, AUDIENCE.
// Any failure prints {"error", "code", "message", "status", "oauth_error"} and exits 2.

import * as oauth from 'oauth4webapi';

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} is not set`);
  return process.env[name];
};

// The test server runs on http://localhost; every request below says so explicitly.
const http = { [oauth.allowInsecureRequests]: true };

const client = {
  client_id: env('CLIENT_ID'),
  id_token_signed_response_alg: 'RS256', // OIDC Core §3.1.3.7 step 7
  require_auth_time: true, // OIDC Core §2: auth_time in every ID token
};
const clientAuth = oauth.ClientSecretBasic(env('CLIENT_SECRET')); // RFC 6749 §2.3.1

async function discover() {
  const issuer = new URL(env('ISSUER'));
  // RFC 8414 §3: the OAuth metadata document; §3.3: its issuer must match exactly.
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http });
  return oauth.processDiscoveryResponse(issuer, response);
}

async function authorize() {
  const as = await discover();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const parameters = {
    response_type: 'code',
    redirect_uri: env('REDIRECT_URI'),
    scope: env('SCOPE'),
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), // RFC 7636 §4.2
    code_challenge_method: 'S256',
  };
  if (process.env.AUDIENCE) parameters.audience = process.env.AUDIENCE;
  // RFC 9126 §2.1-2.2: push; the answer must be 201 with request_uri and expires_in.
  const response = await oauth.pushedAuthorizationRequest(as, client, clientAuth, parameters, http);
  const pushed = await oauth.processPushedAuthorizationResponse(as, client, response);
  // RFC 9126 §4: the browser gets only client_id and request_uri.
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('request_uri', pushed.request_uri);
  return {
    authorization_url: url.href,
    expires_in: pushed.expires_in,
    state,
    nonce,
    code_verifier: codeVerifier,
  };
}

async function callback(session) {
  const as = await discover();
  // RFC 9207 §2.4 (iss present and exact, since the metadata says so), RFC 6749
  // §4.1.2 (state), §4.1.2.1 (an error response is thrown).
  const params = oauth.validateAuthResponse(as, client, new URL(session.callback_url), session.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as, client, clientAuth, params, env('REDIRECT_URI'), session.code_verifier, http,
  );
  // OIDC Core §3.1.3.7: iss, aud, azp, exp, iat, auth_time, nonce...
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
    expectedNonce: session.nonce,
    requireIdToken: true,
  });
  // ...and the ID token's signature, against the server's jwks_uri.
  await oauth.validateApplicationLevelSignature(as, response, http);
  const claims = oauth.getValidatedIdTokenClaims(tokens);

  // OIDC Core §5.3: UserInfo with the access token; its sub must be the ID token's.
  const userinfoResponse = await oauth.userInfoRequest(as, client, tokens.access_token, http);
  const userinfo = await oauth.processUserInfoResponse(as, client, claims.sub, userinfoResponse);

  // RFC 9068 §4, as the notes API would: typ at+jwt, RS256, required claims present
  // and typed, iss, exp and aud (our API's identifier) checked, signature verified.
  const apiRequest = new Request('http://localhost/api/notes', {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  const rs256 = { signingAlgorithms: ['RS256'], ...http };
  const accessTokenClaims = await oauth.validateJwtAccessToken(as, apiRequest, env('AUDIENCE'), rs256);
  // RFC 8725 §3.11: explicit typing, so the ID token (same key) is no access token.
  const idTokenRequest = new Request('http://localhost/api/notes', {
    headers: { authorization: `Bearer ${tokens.id_token}` },
  });
  const idTokenAsAccessToken = await oauth.validateJwtAccessToken(as, idTokenRequest, client.client_id, rs256)
    .then(() => ({ accepted: true }), describeError);

  // RFC 6749 §6: the refresh token grant; the new access token is a JWT too.
  const refreshResponse = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, http);
  const refreshed = await oauth.processRefreshTokenResponse(as, client, refreshResponse);

  return {
    token: describe(tokens),
    id_token_claims: claims,
    userinfo,
    access_token_claims: accessTokenClaims,
    id_token_as_access_token: idTokenAsAccessToken,
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
  else throw new Error('usage: oauth4webapi_rp.js authorize|callback');
  console.log(JSON.stringify(result));
} catch (err) {
  console.log(JSON.stringify(describeError(err)));
  process.exitCode = 2;
}

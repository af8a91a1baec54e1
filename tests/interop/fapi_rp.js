// A FAPI 2.0 relying party built on panva's oauth4webapi, run against our auth_server
// and notes_api by tests/interop/test_fapi2_oauth4webapi.py. Unlike oauth4webapi_rp.js
// it holds no secret: it proves who it is with its own key.
//   - private_key_jwt (RFC 7523 §2.2) at the PAR and token endpoints;
//   - the authorization request signed as a request object (RFC 9101) and pushed (RFC 9126);
//   - DPoP (RFC 9449): the code bound at PAR (§10), the token bound at the token
//     endpoint (§5), and a proof with every call to UserInfo and the notes API (§7).
//
//   node fapi_rp.js authorize            -> {"authorization_url", "expires_in", "state", "nonce", "code_verifier", "dpop_jkt"}
//   node fapi_rp.js callback < session   -> {"token", "id_token_claims", "userinfo", "notes", "bearer_refused"}
//
// Environment: ISSUER, CLIENT_ID, REDIRECT_URI, SCOPE, AUDIENCE, NOTES_API_URL,
// CLIENT_PRIVATE_JWK (RSA, signs assertions and request objects with PS256) and
// DPOP_PRIVATE_JWK (EC P-256, signs DPoP proofs with ES256), both as JSON.
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
  id_token_signed_response_alg: 'PS256', // FAPI 2.0 §5.4.1: PS256 or ES256, as registered
  require_auth_time: true,
};

// RFC 7518 §6.3.2, §6.2.2: the members of a private JWK that its public half leaves out.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

// A private JWK (JSON in the environment) as a WebCrypto key pair for `algorithm`, and its kid.
async function importKeyPair(name, algorithm) {
  const jwk = JSON.parse(env(name));
  const publicJwk = Object.fromEntries(Object.entries(jwk).filter(([member]) => !PRIVATE_MEMBERS.includes(member)));
  return {
    kid: jwk.kid,
    privateKey: await crypto.subtle.importKey('jwk', jwk, algorithm, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']),
  };
}

async function keys() {
  const signing = await importKeyPair('CLIENT_PRIVATE_JWK', { name: 'RSA-PSS', hash: 'SHA-256' });
  const dpopKeys = await importKeyPair('DPOP_PRIVATE_JWK', { name: 'ECDSA', namedCurve: 'P-256' });
  return {
    // The kid names the registered key, so the server finds it in the client's jwks.
    signingKey: { key: signing.privateKey, kid: signing.kid },
    dpop: oauth.DPoP(client, dpopKeys),
  };
}

async function discover() {
  const issuer = new URL(env('ISSUER'));
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http });
  return oauth.processDiscoveryResponse(issuer, response);
}

// RFC 9449 §8: a server may demand a nonce; the handle has kept it, so try once more.
async function withDPoPNonce(send) {
  try {
    return await send();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return send();
  }
}

async function authorize() {
  const as = await discover();
  const { signingKey, dpop } = await keys();
  const clientAuth = oauth.PrivateKeyJwt(signingKey); // RFC 7523 §2.2, aud = the issuer
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const parameters = {
    response_type: 'code',
    redirect_uri: env('REDIRECT_URI'),
    scope: env('SCOPE'),
    audience: env('AUDIENCE'),
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier), // RFC 7636 §4.2
    code_challenge_method: 'S256',
    dpop_jkt: await dpop.calculateThumbprint(), // RFC 9449 §10: bind the code to the DPoP key
  };
  // RFC 9101 §4: the parameters as a JWT signed with the client's key (iss, aud, exp, nbf).
  const request = await oauth.issueRequestObject(as, client, parameters, signingKey);
  // RFC 9126 §3: push the request object alone, with a DPoP proof beside it (RFC 9449 §10.1).
  const pushed = await withDPoPNonce(async () => {
    const response = await oauth.pushedAuthorizationRequest(as, client, clientAuth, { request }, { DPoP: dpop, ...http });
    return oauth.processPushedAuthorizationResponse(as, client, response);
  });
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', client.client_id);
  url.searchParams.set('request_uri', pushed.request_uri);
  return {
    authorization_url: url.href,
    expires_in: pushed.expires_in,
    state,
    nonce,
    code_verifier: codeVerifier,
    dpop_jkt: parameters.dpop_jkt,
  };
}

async function callback(session) {
  const as = await discover();
  const { signingKey, dpop } = await keys();
  const clientAuth = oauth.PrivateKeyJwt(signingKey);
  const params = oauth.validateAuthResponse(as, client, new URL(session.callback_url), session.state);
  // RFC 9449 §5: the code exchanged with a proof by the key it was bound to.
  const { response, tokens } = await withDPoPNonce(async () => {
    const response = await oauth.authorizationCodeGrantRequest(
      as, client, clientAuth, params, env('REDIRECT_URI'), session.code_verifier, { DPoP: dpop, ...http },
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: session.nonce,
      requireIdToken: true,
    });
    return { response, tokens };
  });
  await oauth.validateApplicationLevelSignature(as, response, http);
  const claims = oauth.getValidatedIdTokenClaims(tokens);

  // RFC 9449 §7: UserInfo with the DPoP-bound token and a proof (ath = its hash).
  const userinfo = await withDPoPNonce(async () => {
    const userinfoResponse = await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP: dpop, ...http });
    return oauth.processUserInfoResponse(as, client, claims.sub, userinfoResponse);
  });

  // The notes API, as any DPoP client calls a resource server (RFC 9449 §7.1).
  const notesUrl = new URL('/api/notes', env('NOTES_API_URL'));
  const notesResponse = await withDPoPNonce(() => oauth.protectedResourceRequest(
    tokens.access_token, 'GET', notesUrl, undefined, undefined, { DPoP: dpop, ...http },
  ));
  const notes = { status: notesResponse.status, body: await notesResponse.json() };

  // The same token as a plain bearer token: a DPoP-bound token must be refused (§7.1).
  const bearer = await fetch(notesUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  const bearerRefused = { status: bearer.status, www_authenticate: bearer.headers.get('www-authenticate') };

  return {
    token: { token_type: tokens.token_type, scope: tokens.scope, has_id_token: typeof tokens.id_token === 'string' },
    id_token_claims: claims,
    access_token_header: JSON.parse(Buffer.from(tokens.access_token.split('.')[0], 'base64url')),
    access_token_cnf: JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url')).cnf,
    userinfo,
    notes,
    bearer_refused: bearerRefused,
  };
}

// An error as the test can assert on it: the library's class and code, and the OAuth error.
function describeError(err) {
  const challenge = Array.isArray(err.cause) ? err.cause[0] : undefined; // WWW-Authenticate
  return {
    error: err.name,
    code: err.code,
    message: err.message,
    status: err.status,
    oauth_error: err.error ?? challenge?.parameters?.error,
    oauth_error_description: err.error_description ?? challenge?.parameters?.error_description,
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
  else throw new Error('usage: fapi_rp.js authorize|callback');
  console.log(JSON.stringify(result));
} catch (err) {
  console.log(JSON.stringify(describeError(err)));
  process.exitCode = 2;
}

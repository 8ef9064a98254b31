// The public API's security as a table of tests, against the real ApiServer in auth mode oidc: Keycloak's real
// tokens (scripts/services.sh, realm config/keycloak/mlfp-realm.json) and hand-made bad ones signed with keys
// generated here. Each way in (REST, WebSocket upgrade by header or sub-protocol, in-band auth) refuses each bad
// token with the right status or error code; roles gate every channel and endpoint; token expiry and the 8 h
// session close live sockets with 4002 / 4003 within a second; TLS is 1.3 only; no token reaches a log line.
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLOSE, PROTOCOL } from '../../../src/api/protocol.js';
import { CHANNELS, requiredRole } from '../../../src/api/channels.js';
import type { ErrorCode } from '../../../src/errors.js';
import { roleAllows, type Role } from '../../../src/security/roles.js';
import { loginWithCode, realmUser, refresh, type TokenResponse } from '../security/keycloak-client.js';
import {
  AUDIENCE,
  capturedLogLines,
  claimsOf,
  connected,
  hs256WithPublicKey,
  httpCall,
  issuerRsaKey,
  MODEL,
  openSocket,
  remember,
  selfSignedCertificate,
  SYMBOL,
  tampered,
  TokenMint,
  unsignedToken,
  usedTokens,
  type ApiSocket,
  type SelfSignedCertificate,
  type TestApi,
  startTestApi,
} from './security-helpers.js';

const AUTH_TIMEOUT_MS = 1_000;
const ALLOWED_ORIGIN = 'https://dashboard.example.com';
const LOCAL_ISSUER = 'https://issuer.test/realms/local';
const EIGHT_HOURS_S = 8 * 3_600;
const LATEST_BARS = `/v1/latest/bars?symbol=${SYMBOL}&timeframe=5m`;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Keycloak's realm users and the API role each holds. */
const USERS = [
  ['reader', 'read_only'],
  ['analyst', 'analyst'],
  ['administrator', 'administrator'],
] as const satisfies ReadonlyArray<readonly [string, Role]>;

type Username = (typeof USERS)[number][0];

let issuer: string;
/** the API trusting Keycloak's JWKS */
let keycloakApi: TestApi;
/** the API trusting the hand-made key (auth.publicKeyPem) */
let localApi: TestApi;
let mint: TokenMint;
/** a key the local API does not trust */
let stranger: TokenMint;
const logins = new Map<Username | 'password-only', TokenResponse>();

const accessToken = (user: Username | 'password-only'): string => {
  const tokens = logins.get(user);
  if (tokens === undefined) throw new Error(`no login for ${user}`);
  return tokens.access_token;
};

beforeAll(async () => {
  const configured = inject('services').keycloakIssuer;
  expect(configured, 'MLFP_KEYCLOAK_ISSUER (scripts/services.sh env keycloak)').toMatch(/^http/);
  issuer = configured as string;
  const users = [...USERS.map(([username]) => username), 'password-only'] as const;
  const tokens = await Promise.all(
    users.map((username) => loginWithCode(issuer, realmUser(username), { nowMs: Date.now() })),
  );
  users.forEach((username, index) => {
    const response = tokens[index]!;
    remember(response.access_token);
    logins.set(username, response);
  });
  keycloakApi = await startTestApi({
    oidc: { issuer, audience: AUDIENCE, tokenType: 'Bearer' },
    allowedOrigins: [ALLOWED_ORIGIN],
    authTimeoutMs: AUTH_TIMEOUT_MS,
  });
  mint = await TokenMint.create(LOCAL_ISSUER);
  stranger = await TokenMint.create(LOCAL_ISSUER);
  localApi = await startTestApi({
    oidc: { issuer: LOCAL_ISSUER, audience: AUDIENCE, publicKeyPem: mint.publicKeyPem, tokenType: 'Bearer' },
    allowedOrigins: [ALLOWED_ORIGIN],
  });
});

afterAll(async () => {
  await keycloakApi?.close();
  await localApi?.close();
});

interface Refusal {
  name: string;
  api: () => TestApi;
  token: () => Promise<string>;
  status: number;
  code: ErrorCode;
  field: string;
}

const REFUSALS: Refusal[] = [
  {
    name: 'Keycloak token with roles raised after signing (bad signature)',
    api: () => keycloakApi,
    token: async () =>
      tampered(accessToken('reader'), (claims) => {
        claims['realm_access'] = { roles: ['administrator'] };
      }),
    status: 401,
    code: 'unauthenticated',
    field: 'signature',
  },
  {
    name: "alg none over a Keycloak token's claims",
    api: () => keycloakApi,
    token: async () => unsignedToken(claimsOf(accessToken('reader'))),
    status: 401,
    code: 'unauthenticated',
    field: 'alg',
  },
  {
    name: "HS256 signed with the realm's RSA public key (key confusion)",
    api: () => keycloakApi,
    token: async () => {
      const { pem, kid } = await issuerRsaKey(issuer);
      return hs256WithPublicKey(claimsOf(accessToken('administrator')), pem, kid);
    },
    status: 401,
    code: 'unauthenticated',
    field: 'alg',
  },
  {
    name: 'Keycloak password-only login (no second factor)',
    api: () => keycloakApi,
    token: async () => {
      expect(claimsOf(accessToken('password-only'))['amr']).toEqual(['pwd']);
      return accessToken('password-only');
    },
    status: 401,
    code: 'mfa_required',
    field: 'amr',
  },
  {
    name: 'Keycloak ID token presented as an access token',
    api: () => keycloakApi,
    token: async () => remember(logins.get('analyst')!.id_token!),
    status: 401,
    code: 'unauthenticated',
    field: 'typ',
  },
  {
    name: 'signed by a key the server does not trust (bad signature)',
    api: () => localApi,
    token: () => mint.signWith(stranger),
    status: 401,
    code: 'unauthenticated',
    field: 'signature',
  },
  {
    name: 'alg none',
    api: () => localApi,
    token: async () => unsignedToken(mint.claims()),
    status: 401,
    code: 'unauthenticated',
    field: 'alg',
  },
  {
    name: 'HS256 signed with the configured RSA public key (key confusion)',
    api: () => localApi,
    token: () => hs256WithPublicKey(mint.claims(), mint.publicKeyPem, 'test-key'),
    status: 401,
    code: 'unauthenticated',
    field: 'alg',
  },
  {
    name: 'wrong iss',
    api: () => localApi,
    token: () => mint.sign({ iss: 'https://issuer.test/realms/other' }),
    status: 401,
    code: 'unauthenticated',
    field: 'iss',
  },
  {
    name: 'wrong aud',
    api: () => localApi,
    token: () => mint.sign({ aud: 'billing-api' }),
    status: 401,
    code: 'unauthenticated',
    field: 'aud',
  },
  {
    name: 'expired beyond the 30 s skew',
    api: () => localApi,
    token: () => mint.sign({ exp: nowSeconds() - 60 }),
    status: 401,
    code: 'token_expired',
    field: 'exp',
  },
  {
    name: 'not yet valid (nbf) beyond the 30 s skew',
    api: () => localApi,
    token: () => mint.sign({ nbf: nowSeconds() + 60 }),
    status: 401,
    code: 'unauthenticated',
    field: 'nbf',
  },
  {
    name: 'issued (iat) in the future beyond the skew',
    api: () => localApi,
    token: () => mint.sign({ iat: nowSeconds() + 120 }),
    status: 401,
    code: 'unauthenticated',
    field: 'iat',
  },
  {
    name: 'password only (amr pwd, no second factor)',
    api: () => localApi,
    token: () => mint.sign({ amr: ['pwd'] }),
    status: 401,
    code: 'mfa_required',
    field: 'amr',
  },
  {
    name: 'no auth_time (the session cannot be bounded)',
    api: () => localApi,
    token: () => mint.sign({ auth_time: undefined }),
    status: 401,
    code: 'unauthenticated',
    field: 'auth_time',
  },
  {
    name: 'fresh exp but auth_time 8 h ago (session over)',
    api: () => localApi,
    token: () => mint.sign({ auth_time: nowSeconds() - EIGHT_HOURS_S - 60 }),
    status: 401,
    code: 'session_expired',
    field: 'auth_time',
  },
  {
    name: 'none of the three roles',
    api: () => localApi,
    token: () => mint.sign({ realm_access: { roles: ['offline_access', 'guest'] } }),
    status: 403,
    code: 'forbidden',
    field: 'roles',
  },
];

describe('bad tokens: every way in refuses them', () => {
  it.each(REFUSALS)(
    '$name: REST and the upgrade answer $status $code ($field), in-band auth fails',
    async (refusal) => {
      const api = refusal.api();
      const token = await refusal.token();

      const rest = await httpCall(`${api.baseUrl}${LATEST_BARS}`, { token });
      expect(rest.status).toBe(refusal.status);
      expect(rest.body.error).toMatchObject({ code: refusal.code, field: refusal.field });
      expect(rest.text).not.toContain(token);

      for (const way of [{ token }, { protocolToken: token }]) {
        const upgrade = await openSocket(api.wsUrl, way);
        expect(upgrade.opened).toBe(false);
        if (upgrade.opened) continue;
        expect(upgrade.status).toBe(refusal.status);
        expect(upgrade.body.error).toMatchObject({ code: refusal.code, field: refusal.field });
        expect(upgrade.text).not.toContain(token);
      }

      const socket = await connected(api.wsUrl);
      const auth = await socket.auth(token);
      expect(auth).toMatchObject({ success: false, error: { code: refusal.code, field: refusal.field } });
      expect(JSON.stringify(auth)).not.toContain(token);
      // the refused token left the connection unauthenticated
      expect((await socket.subscribe('bars.5m')).error?.code).toBe('unauthenticated');
      await socket.close();
    },
  );

  it('accepts the hand-made token itself, and exp / nbf within the 30 s skew (the table is not refusing everything)', async () => {
    for (const overrides of [{}, { exp: nowSeconds() - 10 }, { nbf: nowSeconds() + 10 }]) {
      const token = await mint.sign(overrides);
      const rest = await httpCall(`${localApi.baseUrl}${LATEST_BARS}`, { token });
      expect(rest.status, JSON.stringify(overrides)).toBe(200);
    }
    const socket = await connected(localApi.wsUrl, { token: await mint.sign() });
    expect((await socket.subscribe('predictions')).success).toBe(true);
    await socket.close();
  });
});

describe('no token', () => {
  it.each([
    ['GET', LATEST_BARS],
    ['GET', `/v1/latest/features?symbol=${SYMBOL}&timeframe=5m`],
    ['GET', `/v1/latest/predictions?symbol=${SYMBOL}&timeframe=5m`],
    ['GET', '/v1/models'],
    ['POST', `/v1/models/${MODEL}/promote`],
    ['POST', `/v1/models/${MODEL}/rollback`],
    ['POST', `/v1/models/${MODEL}/shadow`],
  ])('REST %s %s answers 401 unauthenticated', async (method, path) => {
    const body = method === 'POST' ? { version: '2' } : undefined;
    const answer = await httpCall(`${keycloakApi.baseUrl}${path}`, { method, body });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({ code: 'unauthenticated', field: 'authorization' });
  });

  it('REST with Authorization: Basic answers 401 (a header that is not a bearer token is not anonymous)', async () => {
    const answer = await httpCall(`${keycloakApi.baseUrl}${LATEST_BARS}`, {
      headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('unauthenticated');
  });

  it(`a WebSocket without a token may not subscribe and is closed with 4001 after authTimeoutMs (${AUTH_TIMEOUT_MS} ms)`, async () => {
    const openedAt = Date.now();
    const socket = await connected(keycloakApi.wsUrl);
    expect(await socket.subscribe('bars.5m')).toMatchObject({
      success: false,
      error: { code: 'unauthenticated' },
    });
    const closed = await socket.closed;
    expect(closed.code).toBe(CLOSE.authTimeout);
    expect(closed.atMs - openedAt).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 20);
    expect(closed.atMs - openedAt).toBeLessThan(AUTH_TIMEOUT_MS + 1_000);
  });

  it('a WebSocket that sends op auth in time stays open past the deadline', async () => {
    const openedAt = Date.now();
    const socket = await connected(keycloakApi.wsUrl);
    expect(await socket.auth(accessToken('reader'))).toMatchObject({
      success: true,
      result: { roles: ['read_only'] },
    });
    expect((await socket.subscribe('bars.5m')).success).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, openedAt + AUTH_TIMEOUT_MS + 300 - Date.now()));
    expect((await socket.request({ op: 'ping' })).success).toBe(true);
    await socket.close();
  });
});

describe('where the token travels', () => {
  it('Authorization header and the bearer sub-protocol both work; the server selects mlfp.v1, never the token', async () => {
    const token = accessToken('analyst');
    for (const way of [{ token }, { protocolToken: token }]) {
      const socket = await connected(keycloakApi.wsUrl, way);
      expect(socket.protocol).toBe(PROTOCOL);
      expect((await socket.subscribe('predictions')).success).toBe(true);
      await socket.close();
    }
  });

  it('the bearer sub-protocol alone, without a real sub-protocol, is refused with 401', async () => {
    const upgrade = await openSocket(keycloakApi.wsUrl, {
      protocols: [],
      protocolToken: accessToken('analyst'),
    });
    expect(upgrade.opened).toBe(false);
    if (!upgrade.opened) {
      expect(upgrade.status).toBe(401);
      expect(upgrade.body.error).toMatchObject({ code: 'unauthenticated', field: 'sec-websocket-protocol' });
    }
  });

  it.each(['access_token', 'token', 'q'])(
    'a token in the REST query string (parameter %s) is refused with 400 token_in_query, even beside a valid header',
    async (name) => {
      const token = accessToken('analyst');
      const answer = await httpCall(`${keycloakApi.baseUrl}${LATEST_BARS}&${name}=${token}`, { token });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'token_in_query', field: `query.${name}` });
      expect(answer.text).not.toContain(token);
    },
  );

  it('a token in the WebSocket URL query string is refused with 400 token_in_query, even beside a valid header', async () => {
    const token = accessToken('analyst');
    for (const query of [`access_token=${token}`, `token=${token}`, `x=${token}`]) {
      const upgrade = await openSocket(`${keycloakApi.wsUrl}?${query}`, { token });
      expect(upgrade.opened).toBe(false);
      if (upgrade.opened) continue;
      expect(upgrade.status).toBe(400);
      expect(upgrade.body.error?.code).toBe('token_in_query');
      expect(upgrade.text).not.toContain(token);
    }
  });
});

describe('Origin allow-list', () => {
  it('a foreign Origin is refused with 403 on REST and on the upgrade, even with a valid token', async () => {
    const token = accessToken('administrator');
    const rest = await httpCall(`${keycloakApi.baseUrl}${LATEST_BARS}`, {
      token,
      origin: 'https://evil.example',
    });
    expect(rest.status).toBe(403);
    expect(rest.body.error).toMatchObject({ code: 'forbidden', field: 'origin' });
    const upgrade = await openSocket(keycloakApi.wsUrl, { token, origin: 'https://evil.example' });
    expect(upgrade.opened).toBe(false);
    if (!upgrade.opened) {
      expect(upgrade.status).toBe(403);
      expect(upgrade.body.error).toMatchObject({ code: 'forbidden', field: 'origin' });
    }
  });

  it('an allowed Origin and the API’s own origin are accepted', async () => {
    const token = accessToken('analyst');
    for (const origin of [ALLOWED_ORIGIN, keycloakApi.baseUrl]) {
      const rest = await httpCall(`${keycloakApi.baseUrl}${LATEST_BARS}`, { token, origin });
      expect(rest.status, origin).toBe(200);
      const socket = await connected(keycloakApi.wsUrl, { token, origin });
      expect((await socket.subscribe('bars.5m')).success).toBe(true);
      await socket.close();
    }
  });
});

describe.each(USERS)('role table: Keycloak user %s (%s)', (username, role) => {
  let socket: ApiSocket;

  beforeAll(async () => {
    socket = await connected(keycloakApi.wsUrl, { token: accessToken(username) });
  });

  afterAll(async () => {
    await socket?.close();
  });

  it.each(CHANNELS.map((channel) => [channel, roleAllows([role], requiredRole(channel))] as const))(
    'subscribe %s: allowed %s',
    async (channel, allowed) => {
      const reply = await socket.subscribe(channel);
      if (allowed) expect(reply).toMatchObject({ success: true, result: { channel } });
      else expect(reply).toMatchObject({ success: false, error: { code: 'forbidden', field: 'channel' } });
    },
  );

  // administrator's successful calls run in this order: promote 2, roll back to 1, shadow 3
  it.each([
    ['GET', LATEST_BARS, 'analyst', undefined, { bar: { symbol: SYMBOL } }],
    ['GET', `/v1/latest/features?symbol=${SYMBOL}&timeframe=5m`, 'analyst', undefined, {}],
    ['GET', `/v1/latest/predictions?symbol=${SYMBOL}&timeframe=5m`, 'analyst', undefined, {}],
    ['GET', '/v1/models', 'analyst', undefined, {}],
    ['POST', `/v1/models/${MODEL}/promote`, 'administrator', { version: '2' }, { live: '2' }],
    ['POST', `/v1/models/${MODEL}/rollback`, 'administrator', undefined, { live: '1' }],
    ['POST', `/v1/models/${MODEL}/shadow`, 'administrator', { version: '3' }, { shadow: '3' }],
  ] as const)('REST %s %s (needs %s)', async (method, path, needs, body, expected) => {
    const answer = await httpCall(`${keycloakApi.baseUrl}${path}`, {
      method,
      token: accessToken(username),
      body,
    });
    if (roleAllows([role], needs)) {
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toMatchObject(expected);
    } else {
      expect(answer.status).toBe(403);
      expect(answer.body.error).toMatchObject({ code: 'forbidden', field: 'role' });
    }
  });
});

describe('in-band auth refresh', () => {
  it('a refreshed Keycloak token of the same user is accepted and keeps the session end', async () => {
    const first = logins.get('reader')!;
    const socket = await connected(keycloakApi.wsUrl, { token: first.access_token });
    const refreshed = await refresh(issuer, first.refresh_token!);
    remember(refreshed.access_token);
    const reply = await socket.auth(refreshed.access_token);
    expect(reply).toMatchObject({ success: true, result: { roles: ['read_only'] } });
    expect(reply.result?.['sessionEndsAt']).toBe(
      (claimsOf(first.access_token)['auth_time'] as number) * 1000 + EIGHT_HOURS_S * 1000,
    );
    await socket.close();
  });

  it("another user's token is refused with forbidden and grants nothing", async () => {
    const socket = await connected(keycloakApi.wsUrl, { token: accessToken('reader') });
    expect(await socket.auth(accessToken('administrator'))).toMatchObject({
      success: false,
      error: { code: 'forbidden', field: 'token' },
    });
    // still the reader: predictions stays forbidden
    expect((await socket.subscribe('predictions')).error?.code).toBe('forbidden');
    await socket.close();
  });

  it('a refreshed token with fewer roles loses the subscriptions its roles no longer allow', async () => {
    const socket = await connected(localApi.wsUrl, { token: await mint.sign({ sub: 'carol' }) });
    expect((await socket.subscribe('predictions')).success).toBe(true);
    expect((await socket.subscribe('bars.5m')).success).toBe(true);
    const reply = await socket.auth(
      await mint.sign({ sub: 'carol', realm_access: { roles: ['read_only'] } }),
    );
    expect(reply.success).toBe(true);
    const notice = await socket.next((m) => (m as { type?: string }).type === 'unsubscribed');
    expect(notice).toMatchObject({
      type: 'unsubscribed',
      channel: 'predictions',
      reason: { code: 'forbidden' },
    });
    expect(socket.messages.filter((m) => (m as { type?: string }).type === 'unsubscribed')).toHaveLength(1);
    expect((await socket.subscribe('predictions')).error?.code).toBe('forbidden');
    await socket.close();
  });

  it('a hand-made token for another subject is refused with forbidden', async () => {
    const socket = await connected(localApi.wsUrl, { token: await mint.sign({ sub: 'alice' }) });
    expect(
      await socket.auth(await mint.sign({ sub: 'mallory', realm_access: { roles: ['administrator'] } })),
    ).toMatchObject({ success: false, error: { code: 'forbidden', field: 'token' } });
    expect((await socket.auth(await mint.sign({ sub: 'alice' }))).success).toBe(true);
    await socket.close();
  });
});

describe('expiry of a live connection', () => {
  it('closes with 4002 within 1 s of the token exp', async () => {
    const exp = nowSeconds() + 3;
    const socket = await connected(localApi.wsUrl, { token: await mint.sign({ exp }) });
    expect((await socket.subscribe('bars.5m')).success).toBe(true);
    const closed = await socket.closed;
    expect(closed.code).toBe(CLOSE.tokenExpired);
    expect(closed.atMs).toBeGreaterThanOrEqual(exp * 1000 - 20);
    expect(closed.atMs).toBeLessThan(exp * 1000 + 1_000);
  });

  it('closes with 4003 within 1 s of auth_time + 8 h although the token is fresh', async () => {
    const sessionEndS = nowSeconds() + 3;
    const socket = await connected(localApi.wsUrl, {
      token: await mint.sign({ auth_time: sessionEndS - EIGHT_HOURS_S, exp: nowSeconds() + 300 }),
    });
    expect((await socket.subscribe('bars.5m')).success).toBe(true);
    const closed = await socket.closed;
    expect(closed.code).toBe(CLOSE.sessionExpired);
    expect(closed.atMs).toBeGreaterThanOrEqual(sessionEndS * 1000 - 20);
    expect(closed.atMs).toBeLessThan(sessionEndS * 1000 + 1_000);
  });

  it('a refresh before exp re-arms the timer (no 4002), but the session still ends at auth_time + 8 h (4003)', async () => {
    const now = nowSeconds();
    const authTime = now + 4 - EIGHT_HOURS_S;
    const firstExp = now + 2;
    const socket = await connected(localApi.wsUrl, {
      token: await mint.sign({ auth_time: authTime, exp: firstExp }),
    });
    const reply = await socket.auth(await mint.sign({ auth_time: authTime, exp: now + 300 }));
    expect(reply).toMatchObject({
      success: true,
      result: { expiresAt: (now + 300) * 1000, sessionEndsAt: (now + 4) * 1000 },
    });
    const closed = await socket.closed;
    expect(closed.code).toBe(CLOSE.sessionExpired);
    expect(closed.atMs).toBeGreaterThan(firstExp * 1000 + 1_000);
    expect(closed.atMs).toBeGreaterThanOrEqual((now + 4) * 1000 - 20);
    expect(closed.atMs).toBeLessThan((now + 4) * 1000 + 1_000);
  });

  it('a refresh whose session is already over is refused with session_expired and does not extend it', async () => {
    const socket = await connected(localApi.wsUrl, { token: await mint.sign() });
    expect(
      await socket.auth(await mint.sign({ auth_time: nowSeconds() - EIGHT_HOURS_S - 60 })),
    ).toMatchObject({
      success: false,
      error: { code: 'session_expired', field: 'auth_time' },
    });
    await socket.close();
  });
});

describe('TLS', () => {
  let certificate: SelfSignedCertificate;
  let tlsApi: TestApi;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    tlsApi = await startTestApi({
      oidc: { issuer: LOCAL_ISSUER, audience: AUDIENCE, publicKeyPem: mint.publicKeyPem },
      tls: { certFile: certificate.certFile, keyFile: certificate.keyFile },
    });
  });

  afterAll(async () => {
    await tlsApi?.close();
    certificate?.remove();
  });

  const handshake = (version: 'TLSv1.2' | 'TLSv1.3'): Promise<{ protocol?: string | null; error?: string }> =>
    new Promise((resolve) => {
      const port = Number(new URL(tlsApi.baseUrl).port);
      const socket = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca: certificate.certPem,
        minVersion: version,
        maxVersion: version,
      });
      socket.once('secureConnect', () => {
        resolve({ protocol: socket.getProtocol() });
        socket.end();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        resolve({ error: error.code ?? error.message });
        socket.destroy();
      });
    });

  it('refuses a TLS 1.2-only handshake', async () => {
    const result = await handshake('TLSv1.2');
    expect(result.protocol).toBeUndefined();
    expect(result.error).toMatch(/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION/);
  });

  it('completes a TLS 1.3 handshake with the configured certificate', async () => {
    expect(await handshake('TLSv1.3')).toEqual({ protocol: 'TLSv1.3' });
  });

  it('serves REST over https and the WebSocket over wss', async () => {
    expect(tlsApi.baseUrl).toMatch(/^https:/);
    const token = await mint.sign();
    const rest = await httpCall(`${tlsApi.baseUrl}${LATEST_BARS}`, { token, ca: certificate.certPem });
    expect(rest.status).toBe(200);
    expect(tlsApi.wsUrl).toMatch(/^wss:/);
    const socket = await connected(tlsApi.wsUrl, { token, ca: certificate.certPem });
    expect((await socket.subscribe('predictions')).success).toBe(true);
    await socket.close();
  });
});

// last: every test above has logged what it logs
describe('logs', () => {
  it('never contain a token (or a token’s payload or signature) in any line', () => {
    expect(usedTokens.size).toBeGreaterThan(20);
    // refusals are logged, so the check below reads real lines
    expect(capturedLogLines.some((line) => line.includes('"event":"api.upgrade_refused"'))).toBe(true);
    const pieces = [...usedTokens].flatMap((token) => [
      token,
      ...token.split('.').filter((part) => part.length >= 16),
    ]);
    const leaks = capturedLogLines.filter((line) => pieces.some((piece) => line.includes(piece)));
    expect(leaks).toEqual([]);
  });
});

// Hand-made tokens against the verifier: each bad token is refused with its own code and field, the error never
// repeats the token, and the JWKS cache survives an identity provider outage and rate-limits unknown kids.
import { createHmac } from 'node:crypto';
import {
  SignJWT,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MlfpError, type ErrorCode } from '../errors.js';
import type { FetchFunction } from './jwks.js';
import { TokenVerifier, type TokenVerifierInput } from './token-verifier.js';

const ISSUER = 'https://idp.test/realms/mlfp';
const JWKS_URI = `${ISSUER}/protocol/openid-connect/certs`;
const AUDIENCE = 'mlfp-api';
const NOW = Date.UTC(2026, 0, 5, 12, 0, 0);
const NOW_S = NOW / 1000;
const HOUR_S = 3600;

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  spkiPem: string;
}

async function makeKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, privateKey, publicJwk, spkiPem: await exportSPKI(publicKey) };
}

/** A discovery document and a key set behind a fetch that counts requests and can be taken down. */
class FakeIdentityProvider {
  keys: JWK[] = [];
  down = false;
  discoveryIssuer = ISSUER;
  readonly requests: string[] = [];

  readonly fetch: FetchFunction = async (input) => {
    const url = String(input);
    this.requests.push(url);
    if (this.down) throw new TypeError('fetch failed: connect ECONNREFUSED');
    const json = (body: unknown): Response =>
      new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
    if (url === `${ISSUER}/.well-known/openid-configuration`) {
      return json({ issuer: this.discoveryIssuer, jwks_uri: JWKS_URI });
    }
    if (url === JWKS_URI) return json({ keys: this.keys } satisfies JSONWebKeySet);
    return new Response('not found', { status: 404 });
  };

  keySetRequests(): number {
    return this.requests.filter((url) => url === JWKS_URI).length;
  }
}

let rsa: SigningKey;
let rotated: SigningKey;
let ec: SigningKey;

beforeAll(async () => {
  [rsa, rotated, ec] = await Promise.all([
    makeKey('key-a', 'RS256'),
    makeKey('key-b', 'RS256'),
    makeKey('key-ec', 'ES256'),
  ]);
});

function claims(overrides: Record<string, unknown> = {}, nowS = NOW_S): JWTPayload {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    typ: 'Bearer',
    iat: nowS - 60,
    exp: nowS + 240,
    auth_time: nowS - 600,
    amr: ['pwd', 'otp'],
    realm_access: { roles: ['analyst', 'offline_access'] },
    ...overrides,
  };
}

async function sign(
  payload: JWTPayload,
  key: SigningKey = rsa,
  alg = 'RS256',
  kid = key.kid,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key.privateKey);
}

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** Expects a refusal with this code and field, and no trace of the token in the error. */
async function expectRefused(
  attempt: Promise<unknown>,
  token: string,
  code: ErrorCode,
  field: string,
): Promise<MlfpError> {
  const error = await attempt.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MlfpError);
  const refused = error as MlfpError;
  expect({ code: refused.code, field: refused.field }).toEqual({ code, field });
  const signature = token.split('.')[2] ?? '';
  const shown = `${refused.message} ${JSON.stringify(refused.toJSON())} ${String(refused.stack)}`;
  if (token.length > 0) expect(shown).not.toContain(token);
  if (signature.length > 8) expect(shown).not.toContain(signature);
  return refused;
}

describe('TokenVerifier against a JWKS', () => {
  let idp: FakeIdentityProvider;
  const verifier = (overrides: Partial<TokenVerifierInput> = {}): TokenVerifier =>
    new TokenVerifier(
      { issuer: ISSUER, audience: AUDIENCE, tokenType: 'Bearer', ...overrides },
      { fetch: idp.fetch },
    );

  beforeEach(() => {
    idp = new FakeIdentityProvider();
    idp.keys = [rsa.publicJwk, ec.publicJwk];
  });

  it('accepts a valid token and returns its principal with the session end counted from auth_time', async () => {
    const token = await sign(claims());
    const principal = await verifier().verify(token, NOW);
    expect(principal).toEqual({
      subject: 'user-1',
      roles: ['analyst'],
      expiresAt: (NOW_S + 240) * 1000,
      sessionEndsAt: (NOW_S - 600 + 8 * HOUR_S) * 1000,
    });
  });

  it('accepts ES256 from the same key set', async () => {
    const token = await sign(claims(), ec, 'ES256');
    expect((await verifier().verify(token, NOW)).subject).toBe('user-1');
  });

  it('refuses no token', async () => {
    await expectRefused(verifier().verify('', NOW), '', 'unauthenticated', 'token');
  });

  it('refuses a token over the size limit before parsing it', async () => {
    const token = `${'a'.repeat(20_000)}.b.c`;
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'token');
    expect(idp.requests).toEqual([]);
  });

  it('refuses garbage that is not a JWS', async () => {
    await expectRefused(verifier().verify('not-a-token', NOW), 'not-a-token', 'unauthenticated', 'token');
  });

  it('refuses a bad signature: signed by another key under a known kid', async () => {
    const token = await sign(claims(), rotated, 'RS256', rsa.kid);
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'signature');
  });

  it('refuses a tampered payload (roles raised after signing)', async () => {
    const token = await sign(claims());
    const [header, , signature] = token.split('.');
    const forged = `${header}.${base64url(JSON.stringify(claims({ realm_access: { roles: ['administrator'] } })))}.${signature}`;
    await expectRefused(verifier().verify(forged, NOW), forged, 'unauthenticated', 'signature');
  });

  it('refuses alg none', async () => {
    const token = `${base64url('{"alg":"none","typ":"JWT"}')}.${base64url(JSON.stringify(claims()))}.`;
    const error = await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'alg');
    expect(error.value).toBe('"none"');
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret (JWKS and fixed key alike)', async () => {
    const signingInput = `${base64url(`{"alg":"HS256","typ":"JWT","kid":"${rsa.kid}"}`)}.${base64url(JSON.stringify(claims()))}`;
    const mac = createHmac('sha256', rsa.spkiPem).update(signingInput).digest('base64url');
    const token = `${signingInput}.${mac}`;
    const error = await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'alg');
    expect(error.value).toBe('"HS256"');
    const fixedKey = new TokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKeyPem: rsa.spkiPem });
    await expectRefused(fixedKey.verify(token, NOW), token, 'unauthenticated', 'alg');
  });

  it('refuses a wrong issuer and names it', async () => {
    const token = await sign(claims({ iss: 'https://evil.test/realms/mlfp' }));
    const error = await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'iss');
    expect(error.value).toBe('"https://evil.test/realms/mlfp"');
  });

  it('refuses a wrong audience', async () => {
    const token = await sign(claims({ aud: ['account', 'other-api'] }));
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'aud');
  });

  it('accepts a token that lists our audience among others', async () => {
    const token = await sign(claims({ aud: ['account', AUDIENCE] }));
    expect((await verifier().verify(token, NOW)).subject).toBe('user-1');
  });

  it('refuses a token expired beyond the 30 s skew and accepts one expired within it', async () => {
    const expired = await sign(claims({ exp: NOW_S - 31 }));
    await expectRefused(verifier().verify(expired, NOW), expired, 'token_expired', 'exp');
    const withinSkew = await sign(claims({ exp: NOW_S - 29 }));
    expect((await verifier().verify(withinSkew, NOW)).expiresAt).toBe((NOW_S - 29) * 1000);
  });

  it('refuses a token not yet valid beyond the skew and accepts one within it', async () => {
    const early = await sign(claims({ nbf: NOW_S + 31 }));
    await expectRefused(verifier().verify(early, NOW), early, 'unauthenticated', 'nbf');
    const withinSkew = await sign(claims({ nbf: NOW_S + 29 }));
    expect((await verifier().verify(withinSkew, NOW)).subject).toBe('user-1');
  });

  it('honours a configured skew', async () => {
    const token = await sign(claims({ exp: NOW_S - 5 }));
    await expectRefused(verifier({ clockSkewMs: 2_000 }).verify(token, NOW), token, 'token_expired', 'exp');
  });

  it('refuses a token issued in the future beyond the skew', async () => {
    const token = await sign(claims({ iat: NOW_S + 120, exp: NOW_S + 400 }));
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'iat');
  });

  it.each(['sub', 'exp', 'iat'])('refuses a token without %s', async (claim) => {
    const token = await sign(claims({ [claim]: undefined }));
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', claim);
  });

  it('refuses an empty subject', async () => {
    const token = await sign(claims({ sub: '' }));
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'sub');
  });

  it('refuses an ID token (typ ID) presented as an access token', async () => {
    const token = await sign(claims({ typ: 'ID' }));
    await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'typ');
  });

  describe('MFA', () => {
    it('refuses a password-only token (amr pwd)', async () => {
      const token = await sign(claims({ amr: ['pwd'] }));
      const error = await expectRefused(verifier().verify(token, NOW), token, 'mfa_required', 'amr');
      expect(error.value).toBe('["pwd"]');
    });

    it('refuses a token with no amr at all', async () => {
      const token = await sign(claims({ amr: undefined }));
      await expectRefused(verifier().verify(token, NOW), token, 'mfa_required', 'amr');
    });

    it.each([['otp'], ['hwk'], ['mfa']])('accepts amr %s as a second factor', async (method) => {
      const token = await sign(claims({ amr: ['pwd', method] }));
      expect((await verifier().verify(token, NOW)).roles).toEqual(['analyst']);
    });

    it('accepts acr at or above a numeric minimum and refuses below it', async () => {
      const strong = await sign(claims({ amr: ['pwd'], acr: '2' }));
      expect((await verifier({ mfa: { minimumAcr: '2' } }).verify(strong, NOW)).subject).toBe('user-1');
      const weak = await sign(claims({ amr: ['pwd'], acr: '1' }));
      await expectRefused(
        verifier({ mfa: { minimumAcr: '2' } }).verify(weak, NOW),
        weak,
        'mfa_required',
        'amr',
      );
    });

    it('ranks acr by a configured order', async () => {
      const mfa = { minimumAcr: 'silver', acrOrder: ['bronze', 'silver', 'gold'] };
      const gold = await sign(claims({ amr: undefined, acr: 'gold' }));
      expect((await verifier({ mfa }).verify(gold, NOW)).subject).toBe('user-1');
      const bronze = await sign(claims({ amr: undefined, acr: 'bronze' }));
      const error = await expectRefused(verifier({ mfa }).verify(bronze, NOW), bronze, 'mfa_required', 'acr');
      expect(error.value).toBe('"bronze"');
    });

    it('does not count acr when no minimum is configured (Keycloak writes acr "1" for any fresh login)', async () => {
      const token = await sign(claims({ amr: ['pwd'], acr: '1' }));
      await expectRefused(verifier().verify(token, NOW), token, 'mfa_required', 'amr');
    });
  });

  describe('session', () => {
    it('ends the session at auth_time + 8 h even with a freshly issued token', async () => {
      const authTime = NOW_S - 8 * HOUR_S - 31;
      const token = await sign(claims({ auth_time: authTime, iat: NOW_S - 5, exp: NOW_S + 295 }));
      const error = await expectRefused(verifier().verify(token, NOW), token, 'session_expired', 'auth_time');
      expect(error.value).toBe(String(authTime));
    });

    it('accepts the last minutes of a session and reports when it ends, before the token expires', async () => {
      const authTime = NOW_S - 8 * HOUR_S + 60;
      const token = await sign(claims({ auth_time: authTime, exp: NOW_S + 300 }));
      const principal = await verifier().verify(token, NOW);
      expect(principal.sessionEndsAt).toBe(NOW + 60_000);
      expect(principal.sessionEndsAt).toBeLessThan(principal.expiresAt);
    });

    it('honours a configured session length', async () => {
      const token = await sign(claims({ auth_time: NOW_S - 2 * HOUR_S }));
      await expectRefused(
        verifier({ sessionMaxMs: HOUR_S * 1000 }).verify(token, NOW),
        token,
        'session_expired',
        'auth_time',
      );
    });

    it('refuses a token without auth_time: the session could not be bounded', async () => {
      const token = await sign(claims({ auth_time: undefined }));
      await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'auth_time');
    });

    it('refuses an auth_time in the future', async () => {
      const token = await sign(claims({ auth_time: NOW_S + 600 }));
      await expectRefused(verifier().verify(token, NOW), token, 'unauthenticated', 'auth_time');
    });
  });

  describe('roles', () => {
    it('refuses a token with none of the three roles (deny by default)', async () => {
      const token = await sign(claims({ realm_access: { roles: ['offline_access', 'superuser'] } }));
      await expectRefused(verifier().verify(token, NOW), token, 'forbidden', 'roles');
    });

    it('reads client roles of the configured client and ignores other clients', async () => {
      const token = await sign(
        claims({
          realm_access: undefined,
          resource_access: { 'mlfp-api': { roles: ['administrator'] }, other: { roles: ['analyst'] } },
        }),
      );
      const principal = await verifier({ roles: { clientId: 'mlfp-api' } }).verify(token, NOW);
      expect(principal.roles).toEqual(['administrator']);
      await expectRefused(verifier().verify(token, NOW), token, 'forbidden', 'roles');
    });

    it('ignores realm roles when told to', async () => {
      const token = await sign(claims());
      await expectRefused(
        verifier({ roles: { realmRoles: false, clientId: 'mlfp-api' } }).verify(token, NOW),
        token,
        'forbidden',
        'roles',
      );
    });
  });

  describe('key set cache', () => {
    it('discovers the JWKS once and serves later tokens from the cache', async () => {
      const subject = verifier();
      await subject.verify(await sign(claims()), NOW);
      await subject.verify(await sign(claims()), NOW + 5_000);
      expect(idp.requests).toEqual([`${ISSUER}/.well-known/openid-configuration`, JWKS_URI]);
    });

    it('shares one fetch between tokens verified at the same moment', async () => {
      const subject = verifier();
      const token = await sign(claims());
      await Promise.all([subject.verify(token, NOW), subject.verify(token, NOW), subject.verify(token, NOW)]);
      expect(idp.keySetRequests()).toBe(1);
    });

    it('refetches for an unknown kid at most once per 30 s, then finds a rotated key', async () => {
      const subject = verifier();
      await subject.verify(await sign(claims()), NOW);
      expect(idp.keySetRequests()).toBe(1);

      const unknown = await sign(claims(), rotated);
      // kid key-b is not published yet: 31 s after the first fetch, one refetch, which does not find it either
      await expectRefused(subject.verify(unknown, NOW + 31_000), unknown, 'unauthenticated', 'kid');
      expect(idp.keySetRequests()).toBe(2);
      for (const later of [NOW + 32_000, NOW + 45_000, NOW + 60_000]) {
        await expectRefused(subject.verify(unknown, later), unknown, 'unauthenticated', 'kid');
      }
      expect(idp.keySetRequests()).toBe(2);

      idp.keys = [rsa.publicJwk, rotated.publicJwk];
      const laterToken = await sign(claims({}, NOW_S + 62), rotated);
      expect((await subject.verify(laterToken, NOW + 62_000)).subject).toBe('user-1');
      expect(idp.keySetRequests()).toBe(3);
    });

    it('does not refetch within the cooldown even when the first verification just fetched', async () => {
      const subject = verifier();
      await subject.verify(await sign(claims()), NOW);
      const unknown = await sign(claims(), rotated);
      await expectRefused(subject.verify(unknown, NOW + 1_000), unknown, 'unauthenticated', 'kid');
      expect(idp.keySetRequests()).toBe(1);
    });

    it('keeps verifying with cached keys while the JWKS endpoint is down, retrying at most once per cooldown', async () => {
      const subject = verifier();
      await subject.verify(await sign(claims()), NOW);
      idp.down = true;
      const elevenMinutes = 11 * 60;
      const staleNow = NOW + elevenMinutes * 1000;
      // the keys are past their 10 min max age: a refresh is tried, fails, and the cached key still verifies
      const token = await sign(claims({ auth_time: NOW_S }, NOW_S + elevenMinutes));
      expect((await subject.verify(token, staleNow)).subject).toBe('user-1');
      expect((await subject.verify(token, staleNow + 10_000)).subject).toBe('user-1');
      expect(subject.jwksStats()).toMatchObject({ fetches: 2, failures: 1, keys: 2, fetchedAtMs: NOW });
      expect((await subject.verify(token, staleNow + 31_000)).subject).toBe('user-1');
      expect(subject.jwksStats()).toMatchObject({ fetches: 3, failures: 2 });
    });

    it('refuses with a retriable source_unavailable when the provider is down and nothing is cached', async () => {
      idp.down = true;
      const subject = verifier();
      const token = await sign(claims());
      const error = await expectRefused(subject.verify(token, NOW), token, 'source_unavailable', 'issuer');
      expect(error.retriable).toBe(true);
      await expectRefused(subject.verify(token, NOW + 500), token, 'source_unavailable', 'issuer');
      expect(idp.requests).toHaveLength(1);
      idp.down = false;
      expect((await subject.verify(token, NOW + 1_000)).subject).toBe('user-1');
    });

    it('uses a configured jwksUri without discovery', async () => {
      const subject = verifier({ jwksUri: JWKS_URI });
      await subject.verify(await sign(claims()), NOW);
      expect(idp.requests).toEqual([JWKS_URI]);
    });

    it('refuses to trust a discovery document that names another issuer', async () => {
      idp.discoveryIssuer = 'https://elsewhere.test/realms/mlfp';
      const token = await sign(claims());
      await expectRefused(verifier().verify(token, NOW), token, 'config_invalid', 'issuer');
    });
  });
});

describe('TokenVerifier with a fixed public key', () => {
  it('verifies tokens signed by the matching private key and refuses others', async () => {
    const subject = new TokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKeyPem: rsa.spkiPem });
    expect((await subject.verify(await sign(claims()), NOW)).subject).toBe('user-1');
    expect(subject.jwksStats()).toBeUndefined();
    const other = await sign(claims(), rotated);
    await expectRefused(subject.verify(other, NOW), other, 'unauthenticated', 'signature');
  });

  it('refuses an algorithm the key cannot verify as not allowed', async () => {
    const subject = new TokenVerifier({ issuer: ISSUER, audience: AUDIENCE, publicKeyPem: rsa.spkiPem });
    const token = await sign(claims(), ec, 'ES256');
    await expectRefused(subject.verify(token, NOW), token, 'unauthenticated', 'alg');
  });
});

describe('TokenVerifier settings', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE };

  it.each([
    ['an HMAC algorithm', { algorithms: ['HS256'] }, 'auth.algorithms.0'],
    ['alg none', { algorithms: ['none'] }, 'auth.algorithms.0'],
    ['a password counted as a second factor', { mfa: { amr: ['pwd', 'otp'] } }, 'auth.mfa.amr'],
    [
      'a minimum acr outside the order',
      { mfa: { minimumAcr: '3', acrOrder: ['1', '2'] } },
      'auth.mfa.minimumAcr',
    ],
    [
      'a JWKS URL and a fixed key at once',
      { jwksUri: JWKS_URI, publicKeyPem: '-----BEGIN PUBLIC KEY-----' },
      'auth.publicKeyPem',
    ],
    ['an issuer that is not a URL', { issuer: 'mlfp' }, 'auth.issuer'],
  ])('refuses %s', (_, overrides, field) => {
    const attempt = (): TokenVerifier => new TokenVerifier({ ...base, ...overrides } as TokenVerifierInput);
    expect(attempt).toThrow(MlfpError);
    try {
      attempt();
    } catch (error) {
      expect((error as MlfpError).code).toBe('config_invalid');
      expect((error as MlfpError).field).toBe(field);
    }
  });

  it('refuses a fixed RSA key when only EC algorithms are allowed', () => {
    expect(() => new TokenVerifier({ ...base, publicKeyPem: rsa.spkiPem, algorithms: ['ES256'] })).toThrow(
      /no allowed algorithm/,
    );
  });
});

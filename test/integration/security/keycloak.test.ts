// The token verifier against real Keycloak tokens (scripts/services.sh starts Keycloak with the realm in
// config/keycloak/mlfp-realm.json): each password + OTP user verifies with their role, the password-only user is
// refused for MFA, tampered, foreign and ID tokens are refused, and a refreshed token keeps its session end.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { MlfpError, type ErrorCode } from '../../../src/errors.js';
import { TokenVerifier } from '../../../src/security/token-verifier.js';
import {
  KeycloakLoginError,
  adminToken,
  claimsOf,
  loginWithCode,
  loginWithPassword,
  readRealm,
  realmUser,
  refresh,
  totp,
  type TokenResponse,
} from './keycloak-client.js';

const EIGHT_HOURS_MS = 8 * 3_600_000;

async function refusal(attempt: Promise<unknown>): Promise<{ code: ErrorCode; field: string | undefined }> {
  const error = await attempt.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(MlfpError);
  const { code, field } = error as MlfpError;
  return { code, field };
}

describe('TokenVerifier with Keycloak tokens', () => {
  let issuer: string;
  let verifier: TokenVerifier;

  beforeAll(() => {
    const configured = inject('services').keycloakIssuer;
    expect(configured, 'MLFP_KEYCLOAK_ISSUER (scripts/services.sh env keycloak)').toMatch(/^http/);
    issuer = configured as string;
    verifier = new TokenVerifier({ issuer, audience: 'mlfp-api', tokenType: 'Bearer' });
  });

  it('computes RFC 6238 codes (the SHA-1 test vector at T = 59 s)', () => {
    // secret "12345678901234567890" in base32; the RFC's 8-digit code 94287082
    expect(totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 59_000, 8)).toBe('94287082');
  });

  it('runs the realm with an 8 h SSO session maximum, the verifier default', async () => {
    const password = process.env['MLFP_KEYCLOAK_ADMIN_PASSWORD'] ?? 'admin';
    const realmUrl = issuer.replace('/realms/', '/admin/realms/');
    const response = await fetch(realmUrl, {
      headers: { authorization: `Bearer ${await adminToken(issuer, password)}` },
    });
    const realm = (await response.json()) as { ssoSessionMaxLifespan: number };
    expect(realm.ssoSessionMaxLifespan).toBe(readRealm().ssoSessionMaxLifespan);
    expect(realm.ssoSessionMaxLifespan * 1000).toBe(EIGHT_HOURS_MS);
    expect(verifier.config.sessionMaxMs).toBe(EIGHT_HOURS_MS);
  });

  describe.each([
    ['reader', 'read_only'],
    ['analyst', 'analyst'],
    ['administrator', 'administrator'],
  ] as const)('%s (password + OTP)', (username, role) => {
    let tokens: TokenResponse;

    beforeAll(async () => {
      tokens = await loginWithCode(issuer, realmUser(username), { nowMs: Date.now() });
    });

    it(`verifies with role ${role} and a session ending 8 h after auth_time`, async () => {
      const claims = claimsOf(tokens.access_token);
      expect(claims['amr']).toEqual(['pwd', 'otp']);
      const principal = await verifier.verify(tokens.access_token, Date.now());
      expect(principal.subject).toBe(claims['sub']);
      expect(principal.roles).toEqual([role]);
      expect(principal.sessionEndsAt).toBe((claims['auth_time'] as number) * 1000 + EIGHT_HOURS_MS);
      expect(principal.expiresAt).toBe((claims['exp'] as number) * 1000);
    });

    it('keeps the session end when the token is refreshed', async () => {
      const first = await verifier.verify(tokens.access_token, Date.now());
      const refreshed = await refresh(issuer, tokens.refresh_token as string);
      expect(refreshed.access_token).not.toBe(tokens.access_token);
      const second = await verifier.verify(refreshed.access_token, Date.now());
      expect(second.sessionEndsAt).toBe(first.sessionEndsAt);
      expect(claimsOf(refreshed.access_token)['amr']).toEqual(['pwd', 'otp']);
    });
  });

  it('refuses a wrong OTP code at the login form', async () => {
    const reader = realmUser('reader');
    const wrong = totp(reader.totpSecret as string, Date.now()) === '000000' ? '111111' : '000000';
    await expect(loginWithCode(issuer, reader, { nowMs: Date.now(), otp: wrong })).rejects.toThrow(
      /OTP form refused the code/,
    );
  });

  it('refuses the password-only user for lack of a second factor', async () => {
    const tokens = await loginWithCode(issuer, realmUser('password-only'), { nowMs: Date.now() });
    expect(claimsOf(tokens.access_token)['amr']).toEqual(['pwd']);
    expect(await refusal(verifier.verify(tokens.access_token, Date.now()))).toEqual({
      code: 'mfa_required',
      field: 'amr',
    });
  });

  describe('direct grant at the token endpoint', () => {
    it('refuses the password-only user for MFA', async () => {
      const tokens = await loginWithPassword(issuer, realmUser('password-only'));
      expect(await refusal(verifier.verify(tokens.access_token, Date.now()))).toEqual({
        code: 'mfa_required',
        field: 'amr',
      });
    });

    it('makes Keycloak demand the OTP code of a user who has one', async () => {
      const error = await loginWithPassword(issuer, realmUser('analyst')).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(KeycloakLoginError);
      expect((error as KeycloakLoginError).oauthError).toBe('invalid_grant');
    });

    it('issues amr pwd + otp but no auth_time, so the verifier refuses it: the session could not be bounded', async () => {
      const analyst = realmUser('analyst');
      const tokens = await loginWithPassword(issuer, analyst, {
        totp: totp(analyst.totpSecret as string, Date.now()),
      });
      const claims = claimsOf(tokens.access_token);
      expect(claims['amr']).toEqual(['pwd', 'otp']);
      expect(claims['auth_time']).toBeUndefined();
      expect(await refusal(verifier.verify(tokens.access_token, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'auth_time',
      });
    });
  });

  describe('bad tokens', () => {
    let tokens: TokenResponse;

    beforeAll(async () => {
      tokens = await loginWithCode(issuer, realmUser('reader'), { nowMs: Date.now() });
    });

    it('refuses a token whose roles were raised after signing', async () => {
      const [header, payload, signature] = tokens.access_token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      claims['realm_access'] = { roles: ['administrator'] };
      const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
      expect(await refusal(verifier.verify(forged, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'signature',
      });
    });

    it('refuses a token with a corrupted signature', async () => {
      const [header, payload, signature] = tokens.access_token.split('.') as [string, string, string];
      const flipped = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      expect(await refusal(verifier.verify(`${header}.${payload}.${flipped}`, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'signature',
      });
    });

    it('refuses the ID token presented as an access token', async () => {
      expect(claimsOf(tokens.id_token as string)['aud']).toBe('mlfp-api');
      expect(await refusal(verifier.verify(tokens.id_token as string, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'typ',
      });
    });

    it('refuses a token of another realm: its signing key is not one of this realm', async () => {
      const password = process.env['MLFP_KEYCLOAK_ADMIN_PASSWORD'] ?? 'admin';
      const foreign = await adminToken(issuer, password);
      const own = new TokenVerifier({ issuer, audience: 'mlfp-api', tokenType: 'Bearer' });
      expect(await refusal(own.verify(foreign, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'kid',
      });
    });

    it('refuses a real token for another issuer or another audience', async () => {
      const jwksUri = `${issuer}/protocol/openid-connect/certs`;
      const otherIssuer = new TokenVerifier({ issuer: `${issuer}-other`, jwksUri, audience: 'mlfp-api' });
      expect(await refusal(otherIssuer.verify(tokens.access_token, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'iss',
      });
      const otherAudience = new TokenVerifier({ issuer, jwksUri, audience: 'billing-api' });
      expect(await refusal(otherAudience.verify(tokens.access_token, Date.now()))).toEqual({
        code: 'unauthenticated',
        field: 'aud',
      });
    });

    it('refuses a valid token once its exp has passed', async () => {
      const exp = claimsOf(tokens.access_token)['exp'] as number;
      expect(await refusal(verifier.verify(tokens.access_token, exp * 1000 + 31_000))).toEqual({
        code: 'token_expired',
        field: 'exp',
      });
    });
  });

  it('fetched the realm keys once for every token above', () => {
    expect(verifier.jwksStats()).toMatchObject({ fetches: 1, failures: 0 });
    expect(verifier.jwksStats()?.keys).toBeGreaterThanOrEqual(1);
  });
});

// The bearer-token rules of the public API (api.auth.oidc in the config): issuer, audience, keys, algorithms,
// clock skew, session length, MFA and role claims. src/security/token-verifier.ts enforces them.

import { z } from 'zod';

/**
 * RFC 8176 values that prove a factor beyond a password: one-time codes, keys held in hardware or software,
 * confirmation on a phone, smart cards, proof of possession, biometrics, and the explicit `mfa` / `mca`.
 */
export const SECOND_FACTOR_AMR = [
  'mfa',
  'mca',
  'otp',
  'hwk',
  'swk',
  'sms',
  'tel',
  'sc',
  'pop',
  'fpt',
  'face',
  'iris',
  'retina',
  'vbm',
] as const;

/** Signature algorithms with a public verification key; `none` and the HMAC family (HS*) can never be allowed. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** amr values that prove knowledge or context only: listing one as a second factor is a configuration error. */
const NOT_A_SECOND_FACTOR = new Set(['pwd', 'pin', 'kba', 'user', 'wia', 'rba', 'geo']);

const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+/, 'expected an http(s) URL');

export const tokenVerifierSchema = z
  .strictObject({
    /** the `iss` every token must carry (Keycloak: `<base>/realms/<realm>`) */
    issuer: httpUrl,
    /** `aud` must hold one of these */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** the key set's URL; absent = discovered from `<issuer>/.well-known/openid-configuration` */
    jwksUri: httpUrl.optional(),
    /** a fixed SPKI public key (PEM) instead of the issuer's JWKS */
    publicKeyPem: z
      .string()
      .includes('-----BEGIN PUBLIC KEY-----', { message: 'expected an SPKI PEM public key' })
      .optional(),
    algorithms: z
      .array(z.enum(ASYMMETRIC_ALGORITHMS))
      .min(1)
      .default(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
    /** tolerated clock difference with the issuer for exp, nbf, iat and auth_time */
    clockSkewMs: z.number().int().min(0).max(300_000).default(30_000),
    /** the session ends this long after `auth_time`, however fresh the token */
    sessionMaxMs: z
      .number()
      .int()
      .min(60_000)
      .max(7 * 86_400_000)
      .default(8 * 3_600_000),
    /** longer tokens are refused before any parsing */
    maxTokenBytes: z.number().int().min(512).max(65_536).default(16_384),
    /** when set, the `typ` claim must equal it (Keycloak access tokens: `Bearer`; its ID tokens say `ID`) */
    tokenType: z.string().min(1).optional(),
    roles: z
      .strictObject({
        /** read `realm_access.roles` */
        realmRoles: z.boolean().default(true),
        /** also read `resource_access[clientId].roles` */
        clientId: z.string().min(1).optional(),
      })
      .prefault({}),
    mfa: z
      .strictObject({
        /** any of these in `amr` proves a second factor */
        amr: z
          .array(z.string().min(1))
          .default([...SECOND_FACTOR_AMR])
          .refine((values) => values.every((value) => !NOT_A_SECOND_FACTOR.has(value)), {
            message: `${[...NOT_A_SECOND_FACTOR].join(', ')} prove no second factor`,
          }),
        /** `acr` at or above this level proves it too */
        minimumAcr: z.string().min(1).optional(),
        /** acr values weakest first, to rank `acr` (absent: integers compare numerically, else equality) */
        acrOrder: z.array(z.string().min(1)).min(1).optional(),
      })
      .refine(
        (mfa) =>
          mfa.acrOrder === undefined || mfa.minimumAcr === undefined || mfa.acrOrder.includes(mfa.minimumAcr),
        { message: 'minimumAcr must be one of acrOrder', path: ['minimumAcr'] },
      )
      .prefault({}),
    jwks: z
      .strictObject({
        /** an unknown kid refetches the key set at most once per this many ms */
        cooldownMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
        /** known keys are refreshed after this many ms (a failed refresh keeps them) */
        maxAgeMs: z.number().int().min(10_000).max(86_400_000).default(600_000),
        /** with no key yet, a failed fetch is retried at most once per this many ms */
        emptyRetryMs: z.number().int().min(100).max(60_000).default(1_000),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
      })
      .prefault({}),
  })
  .refine((config) => config.jwksUri === undefined || config.publicKeyPem === undefined, {
    message: 'set jwksUri or publicKeyPem, not both',
    path: ['publicKeyPem'],
  });

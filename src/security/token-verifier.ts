// Bearer access tokens (JWT) verified with jose, then judged by our rules: signature against the issuer's JWKS
// or a configured public key, an explicit allow-list of asymmetric algorithms, iss, aud, exp and nbf with a
// small clock skew, required claims, a second factor (amr / acr), a session that ends at auth_time + 8 h
// whatever the token's exp, and at least one known role. The clock is the caller's (`nowMs`), never Date.now().
// Errors are MlfpErrors whose field and value name the claim at fault; the token itself never appears in them.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { z } from 'zod';
import { MlfpError } from '../errors.js';
import { JwksCache, type FetchFunction, type JwksCacheStats } from './jwks.js';
import { checkMfa, type MfaPolicy } from './mfa.js';
import { tokenVerifierSchema, type AsymmetricAlgorithm } from '../config/auth-schemas.js';
import { extractRoles, type Role } from './roles.js';

export {
  ASYMMETRIC_ALGORITHMS,
  tokenVerifierSchema,
  type AsymmetricAlgorithm,
} from '../config/auth-schemas.js';

export type TokenVerifierConfig = z.output<typeof tokenVerifierSchema>;
export type TokenVerifierInput = z.input<typeof tokenVerifierSchema>;

/** Who a verified token speaks for, and until when. A connection must end at min(expiresAt, sessionEndsAt). */
export interface Principal {
  subject: string;
  /** the known roles the token carries, weakest first; never empty */
  roles: readonly Role[];
  /** the token's `exp`, ms since the epoch */
  expiresAt: number;
  /** `auth_time` + sessionMaxMs, ms since the epoch: no refreshed token is accepted past it */
  sessionEndsAt: number;
}

export interface TokenVerifierDependencies {
  /** for the JWKS and discovery requests (tests inject one) */
  fetch?: FetchFunction;
}

/** Longest attacker-chosen string (alg, kid, claim values) an error repeats. */
const MAX_ECHO_CHARS = 64;

function echo(value: unknown): unknown {
  if (typeof value === 'string' && value.length > MAX_ECHO_CHARS)
    return `${value.slice(0, MAX_ECHO_CHARS - 1)}…`;
  return value;
}

function parseConfig(input: TokenVerifierInput): TokenVerifierConfig {
  const result = tokenVerifierSchema.safeParse(input);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  const lines = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new MlfpError('config_invalid', `invalid token verifier settings: ${lines.join('; ')}`, {
    field: first === undefined ? undefined : ['auth', ...first.path].join('.'),
  });
}

/** The algorithms a fixed public key can verify, so a token naming another one fails the allow-list. */
function algorithmsForKey(key: KeyObject): readonly AsymmetricAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      if (curve === 'secp521r1') return ['ES512'];
      return [];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      return [];
  }
}

function headerField(token: string, name: 'alg' | 'kid'): unknown {
  try {
    return echo(decodeProtectedHeader(token)[name]);
  } catch {
    return undefined;
  }
}

/** Maps what jose (or the key cache) threw to our typed error; nothing of the token but header and claim values. */
function toAuthError(error: unknown, token: string): MlfpError {
  if (error instanceof MlfpError) return error;
  if (error instanceof errors.JWTExpired) {
    return new MlfpError('token_expired', 'token expired', { field: 'exp', value: error.payload['exp'] });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    const value = Object.hasOwn(error.payload, claim) ? echo(error.payload[claim]) : undefined;
    const message =
      error.reason === 'missing'
        ? `token has no ${claim} claim`
        : claim === 'nbf'
          ? 'token not yet valid (nbf beyond the allowed clock skew)'
          : `token ${claim} claim rejected (${error.reason})`;
    return new MlfpError('unauthenticated', message, { field: claim, value });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return new MlfpError('unauthenticated', 'token signature algorithm not allowed', {
      field: 'alg',
      value: headerField(token, 'alg'),
    });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new MlfpError('unauthenticated', 'token signature does not verify', { field: 'signature' });
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new MlfpError('unauthenticated', 'no single signing key of the issuer matches the token', {
      field: 'kid',
      value: headerField(token, 'kid'),
    });
  }
  const code = error instanceof errors.JOSEError ? error.code : 'malformed';
  // jose's own errors carry the claims set (`payload`); they are not kept as the cause so no log repeats them
  return new MlfpError('unauthenticated', `token is not a well-formed signed JWT (${code})`, {
    field: 'token',
  });
}

/** Verifies bearer access tokens; one instance per issuer, sharing its key cache across connections. */
export class TokenVerifier {
  readonly config: TokenVerifierConfig;
  readonly #jwks: JwksCache | undefined;
  readonly #publicKey: KeyObject | undefined;
  readonly #options: JWTVerifyOptions;
  readonly #mfa: MfaPolicy;

  constructor(input: TokenVerifierInput, dependencies: TokenVerifierDependencies = {}) {
    const config = parseConfig(input);
    this.config = config;
    let algorithms: readonly AsymmetricAlgorithm[] = config.algorithms;
    if (config.publicKeyPem !== undefined) {
      try {
        this.#publicKey = createPublicKey(config.publicKeyPem);
      } catch (cause) {
        throw new MlfpError('config_invalid', 'auth.publicKeyPem is not a readable public key', {
          field: 'auth.publicKeyPem',
          cause,
        });
      }
      const usable = algorithmsForKey(this.#publicKey);
      algorithms = algorithms.filter((algorithm) => usable.includes(algorithm));
      if (algorithms.length === 0) {
        throw new MlfpError('config_invalid', 'no allowed algorithm can be verified with auth.publicKeyPem', {
          field: 'auth.algorithms',
          value: config.algorithms,
        });
      }
    } else {
      this.#jwks = new JwksCache({
        issuer: config.issuer,
        jwksUri: config.jwksUri,
        ...config.jwks,
        fetch: dependencies.fetch ?? globalThis.fetch,
      });
    }
    this.#options = {
      algorithms: [...algorithms],
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: config.clockSkewMs / 1000,
      requiredClaims: ['sub', 'exp', 'iat'],
    };
    this.#mfa = { amr: config.mfa.amr, minimumAcr: config.mfa.minimumAcr, acrOrder: config.mfa.acrOrder };
  }

  /** The principal of a valid token at clock time `nowMs` (ms since the epoch); else a typed MlfpError. */
  async verify(token: string, nowMs: number): Promise<Principal> {
    if (typeof token !== 'string' || token.length === 0) {
      throw new MlfpError('unauthenticated', 'no bearer token', { field: 'token' });
    }
    if (token.length > this.config.maxTokenBytes) {
      throw new MlfpError('unauthenticated', `token longer than ${this.config.maxTokenBytes} bytes`, {
        field: 'token',
        value: `${token.length} bytes`,
      });
    }
    const options: JWTVerifyOptions = { ...this.#options, currentDate: new Date(nowMs) };
    let payload: JWTPayload;
    try {
      if (this.#publicKey !== undefined) {
        ({ payload } = await jwtVerify(token, this.#publicKey, options));
      } else {
        const jwks = this.#jwks as JwksCache;
        ({ payload } = await jwtVerify(token, (header) => jwks.resolve(header, nowMs), options));
      }
    } catch (error) {
      throw toAuthError(error, token);
    }
    return this.#judge(payload, nowMs);
  }

  /** Key cache counters (undefined with a fixed public key). */
  jwksStats(): JwksCacheStats | undefined {
    return this.#jwks?.stats();
  }

  /** Our rules over a claims set whose signature, iss, aud, exp and nbf jose has already checked. */
  #judge(claims: JWTPayload, nowMs: number): Principal {
    const skewMs = this.config.clockSkewMs;
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject.length === 0) {
      throw new MlfpError('unauthenticated', 'token sub claim is not a non-empty string', {
        field: 'sub',
        value: echo(subject),
      });
    }
    const issuedAt = claims.iat as number;
    if (issuedAt * 1000 > nowMs + skewMs) {
      throw new MlfpError(
        'unauthenticated',
        'token issued in the future (iat beyond the allowed clock skew)',
        {
          field: 'iat',
          value: issuedAt,
        },
      );
    }
    if (this.config.tokenType !== undefined && claims['typ'] !== this.config.tokenType) {
      throw new MlfpError('unauthenticated', `token typ claim is not ${this.config.tokenType}`, {
        field: 'typ',
        value: echo(claims['typ']),
      });
    }
    const mfaFailure = checkMfa(claims, this.#mfa);
    if (mfaFailure !== undefined) {
      throw new MlfpError('mfa_required', 'token proves no second factor', {
        field: mfaFailure.field,
        value: echo(mfaFailure.value),
      });
    }
    const authTime = claims['auth_time'];
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) {
      throw new MlfpError('unauthenticated', 'token has no auth_time: the session length cannot be bounded', {
        field: 'auth_time',
        value: echo(authTime),
      });
    }
    if (authTime * 1000 > nowMs + skewMs) {
      throw new MlfpError('unauthenticated', 'token auth_time lies in the future', {
        field: 'auth_time',
        value: authTime,
      });
    }
    const sessionEndsAt = authTime * 1000 + this.config.sessionMaxMs;
    if (nowMs - skewMs >= sessionEndsAt) {
      throw new MlfpError('session_expired', 'session over: log in again', {
        field: 'auth_time',
        value: authTime,
      });
    }
    const roles = extractRoles(claims, {
      realmRoles: this.config.roles.realmRoles,
      clientId: this.config.roles.clientId,
    });
    if (roles.length === 0) {
      throw new MlfpError('forbidden', 'token carries none of the roles read_only, analyst, administrator', {
        field: 'roles',
      });
    }
    return { subject, roles, expiresAt: (claims.exp as number) * 1000, sessionEndsAt };
  }
}

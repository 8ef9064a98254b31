// The issuer's signing keys (JWKS), fetched and cached with an injected clock. Keys once fetched keep working
// while the JWKS endpoint is down; a token with an unknown `kid` refetches at most once per cooldown (30 s),
// so forged kids cannot make us hammer the identity provider. Key selection is jose's `createLocalJWKSet`.
import {
  createLocalJWKSet,
  errors,
  type CryptoKey,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';
import { MlfpError } from '../errors.js';

export type FetchFunction = typeof globalThis.fetch;

export interface JwksCacheOptions {
  /** the expected `issuer` of the discovery document */
  issuer: string;
  /** the key set's URL; absent = `jwks_uri` from `<issuer>/.well-known/openid-configuration` */
  jwksUri: string | undefined;
  /** an unknown `kid` (or a due refresh) fetches at most once per this many ms */
  cooldownMs: number;
  /** keys older than this are refreshed (a failed refresh keeps them) */
  maxAgeMs: number;
  /** with no key at all, a failed fetch is retried at most once per this many ms */
  emptyRetryMs: number;
  /** each HTTP request is abandoned after this many ms */
  timeoutMs: number;
  fetch: FetchFunction;
}

export interface JwksCacheStats {
  /** fetch attempts of the key set (discovery included in the same attempt) */
  fetches: number;
  failures: number;
  /** keys in the current set (0 before the first successful fetch) */
  keys: number;
  /** clock time of the last successful fetch; undefined before it */
  fetchedAtMs: number | undefined;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

export class JwksCache {
  readonly #options: JwksCacheOptions;
  #keySet: LocalKeySet | undefined = undefined;
  #keyCount = 0;
  #jwksUri: string | undefined;
  #fetchedAtMs: number | undefined = undefined;
  #lastAttemptMs = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<boolean> | undefined = undefined;
  #lastFailure: MlfpError | undefined = undefined;
  #fetches = 0;
  #failures = 0;

  constructor(options: JwksCacheOptions) {
    this.#options = options;
    this.#jwksUri = options.jwksUri;
  }

  /** The public key for a token's protected header at clock time `nowMs`; jose errors name what did not match. */
  async resolve(header: JWSHeaderParameters, nowMs: number): Promise<CryptoKey> {
    if (this.#keySet === undefined) {
      await this.#refresh(nowMs, this.#options.emptyRetryMs);
    } else if (nowMs - (this.#fetchedAtMs ?? nowMs) >= this.#options.maxAgeMs) {
      await this.#refresh(nowMs, this.#options.cooldownMs);
    }
    const keySet = this.#keySet;
    if (keySet === undefined) {
      throw (
        this.#lastFailure ??
        new MlfpError('source_unavailable', 'no signing keys yet: the last JWKS fetch failed moments ago', {
          field: 'jwks_uri',
          value: this.#jwksUri ?? this.#options.issuer,
        })
      );
    }
    try {
      return await keySet(header);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // a rotated key: refetch, unless we did so less than a cooldown ago
      if (!(await this.#refresh(nowMs, this.#options.cooldownMs)) || this.#keySet === undefined) throw error;
      return this.#keySet(header);
    }
  }

  stats(): JwksCacheStats {
    return {
      fetches: this.#fetches,
      failures: this.#failures,
      keys: this.#keyCount,
      fetchedAtMs: this.#fetchedAtMs,
    };
  }

  /** Fetches unless an attempt began less than `minIntervalMs` ago; true when a new key set was installed. */
  #refresh(nowMs: number, minIntervalMs: number): Promise<boolean> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    if (nowMs - this.#lastAttemptMs < minIntervalMs) return Promise.resolve(false);
    this.#lastAttemptMs = nowMs;
    this.#fetches += 1;
    const attempt = this.#fetchKeySet().then(
      ({ keySet, count }) => {
        this.#keySet = keySet;
        this.#keyCount = count;
        this.#fetchedAtMs = nowMs;
        this.#lastFailure = undefined;
        return true;
      },
      (error: unknown) => {
        this.#failures += 1;
        this.#lastFailure =
          error instanceof MlfpError
            ? error
            : new MlfpError('source_unavailable', 'JWKS fetch failed', { field: 'jwks_uri', cause: error });
        return false;
      },
    );
    this.#inFlight = attempt.finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #fetchKeySet(): Promise<{ keySet: LocalKeySet; count: number }> {
    const uri = this.#jwksUri ?? (await this.#discoverJwksUri());
    const body = await this.#getJson(uri, 'jwks_uri');
    try {
      const keySet = createLocalJWKSet(body as JSONWebKeySet);
      return { keySet, count: (body as JSONWebKeySet).keys.length };
    } catch (cause) {
      throw new MlfpError('source_unavailable', `${uri} did not return a JSON Web Key Set`, {
        field: 'jwks_uri',
        value: uri,
        cause,
      });
    }
  }

  async #discoverJwksUri(): Promise<string> {
    const url = `${this.#options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const document = await this.#getJson(url, 'issuer');
    const record =
      typeof document === 'object' && document !== null ? (document as Record<string, unknown>) : {};
    if (record['issuer'] !== this.#options.issuer) {
      // a proxy or a typo: tokens from this provider would never match our issuer
      throw new MlfpError('config_invalid', `${url} names another issuer than the one configured`, {
        field: 'issuer',
        value: record['issuer'],
      });
    }
    const jwksUri = record['jwks_uri'];
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri)) {
      throw new MlfpError('source_unavailable', `${url} has no usable jwks_uri`, {
        field: 'jwks_uri',
        value: jwksUri,
      });
    }
    this.#jwksUri = jwksUri;
    return jwksUri;
  }

  async #getJson(url: string, field: string): Promise<unknown> {
    let response: Response;
    try {
      response = await this.#options.fetch(url, {
        signal: AbortSignal.timeout(this.#options.timeoutMs),
        headers: { accept: 'application/json' },
        redirect: 'error',
      });
    } catch (cause) {
      throw new MlfpError('source_unavailable', `identity provider unreachable: GET ${url} failed`, {
        field,
        value: url,
        cause,
      });
    }
    if (!response.ok) {
      throw new MlfpError(
        'source_unavailable',
        `identity provider answered GET ${url} with ${response.status}`,
        {
          field,
          value: url,
        },
      );
    }
    try {
      return (await response.json()) as unknown;
    } catch (cause) {
      throw new MlfpError('source_unavailable', `GET ${url} did not return JSON`, {
        field,
        value: url,
        cause,
      });
    }
  }
}

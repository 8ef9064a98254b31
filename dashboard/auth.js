// The dashboard's login for api.auth.mode 'oidc': OAuth 2.0 authorization code + PKCE (S256) against the
// issuer in config.json (Keycloak realm mlfp, public client mlfp-api), the code returned in the URL fragment so
// it never reaches a server log; or a pasted access token, or one handed over as `#token=<jwt>`. Tokens live in
// sessionStorage (this tab only) and are refreshed before they expire.

const STORAGE_KEY = 'mlfp.dashboard.tokens';
const LOGIN_KEY = 'mlfp.dashboard.login';
/** refresh this long before `exp` (Keycloak access tokens live 5 minutes) */
const REFRESH_AHEAD_MS = 30_000;

/**
 * @typedef {{issuer: string, clientId: string, scope?: string, authorizationEndpoint?: string,
 *   tokenEndpoint?: string}} OidcConfig
 * @typedef {{accessToken: string, refreshToken?: string, expiresAtMs: number}} Tokens
 */

export class Auth {
  /**
   * @param {OidcConfig | undefined} oidc
   * @param {(tokens: Tokens | undefined) => void} onChange a new token (refreshed, pasted, logged in) or logout
   */
  constructor(oidc, onChange) {
    this.oidc = oidc;
    this.onChange = onChange;
    /** @type {Tokens | undefined} */
    this.tokens = readStored();
    this.refreshTimer = undefined;
    /** @type {string | undefined} why the last login or refresh failed */
    this.error = undefined;
  }

  /** Takes a token or an authorization response from the URL fragment, then clears the fragment. */
  async init() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.has('token') || fragment.has('code') || fragment.has('error')) {
      history.replaceState(null, '', location.pathname + location.search);
    }
    const pasted = fragment.get('token');
    if (pasted) this.usePastedToken(pasted);
    else if (fragment.has('error'))
      this.error = `login failed: ${fragment.get('error_description') ?? fragment.get('error')}`;
    else if (fragment.has('code'))
      await this.finishLogin(fragment.get('code') ?? '', fragment.get('state') ?? '');
    this.schedule();
  }

  get canLogin() {
    return this.oidc !== undefined && globalThis.crypto?.subtle !== undefined;
  }

  /** Who the token says the user is (for display only: the server verifies it). */
  get identity() {
    if (this.tokens === undefined) return undefined;
    const claims = decodeClaims(this.tokens.accessToken);
    if (claims === undefined) return { name: 'token', roles: [] };
    const roles = claims.realm_access?.roles?.filter((r) =>
      ['read_only', 'analyst', 'administrator'].includes(r),
    );
    return { name: claims.preferred_username ?? claims.sub ?? 'user', roles: roles ?? [] };
  }

  /** A current access token (refreshed first when it is about to expire), or undefined. */
  async token() {
    if (this.tokens === undefined) return undefined;
    if (this.tokens.expiresAtMs - Date.now() < REFRESH_AHEAD_MS && this.tokens.refreshToken)
      await this.refresh();
    return this.tokens?.accessToken;
  }

  usePastedToken(text) {
    const token = text.trim().replace(/^Bearer\s+/iu, '');
    const claims = decodeClaims(token);
    const expiresAtMs = typeof claims?.exp === 'number' ? claims.exp * 1000 : Date.now() + 3_600_000;
    this.store({ accessToken: token, expiresAtMs });
  }

  /** Redirects to the issuer's login page (authorization code + PKCE). */
  async login() {
    if (!this.canLogin || this.oidc === undefined) return;
    const endpoints = await this.endpoints();
    const verifier = randomUrlSafe(32);
    const state = randomUrlSafe(16);
    const challenge = base64Url(
      new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
    );
    sessionStorage.setItem(LOGIN_KEY, JSON.stringify({ verifier, state, redirectUri: redirectUri() }));
    const url = new URL(endpoints.authorization);
    url.search = new URLSearchParams({
      client_id: this.oidc.clientId,
      response_type: 'code',
      response_mode: 'fragment',
      redirect_uri: redirectUri(),
      scope: this.oidc.scope ?? 'openid',
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    location.assign(url.toString());
  }

  /** Forgets the tokens (this tab only; the issuer's session stays until it ends or is ended there). */
  logout() {
    this.store(undefined);
  }

  // ----------------------------------------------------------------------------------------------------------

  async finishLogin(code, state) {
    const pending = JSON.parse(sessionStorage.getItem(LOGIN_KEY) ?? 'null');
    sessionStorage.removeItem(LOGIN_KEY);
    if (pending === null || pending.state !== state) {
      this.error = 'login failed: the answer does not match a login started here (state)';
      return;
    }
    await this.tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    });
  }

  async refresh() {
    const refreshToken = this.tokens?.refreshToken;
    if (refreshToken === undefined) return;
    await this.tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  async tokenRequest(form) {
    if (this.oidc === undefined) return;
    try {
      const endpoints = await this.endpoints();
      const response = await fetch(endpoints.token, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form, client_id: this.oidc.clientId }),
      });
      const body = await response.json();
      if (!response.ok || typeof body.access_token !== 'string')
        throw new Error(body.error_description ?? body.error ?? `HTTP ${response.status}`);
      this.error = undefined;
      this.store({
        accessToken: body.access_token,
        refreshToken: body.refresh_token ?? this.tokens?.refreshToken,
        expiresAtMs: Date.now() + Number(body.expires_in ?? 300) * 1000,
      });
    } catch (error) {
      this.error = `login failed at the token endpoint: ${error.message}`;
      this.store(undefined);
    }
  }

  /** The issuer's endpoints: from config.json, else its discovery document, else Keycloak's paths. */
  async endpoints() {
    const oidc = /** @type {OidcConfig} */ (this.oidc);
    if (oidc.authorizationEndpoint && oidc.tokenEndpoint)
      return { authorization: oidc.authorizationEndpoint, token: oidc.tokenEndpoint };
    try {
      const response = await fetch(`${oidc.issuer}/.well-known/openid-configuration`);
      const discovery = await response.json();
      if (discovery.authorization_endpoint && discovery.token_endpoint)
        return { authorization: discovery.authorization_endpoint, token: discovery.token_endpoint };
    } catch {
      // discovery unreachable from the browser (CORS): fall through to Keycloak's fixed paths
    }
    return {
      authorization: `${oidc.issuer}/protocol/openid-connect/auth`,
      token: `${oidc.issuer}/protocol/openid-connect/token`,
    };
  }

  store(tokens) {
    this.tokens = tokens;
    if (tokens === undefined) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    this.schedule();
    this.onChange(tokens);
  }

  /** Refreshes ahead of expiry so the open WebSocket gets the new token in band (op auth) before exp. */
  schedule() {
    clearTimeout(this.refreshTimer);
    const tokens = this.tokens;
    if (tokens === undefined || tokens.refreshToken === undefined) return;
    const inMs = Math.max(1_000, tokens.expiresAtMs - Date.now() - REFRESH_AHEAD_MS);
    this.refreshTimer = setTimeout(() => void this.refresh(), inMs);
  }
}

/** The page's own URL without query or fragment: the redirect URI registered at the issuer. */
function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

function readStored() {
  try {
    const tokens = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    return tokens !== null && (tokens.expiresAtMs > Date.now() || tokens.refreshToken) ? tokens : undefined;
  } catch {
    return undefined;
  }
}

function decodeClaims(token) {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const text = atob(payload.replace(/-/gu, '+').replace(/_/gu, '/'));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
  } catch {
    return undefined;
  }
}

function randomUrlSafe(bytes) {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64Url(bytes) {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/gu, '-')
    .replace(/\//gu, '_')
    .replace(/=+$/u, '');
}

// Logs in to the test realm the way clients do: authorization code + PKCE through Keycloak's own login forms
// (password, then the TOTP code a phone app would show), or password (+ TOTP) straight at the token endpoint
// (direct grant). Users, passwords and TOTP secrets come from config/keycloak/mlfp-realm.json, the file
// scripts/services.sh imports, so the tests and the realm cannot drift apart.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REALM_FILE = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'config',
  'keycloak',
  'mlfp-realm.json',
);
export const CLIENT_ID = 'mlfp-api';
/** Registered on the client; never served: the code is read from the Location header of Keycloak's redirect. */
const REDIRECT_URI = 'http://127.0.0.1/callback';

export interface RealmUser {
  username: string;
  password: string;
  /** base32 TOTP secret; undefined for a password-only user */
  totpSecret: string | undefined;
  realmRoles: string[];
}

interface RealmCredential {
  type: string;
  value?: string;
  secretData?: string;
}

interface RealmFile {
  ssoSessionMaxLifespan: number;
  users: { username: string; realmRoles?: string[]; credentials: RealmCredential[] }[];
}

export function readRealm(): RealmFile {
  return JSON.parse(readFileSync(REALM_FILE, 'utf8')) as RealmFile;
}

export function realmUsers(): RealmUser[] {
  return readRealm().users.map((user) => {
    const password = user.credentials.find((credential) => credential.type === 'password')?.value;
    const otp = user.credentials.find((credential) => credential.type === 'otp');
    if (password === undefined) throw new Error(`realm user ${user.username} has no password`);
    return {
      username: user.username,
      password,
      totpSecret:
        otp?.secretData === undefined ? undefined : (JSON.parse(otp.secretData) as { value: string }).value,
      realmRoles: user.realmRoles ?? [],
    };
  });
}

export function realmUser(username: string): RealmUser {
  const user = realmUsers().find((candidate) => candidate.username === username);
  if (user === undefined) throw new Error(`no user ${username} in ${REALM_FILE}`);
  return user;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text: string): Buffer {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const character of text.replace(/=+$/, '').toUpperCase()) {
    const index = BASE32.indexOf(character);
    if (index < 0) throw new Error(`not base32: ${character}`);
    buffer = (buffer << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP (HMAC-SHA1, 30 s steps), as an authenticator app computes it. */
export function totp(secretBase32: string, nowMs: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 1000 / 30)));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return code.toString().padStart(digits, '0');
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
}

export class KeycloakLoginError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly oauthError: string | undefined,
  ) {
    super(message);
  }
}

/** Cookies of one browser-like login conversation. */
class CookieJar {
  readonly #cookies = new Map<string, string>();

  take(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const pair = header.split(';', 1)[0] ?? '';
      const separator = pair.indexOf('=');
      if (separator > 0) this.#cookies.set(pair.slice(0, separator), pair.slice(separator + 1));
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

function formAction(html: string, formId: string): string | undefined {
  for (const match of html.matchAll(/<form\b[^>]*>/g)) {
    const tag = match[0];
    if (!tag.includes(`id="${formId}"`)) continue;
    const action = /\baction="([^"]+)"/.exec(tag)?.[1];
    return action?.replaceAll('&amp;', '&');
  }
  return undefined;
}

async function tokenRequest(issuer: string, form: Record<string, string>): Promise<TokenResponse> {
  const response = await fetch(`${issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams(form),
  });
  const body = (await response.json()) as Partial<TokenResponse> & {
    error?: string;
    error_description?: string;
  };
  if (!response.ok || body.access_token === undefined) {
    throw new KeycloakLoginError(
      `token endpoint answered ${response.status}: ${body.error ?? '?'} (${body.error_description ?? ''})`,
      response.status,
      body.error,
    );
  }
  return body as TokenResponse;
}

/**
 * Authorization code flow with PKCE through the realm's browser flow: the login form, then the OTP form for a
 * user who has one. `otp` overrides the code computed from the user's secret.
 */
export async function loginWithCode(
  issuer: string,
  user: RealmUser,
  options: { nowMs: number; otp?: string },
): Promise<TokenResponse> {
  const jar = new CookieJar();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(8).toString('hex');
  const authorize = new URL(`${issuer}/protocol/openid-connect/auth`);
  for (const [name, value] of Object.entries({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    authorize.searchParams.set(name, value);
  }
  let response = await fetch(authorize, { redirect: 'manual' });
  jar.take(response);
  let html = await response.text();
  const post = async (action: string, form: Record<string, string>): Promise<Response> => {
    const answer = await fetch(action, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    jar.take(answer);
    return answer;
  };
  const loginAction = formAction(html, 'kc-form-login');
  if (loginAction === undefined)
    throw new KeycloakLoginError('no login form on the authorization page', response.status, undefined);
  response = await post(loginAction, { username: user.username, password: user.password });
  if (response.status === 200) {
    html = await response.text();
    const otpAction = formAction(html, 'kc-otp-login-form');
    if (otpAction === undefined)
      throw new KeycloakLoginError('login form refused the password', 200, undefined);
    const code = options.otp ?? (user.totpSecret === undefined ? '' : totp(user.totpSecret, options.nowMs));
    response = await post(otpAction, { otp: code });
    if (response.status === 200) throw new KeycloakLoginError('OTP form refused the code', 200, undefined);
  }
  const location = response.headers.get('location');
  if (response.status !== 302 || location === null) {
    throw new KeycloakLoginError(
      `login ended with ${response.status}, not a redirect`,
      response.status,
      undefined,
    );
  }
  const redirect = new URL(location);
  const code = redirect.searchParams.get('code');
  if (redirect.searchParams.get('state') !== state || code === null) {
    throw new KeycloakLoginError(`redirect without our state and a code: ${redirect.search}`, 302, undefined);
  }
  return tokenRequest(issuer, {
    grant_type: 'authorization_code',
    client_id: CLIENT_ID,
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  });
}

/** Direct grant (resource owner password credentials) with an optional `totp` form parameter. */
export function loginWithPassword(
  issuer: string,
  user: RealmUser,
  options: { totp?: string } = {},
): Promise<TokenResponse> {
  const form: Record<string, string> = {
    grant_type: 'password',
    client_id: CLIENT_ID,
    username: user.username,
    password: user.password,
    scope: 'openid',
  };
  if (options.totp !== undefined) form['totp'] = options.totp;
  return tokenRequest(issuer, form);
}

export function refresh(issuer: string, refreshToken: string): Promise<TokenResponse> {
  return tokenRequest(issuer, {
    grant_type: 'refresh_token',
    client_id: CLIENT_ID,
    refresh_token: refreshToken,
  });
}

/** A master-realm admin token for the admin REST API (bootstrap admin of scripts/services.sh). */
export async function adminToken(issuer: string, password: string): Promise<string> {
  const masterIssuer = issuer.replace(/\/realms\/[^/]+$/, '/realms/master');
  const response = await tokenRequest(masterIssuer, {
    grant_type: 'password',
    client_id: 'admin-cli',
    username: 'admin',
    password,
  });
  return response.access_token;
}

/** The claims of a JWT, unverified: for assertions about what Keycloak put in it. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

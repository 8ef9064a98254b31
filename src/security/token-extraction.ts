// Where a bearer token may travel: the Authorization header, or Sec-WebSocket-Protocol as `bearer.<token>`
// beside a real sub-protocol (browsers cannot set headers on a WebSocket). Never the URL query string, which
// proxies, access logs and browser history keep: a token there is refused. Errors never repeat the token.
import { MlfpError } from '../errors.js';

/** RFC 6750 b64token: what may follow `Bearer `. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The prefix that marks the token entry among the offered WebSocket sub-protocols. */
export const BEARER_PROTOCOL_PREFIX = 'bearer.';

/** Query parameters that carry tokens by convention; any value shaped like a JWT is refused as well. */
const TOKEN_PARAMETERS = new Set(['access_token', 'token', 'id_token', 'jwt', 'bearer', 'authorization']);

/** A JWS compact serialisation: three base64url parts, the first a JSON object (`{"` encodes as `eyJ`). */
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The token of an `Authorization: Bearer <token>` header; undefined when there is no header. A header that is
 * present but not a bearer credential is an error rather than "no token", so a typo is not read as anonymous.
 */
export function bearerFromAuthorization(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') {
    throw new MlfpError('unauthenticated', 'more than one Authorization header', { field: 'authorization' });
  }
  const match = /^([A-Za-z]+) +(\S+) *$/.exec(header);
  if (match === null || match[1]?.toLowerCase() !== 'bearer') {
    throw new MlfpError('unauthenticated', 'Authorization header is not "Bearer <token>"', {
      field: 'authorization',
      value: match?.[1],
    });
  }
  const token = match[2] as string;
  if (!B64TOKEN.test(token)) {
    throw new MlfpError('unauthenticated', 'bearer token has characters outside RFC 6750 b64token', {
      field: 'authorization',
    });
  }
  return token;
}

export interface WebSocketProtocolToken {
  /** the token from the `bearer.<token>` entry; undefined when none was offered */
  token: string | undefined;
  /** the other offered sub-protocols, in order: the server selects one of these, never the bearer entry */
  protocols: string[];
}

/**
 * Splits the offered sub-protocols (the raw Sec-WebSocket-Protocol value, or the set `ws` hands to
 * `handleProtocols`) into the bearer token and the real sub-protocols. A token offered alone, or twice, is
 * refused: the server must be able to answer with a real sub-protocol that does not echo the token.
 */
export function tokenFromWebSocketProtocols(
  offered: string | Iterable<string> | undefined,
  prefix: string = BEARER_PROTOCOL_PREFIX,
): WebSocketProtocolToken {
  if (offered === undefined) return { token: undefined, protocols: [] };
  const entries = typeof offered === 'string' ? offered.split(',') : [...offered];
  let token: string | undefined;
  const protocols: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (entry.toLowerCase().startsWith(prefix)) {
      if (token !== undefined) {
        throw new MlfpError('unauthenticated', 'more than one bearer token among the sub-protocols', {
          field: 'sec-websocket-protocol',
        });
      }
      token = entry.slice(prefix.length);
      if (token === '') {
        throw new MlfpError('unauthenticated', `empty ${prefix}<token> sub-protocol`, {
          field: 'sec-websocket-protocol',
        });
      }
    } else {
      protocols.push(entry);
    }
  }
  if (token !== undefined && protocols.length === 0) {
    throw new MlfpError(
      'unauthenticated',
      `offer a sub-protocol beside ${prefix}<token> (for example "mlfp.v1, ${prefix}<token>")`,
      { field: 'sec-websocket-protocol' },
    );
  }
  return { token, protocols };
}

/**
 * Refuses a request URL that carries a token in its query string (a conventional parameter name, or any value
 * shaped like a JWT). The error names the parameter, never its value.
 */
export function refuseTokenInQuery(url: string | URL): void {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url, 'http://localhost') : url;
  } catch (cause) {
    throw new MlfpError('unauthenticated', 'request URL cannot be parsed', { field: 'url', cause });
  }
  for (const [name, value] of parsed.searchParams) {
    if (TOKEN_PARAMETERS.has(name.toLowerCase()) || JWT_SHAPE.test(value)) {
      throw new MlfpError(
        'token_in_query',
        'tokens are refused in the URL query string: send Authorization: Bearer, or the bearer sub-protocol',
        { field: `query.${name.length > 40 ? `${name.slice(0, 39)}…` : name}` },
      );
    }
  }
}

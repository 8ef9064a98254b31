// Where tokens may and may not travel: Authorization header, the WebSocket sub-protocol beside a real one, never
// the query string. Errors name the place, never the token.
import { describe, expect, it } from 'vitest';
import { MlfpError } from '../errors.js';
import {
  bearerFromAuthorization,
  refuseTokenInQuery,
  tokenFromWebSocketProtocols,
} from './token-extraction.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLWJ5dGVz';

function caught(action: () => unknown): MlfpError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MlfpError);
    const refused = error as MlfpError;
    expect(`${refused.message} ${JSON.stringify(refused.toJSON())}`).not.toContain(TOKEN);
    expect(JSON.stringify(refused.toJSON())).not.toContain('c2lnbmF0dXJl');
    return refused;
  }
  throw new Error('expected a refusal');
}

describe('bearerFromAuthorization', () => {
  it('reads the token of a Bearer credential, the scheme in any case', () => {
    expect(bearerFromAuthorization(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerFromAuthorization(`bearer  ${TOKEN}`)).toBe(TOKEN);
  });

  it('returns undefined when there is no header', () => {
    expect(bearerFromAuthorization(undefined)).toBeUndefined();
  });

  it.each([
    ['another scheme', `Basic ${TOKEN}`],
    ['a scheme without a token', 'Bearer'],
    ['characters outside b64token', `Bearer ${TOKEN}"<script>`],
    ['two credentials', `Bearer ${TOKEN} ${TOKEN}`],
  ])('refuses %s without repeating the credential', (_, header) => {
    const error = caught(() => bearerFromAuthorization(header));
    expect({ code: error.code, field: error.field }).toEqual({
      code: 'unauthenticated',
      field: 'authorization',
    });
  });

  it('names only the scheme it refused', () => {
    expect(caught(() => bearerFromAuthorization(`Basic ${TOKEN}`)).value).toBe('"Basic"');
  });

  it('refuses a repeated Authorization header', () => {
    expect(caught(() => bearerFromAuthorization([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`])).code).toBe(
      'unauthenticated',
    );
  });
});

describe('tokenFromWebSocketProtocols', () => {
  it('splits the bearer entry from the real sub-protocols of the raw header', () => {
    expect(tokenFromWebSocketProtocols(`mlfp.v1, bearer.${TOKEN}`)).toEqual({
      token: TOKEN,
      protocols: ['mlfp.v1'],
    });
  });

  it('takes the Set that ws hands to handleProtocols, keeping the order of the others', () => {
    expect(tokenFromWebSocketProtocols(new Set([`bearer.${TOKEN}`, 'mlfp.v2', 'mlfp.v1']))).toEqual({
      token: TOKEN,
      protocols: ['mlfp.v2', 'mlfp.v1'],
    });
  });

  it('reports no token when none is offered', () => {
    expect(tokenFromWebSocketProtocols('mlfp.v1')).toEqual({ token: undefined, protocols: ['mlfp.v1'] });
    expect(tokenFromWebSocketProtocols(undefined)).toEqual({ token: undefined, protocols: [] });
  });

  it.each([
    ['a token offered alone (the server would have to echo it)', `bearer.${TOKEN}`],
    ['two tokens', `mlfp.v1, bearer.${TOKEN}, bearer.${TOKEN}`],
    ['an empty token', 'mlfp.v1, bearer.'],
  ])('refuses %s', (_, header) => {
    const error = caught(() => tokenFromWebSocketProtocols(header));
    expect({ code: error.code, field: error.field }).toEqual({
      code: 'unauthenticated',
      field: 'sec-websocket-protocol',
    });
  });
});

describe('refuseTokenInQuery', () => {
  it.each([
    ['access_token', `/ws?access_token=${TOKEN}`],
    ['token', `/ws?symbols=AAPL&token=${TOKEN}`],
    ['Access_Token', `/api/bars?Access_Token=x`],
    ['state', `/ws?state=${TOKEN}`],
  ])('refuses a token in query parameter %s, naming the parameter only', (name, url) => {
    const error = caught(() => refuseTokenInQuery(url));
    expect({ code: error.code, field: error.field, value: error.value }).toEqual({
      code: 'token_in_query',
      field: `query.${name}`,
      value: undefined,
    });
  });

  it('accepts ordinary query parameters and URL objects', () => {
    expect(() => refuseTokenInQuery('/ws?symbols=AAPL,MSFT&since=42')).not.toThrow();
    expect(() => refuseTokenInQuery(new URL('https://api.test/v1/bars?tf=5m'))).not.toThrow();
  });
});

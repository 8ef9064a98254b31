// One WebSocket connection's protocol: parses and validates each request (protocol.ts), checks the rate,
// authentication and role of every one, and replies with the client's id, `success` and, on failure, a typed
// error. Holds the auth deadline and the expiry timer: a connection whose token expires is closed with 4002,
// one whose session (auth_time + max) ends with 4003, each within a second of the moment.

import { isMlfpError, MlfpError, type ErrorCode } from '../errors.js';
import { roleAllows } from '../security/roles.js';
import type { Principal } from '../security/token-verifier.js';
import { CHANNELS, isChannel, requiredRole, type Channel } from './channels.js';
import type { SignalHub } from './hub.js';
import {
  CLOSE,
  clientMessageSchema,
  describeIssue,
  type ClientMessage,
  type ErrorReply,
} from './protocol.js';
import type { Session } from './session.js';

export interface ConnectionContext {
  hub: SignalHub;
  /** verifies a bearer token now; undefined = auth mode none (every role) */
  verify: ((token: string) => Promise<Principal>) | undefined;
  now: () => number;
  authTimeoutMs: number;
  onError(code: ErrorCode): void;
  onReplay(tier: string): void;
}

/** The principal of auth mode none: every role, never expiring (only ever on loopback). */
export const ANONYMOUS: Principal = Object.freeze({
  subject: 'anonymous',
  roles: ['read_only', 'analyst', 'administrator'] as const,
  expiresAt: Number.POSITIVE_INFINITY,
  sessionEndsAt: Number.POSITIVE_INFINITY,
});

/** Most rate refusals in a row before the connection is closed (1008). */
const MAX_RATE_REFUSALS = 3;

export class Connection {
  private expiryTimer: NodeJS.Timeout | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private rateRefusals = 0;

  constructor(
    readonly session: Session,
    private readonly context: ConnectionContext,
    principal: Principal | undefined,
  ) {
    if (context.verify === undefined) this.authenticate(ANONYMOUS);
    else if (principal !== undefined) this.authenticate(principal);
    else
      this.authTimer = setTimeout(
        () => this.session.close(CLOSE.authTimeout, `no auth message within ${context.authTimeoutMs} ms`),
        context.authTimeoutMs,
      );
  }

  /** One text frame from the client. */
  async receive(text: string): Promise<void> {
    const session = this.session;
    if (session.closed) return;
    if (!session.takeControlToken()) {
      this.rateRefusals++;
      this.fail(null, undefined, 'rate_limited', 'more requests per second than the connection may send');
      if (this.rateRefusals >= MAX_RATE_REFUSALS) session.close(CLOSE.policy, 'request rate exceeded');
      return;
    }
    this.rateRefusals = 0;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.fail(null, undefined, 'bad_json', 'the frame is not JSON');
      return;
    }
    const parsed = clientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const { field, message } = describeIssue(parsed.error);
      const id = idOf(raw);
      this.fail(id, opOf(raw), 'bad_request', message, field);
      return;
    }
    try {
      await this.handle(parsed.data);
    } catch (error) {
      const failure = isMlfpError(error) ? error : new MlfpError('internal', 'request failed');
      this.fail(parsed.data.id, parsed.data.op, failure.code, failure.message, failure.field);
    }
  }

  /** The connection closed: timers stop, the hub forgets it. */
  closed(): void {
    clearTimeout(this.expiryTimer);
    clearTimeout(this.authTimer);
    this.context.hub.remove(this.session);
  }

  private async handle(message: ClientMessage): Promise<void> {
    const session = this.session;
    switch (message.op) {
      case 'ping':
        session.sendControl({
          id: message.id,
          op: 'ping',
          success: true,
          result: { ts: this.context.now() },
        });
        return;
      case 'auth': {
        if (this.context.verify === undefined)
          throw new MlfpError('bad_request', 'this server runs with auth mode none: no token is needed', {
            field: 'op',
          });
        const principal = await this.context.verify(message.token);
        if (session.closed) return; // closed while the token was checked: no timer for a dead session
        const current = session.principal;
        if (current !== undefined && current !== ANONYMOUS && current.subject !== principal.subject)
          throw new MlfpError('forbidden', 'a refreshed token must be for the same subject', {
            field: 'token',
          });
        this.authenticate(principal);
        // a refreshed token with fewer roles loses what its roles no longer allow
        for (const channel of [...session.subscriptions.keys()])
          if (!roleAllows(principal.roles, requiredRole(channel))) {
            this.context.hub.unsubscribe(session, channel);
            session.sendControl({
              type: 'unsubscribed',
              channel,
              reason: { code: 'forbidden', message: `${channel} needs the ${requiredRole(channel)} role` },
            });
          }
        session.sendControl({
          id: message.id,
          op: 'auth',
          success: true,
          result: {
            subject: principal.subject,
            roles: principal.roles,
            expiresAt: principal.expiresAt,
            sessionEndsAt: principal.sessionEndsAt,
          },
        });
        return;
      }
      case 'list':
        this.requirePrincipal();
        session.sendControl({
          id: message.id,
          op: 'list',
          success: true,
          result: {
            channels: CHANNELS.map((channel) => ({
              channel,
              allowed: roleAllows(session.principal!.roles, requiredRole(channel)),
              subscribed: session.subscriptions.has(channel),
            })),
            limits: session.limitsLeft(),
          },
        });
        return;
      case 'unsubscribe': {
        this.requirePrincipal();
        const had = this.context.hub.unsubscribe(session, message.channel);
        if (!had)
          throw new MlfpError('not_found', `not subscribed to ${message.channel}`, {
            field: 'channel',
            value: message.channel,
          });
        session.sendControl({
          id: message.id,
          op: 'unsubscribe',
          success: true,
          result: { channel: message.channel },
        });
        return;
      }
      case 'subscribe': {
        const principal = this.requirePrincipal();
        const channel: Channel = message.channel;
        if (!isChannel(channel)) throw new MlfpError('bad_request', 'unknown channel', { field: 'channel' });
        if (!roleAllows(principal.roles, requiredRole(channel)))
          throw new MlfpError('forbidden', `${channel} needs the ${requiredRole(channel)} role`, {
            field: 'channel',
            value: channel,
          });
        if (message.model !== undefined && channel !== 'predictions')
          throw new MlfpError('bad_request', 'model filters only the predictions channel', {
            field: 'model',
          });
        if (!session.subscriptions.has(channel) && session.subscriptionsLeft <= 0)
          throw new MlfpError(
            'limit_exceeded',
            `at most ${session.subscriptions.size} channels per connection`,
            {
              field: 'channel',
              value: channel,
            },
          );
        const symbols = message.symbols.includes('*') ? undefined : new Set(message.symbols);
        this.context.hub.subscribe(
          session,
          { channel, symbols, model: message.model, lastSeq: 0 },
          message.since,
          (result) => {
            if (message.since !== undefined) this.context.onReplay(result.replay);
            session.sendControl({
              id: message.id,
              op: 'subscribe',
              success: true,
              result: {
                ...result,
                policy: channel.startsWith('features.') || channel === 'predictions' ? 'conflate' : 'queue',
                limits: session.limitsLeft(),
              },
            });
          },
        );
        return;
      }
    }
  }

  private requirePrincipal(): Principal {
    const principal = this.session.principal;
    if (principal === undefined)
      throw new MlfpError('unauthenticated', 'send op auth with a token first', { field: 'op' });
    return principal;
  }

  private authenticate(principal: Principal): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.session.principal = principal;
    clearTimeout(this.expiryTimer);
    const ends = Math.min(principal.expiresAt, principal.sessionEndsAt);
    if (!Number.isFinite(ends)) return;
    const sessionEnds = principal.sessionEndsAt <= principal.expiresAt;
    // setTimeout fires at most ~25 days ahead; a token lives far less
    this.expiryTimer = setTimeout(
      () =>
        this.session.close(
          sessionEnds ? CLOSE.sessionExpired : CLOSE.tokenExpired,
          sessionEnds ? 'session expired: log in again' : 'token expired: send a refreshed token before exp',
        ),
      Math.max(0, Math.min(ends - this.context.now(), 2_000_000_000)),
    );
  }

  private fail(
    id: string | number | null,
    op: string | undefined,
    code: ErrorCode,
    message: string,
    field?: string,
  ): void {
    this.context.onError(code);
    const reply: ErrorReply = { id, success: false, error: { code, message } };
    if (op !== undefined) reply.op = op;
    if (field !== undefined && field !== '') reply.error.field = field;
    this.session.sendControl(reply);
  }
}

function idOf(raw: unknown): string | number | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as { id?: unknown }).id;
  return (typeof id === 'string' && id.length <= 64) || (typeof id === 'number' && Number.isSafeInteger(id))
    ? id
    : null;
}

function opOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const op = (raw as { op?: unknown }).op;
  return typeof op === 'string' && op.length <= 32 ? op : undefined;
}

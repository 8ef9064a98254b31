// Drives a running engine's public API so that every mlfp_api_* metric has something to count: a REST
// request, a refused upgrade (token in the query string), a bad frame, a resubscription with `since`, a
// subscriber that reads, and one that stops reading (conflation, lag notice, slow-consumer close, given small
// api.softBytes / hardBytes). Returns a function that closes what is still open.

import WebSocket from 'ws';

/** The public API's base URL from the run's `api.listening` log line (JSON lines on stderr). */
export function apiUrlFrom(stderr: string): string | undefined {
  const match = /"event":"api\.listening","url":"(http[^"]+)"/u.exec(stderr);
  return match?.[1];
}

export async function exerciseApi(baseUrl: string): Promise<() => void> {
  const wsUrl = `${baseUrl.replace(/^http/u, 'ws')}v1/ws`;
  const open: WebSocket[] = [];
  await fetch(`${baseUrl}v1/latest/bars?symbol=NOPE&timeframe=5m`);
  await new Promise<void>((resolve) => {
    const refused = new WebSocket(`${wsUrl}?access_token=abc`, 'mlfp.v1');
    refused.on('unexpected-response', () => resolve());
    refused.on('error', () => resolve());
  });
  const connect = async (): Promise<WebSocket> => {
    const ws = new WebSocket(wsUrl, 'mlfp.v1');
    open.push(ws);
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return ws;
  };
  const reader = await connect();
  reader.send('not json');
  reader.send(
    JSON.stringify({
      id: 1,
      op: 'subscribe',
      channel: 'bars.5m',
      symbols: ['*'],
      since: { epoch: 'elsewhere', seq: 0 },
    }),
  );
  const stalled = await connect();
  for (const [id, channel] of [
    [1, 'features.5m'],
    [2, 'predictions'],
    [3, 'bars.5m'],
  ] as const)
    stalled.send(JSON.stringify({ id, op: 'subscribe', channel, symbols: ['*'] }));
  await new Promise((resolve) => setTimeout(resolve, 100));
  (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
  return () => {
    for (const ws of open) ws.terminate();
  };
}

// The public API's Prometheus metrics (mlfp_api_*), on the engine's registry: connections, refusals by
// reason, messages and bytes sent, conflation, lag notices and slow-consumer closes, request errors by code,
// replays by tier.

import { Counter, Gauge, type Registry } from 'prom-client';

export class ApiMetrics {
  readonly connections: Gauge;
  readonly refused: Counter<'reason'>;
  readonly messages: Counter<'channel'>;
  readonly bytes: Counter;
  /** bytes handed to clients so far; the server sets it (summed at scrape time, not per frame) */
  sentBytes: () => number = () => 0;
  readonly conflated: Counter<'channel'>;
  readonly lagNotices: Counter;
  readonly slowConsumerCloses: Counter;
  readonly errors: Counter<'code'>;
  readonly replays: Counter<'tier'>;
  readonly requests: Counter<'route' | 'status'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connections = new Gauge({
      name: 'mlfp_api_connections',
      help: 'open WebSocket connections',
      registers,
    });
    this.refused = new Counter({
      name: 'mlfp_api_refused_total',
      help: 'WebSocket connections refused or closed by policy, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.messages = new Counter({
      name: 'mlfp_api_messages_published_total',
      help: 'data messages published per channel (each serialised once, whatever the subscriber count)',
      labelNames: ['channel'],
      registers,
    });
    const sent = (): number => this.sentBytes();
    this.bytes = new Counter({
      name: 'mlfp_api_sent_bytes_total',
      help: 'bytes handed to WebSocket clients',
      registers,
      collect() {
        this.reset();
        this.inc(sent());
      },
    });
    this.conflated = new Counter({
      name: 'mlfp_api_conflated_total',
      help: 'messages replaced by a later one for a slow client (features, predictions only)',
      labelNames: ['channel'],
      registers,
    });
    this.lagNotices = new Counter({
      name: 'mlfp_api_lag_notices_total',
      help: 'clients told they are past the hard byte budget',
      registers,
    });
    this.slowConsumerCloses = new Counter({
      name: 'mlfp_api_slow_consumer_closes_total',
      help: 'clients closed (4008) for staying past the hard byte budget',
      registers,
    });
    this.errors = new Counter({
      name: 'mlfp_api_errors_total',
      help: 'error replies to WebSocket requests, by error code',
      labelNames: ['code'],
      registers,
    });
    this.replays = new Counter({
      name: 'mlfp_api_replays_total',
      help: 'resubscriptions with since, by the tier that served them (ring, kafka, snapshot)',
      labelNames: ['tier'],
      registers,
    });
    this.requests = new Counter({
      name: 'mlfp_api_http_requests_total',
      help: 'REST requests by route and status',
      labelNames: ['route', 'status'],
      registers,
    });
  }
}

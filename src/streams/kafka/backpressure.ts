// Backpressure and waits of the Kafka engine: pausing the ticks topic while too many records are not yet
// durable, and heartbeating kafkajs through any long wait so the group keeps us; health() reads both flags.

import type { Consumer } from 'kafkajs';
import { ENGINE_EVENTS } from '../engine-events.js';
import { delay, type EngineContext } from './engine-context.js';

const HEARTBEAT_EVERY_MS = 1_000;

export class FlowControl {
  /** true while consumption is paused for backpressure */
  paused = false;
  /** set by withHeartbeat once a wait has lasted a heartbeat interval: health shows what blocks consumption */
  waitingFor: string | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly consumer: () => Consumer | undefined,
  ) {}

  /**
   * Awaits `work`, calling kafkajs's heartbeat about every second so a slow store or registry keeps us in the
   * group. Consumption stands still meanwhile: once the wait outlasts one heartbeat, health() says what for
   * (a sink retrying through an outage would otherwise leave the source looking 'up').
   */
  async withHeartbeat<T>(work: Promise<T>, heartbeat: () => Promise<void>, what: string): Promise<T> {
    let settled = false;
    const guarded = work.finally(() => {
      settled = true;
    });
    try {
      for (;;) {
        const tick = await Promise.race([
          guarded.then(() => true),
          delay(HEARTBEAT_EVERY_MS).then(() => false),
        ]);
        if (tick || settled || !this.context.isActive()) return await guarded;
        this.waitingFor = what;
        await heartbeat();
      }
    } finally {
      if (this.waitingFor === what) this.waitingFor = undefined;
    }
  }

  /** Pauses every assigned partition until the pending records fall to half the limit, heartbeating meanwhile. */
  async backpressure(slot: { readonly revoked: boolean }, heartbeat: () => Promise<void>): Promise<void> {
    const consumer = this.consumer();
    if (consumer === undefined) return;
    const { context } = this;
    const { delivery, topic } = context;
    this.paused = true;
    consumer.pause([{ topic }]);
    context.emit(
      'warn',
      ENGINE_EVENTS.paused,
      `consumption paused: ${delivery.pendingRecords} records not yet durable`,
      {
        pendingRecords: delivery.pendingRecords,
        outputs: delivery
          .health()
          .filter((output) => output.state !== 'up')
          .map((output) => output.name),
      },
    );
    const resumeAt = Math.floor(context.config.delivery.maxPendingRecords / 2);
    try {
      while (!(await delivery.waitPendingAtMost(resumeAt, HEARTBEAT_EVERY_MS))) {
        if (slot.revoked || context.state() !== 'running') return;
        await heartbeat();
      }
    } finally {
      this.paused = false;
      if (context.state() === 'running') {
        consumer.resume([{ topic }]);
        context.emit('info', ENGINE_EVENTS.resumed, 'consumption resumed', {
          pendingRecords: delivery.pendingRecords,
        });
      }
    }
  }
}

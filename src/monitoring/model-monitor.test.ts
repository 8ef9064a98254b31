import { describe, expect, it } from 'vitest';
import { monitoringSchema } from '../config/monitoring-schemas.js';
import type { Output } from '../domain/output.js';
import type { Alert, Bar, LabelRecord, Prediction } from '../domain/types.js';
import { Random } from '../streams/random.js';
import type { DependencyStatus } from './metrics.js';
import { ModelMonitor, type MonitoredModel } from './model-monitor.js';

const MODEL: MonitoredModel = {
  model: 'lgbm-return',
  version: '1.0.0',
  kind: 'regressor',
  timeframe: '5m',
  inputs: ['returns'],
  featureIndex: [0],
  outputs: ['value'],
  label: { kind: 'return', horizonBars: 1 },
};
const CLASSIFIER: MonitoredModel = {
  model: 'xgb-direction',
  version: '1.0.0',
  kind: 'classifier',
  timeframe: '5m',
  inputs: ['returns'],
  featureIndex: [0],
  outputs: ['p_down', 'p_up'],
  label: { kind: 'return_sign', horizonBars: 1 },
  classes: ['down', 'up'],
};
const FIVE_MINUTES = 300_000;

function setUp(
  overrides: Record<string, unknown> = {},
  models: MonitoredModel[] = [MODEL],
): {
  monitor: ModelMonitor;
  alerts: Alert[];
  deps: Record<string, DependencyStatus>;
  clock: { now: number };
} {
  const config = monitoringSchema.parse({
    drift: { enabled: false },
    performance: { window: 20, every: 5 },
    ...overrides,
  });
  const deps: Record<string, DependencyStatus> = {};
  const clock = { now: 1_000_000 };
  const alerts: Alert[] = [];
  const monitor = new ModelMonitor(config, {
    signals: { models: () => models, dependencies: () => deps },
    random: (seed) => new Random(seed),
    now: () => clock.now,
    onAlert: (alert) => alerts.push(alert),
  });
  return { monitor, alerts, deps, clock };
}

const modelError = (subject: string, ts: number): Output => ({
  kind: 'alert',
  value: {
    type: 'model_error',
    state: 'firing',
    severity: 'warning',
    subject,
    value: 1,
    threshold: 0,
    ts,
    message: 'output 0 is Infinity',
  },
});

const prediction = (symbol: string, ts: number, value: number, latencyMs = 2): Prediction => ({
  symbol,
  timeframe: '5m',
  ts,
  model: MODEL.model,
  version: MODEL.version,
  kind: 'regressor',
  output: { value },
  latencyMs,
});

const bar = (symbol: string, ts: number, close: number, revision = 0): Bar => ({
  symbol,
  timeframe: '5m',
  ts,
  end: ts + FIVE_MINUTES,
  open: close,
  high: close,
  low: close,
  close,
  volume: 1,
  vwap: close,
  trades: 1,
  revision,
});

describe('ModelMonitor: the alert lifecycle over the engine signals', () => {
  it('a burst of model errors is one firing alert and, once they stop for keepFiringFor, one resolved', () => {
    const { monitor, alerts, clock } = setUp({
      alerts: { rules: { modelErrors: { forMs: 0, keepFiringForMs: 3_000 } } },
    });
    // raw model_error alerts from the scorer are taken over (kept out of the outbox)
    for (let i = 0; i < 5; i++) {
      expect(monitor.observe(modelError('lgbm-return@1.0.0', clock.now))).toBe(true);
      clock.now += 400;
      monitor.evaluate();
    }
    expect(alerts.map((a) => `${a.rule} ${a.state}`)).toEqual(['ModelErrors firing']);
    for (let i = 0; i < 10; i++) {
      clock.now += 1_000;
      monitor.evaluate();
    }
    expect(alerts.map((a) => `${a.rule} ${a.state}`)).toEqual(['ModelErrors firing', 'ModelErrors resolved']);
    const [firing, resolved] = alerts as [Alert, Alert];
    expect(firing.type).toBe('model_error');
    expect(firing.subject).toBe('lgbm-return');
    expect(resolved.fingerprint).toBe(firing.fingerprint);
    expect(resolved.startsAt).toBe(firing.startsAt);
    expect(resolved.ts).toBeGreaterThan(firing.ts);
    // both went to the outbox, to be delivered with the next flush
    expect(monitor.takeOutputs()?.alerts).toEqual(alerts);
    expect(monitor.takeOutputs()).toBeUndefined();
  });

  it('an unknown or shadow model error is not taken over (it stays a raw alert)', () => {
    const { monitor } = setUp();
    expect(monitor.observe(modelError('lgbm-return@1.0.0 (shadow)', 0))).toBe(false);
    expect(monitor.observe(modelError('other@2.0.0', 0))).toBe(false);
  });

  it('a dependency down for longer than forMs fires once and resolves once when it is back', () => {
    const { monitor, alerts, deps, clock } = setUp({
      alerts: { rules: { sinkDown: { forMs: 2_000, keepFiringForMs: 1_000 } } },
    });
    deps['sink:postgres'] = { state: 'up' };
    deps['source:kafka'] = { state: 'up', values: { lag: 0 } };
    monitor.evaluate();
    deps['sink:postgres'] = { state: 'retrying', detail: 'connect ECONNREFUSED' };
    for (let i = 0; i < 10; i++) {
      clock.now += 500;
      monitor.evaluate();
    }
    expect(alerts.map((a) => `${a.subject} ${a.state}`)).toEqual(['sink:postgres firing']);
    deps['sink:postgres'] = { state: 'up' };
    for (let i = 0; i < 5; i++) {
      clock.now += 500;
      monitor.evaluate();
    }
    expect(alerts.map((a) => `${a.subject} ${a.state}`)).toEqual([
      'sink:postgres firing',
      'sink:postgres resolved',
    ]);
    expect(alerts[0]!.annotations?.['detail']).toBe('connect ECONNREFUSED');
  });

  it('a dependency down for less than forMs raises nothing (pending only)', () => {
    const { monitor, alerts, deps, clock } = setUp({
      alerts: { rules: { sinkDown: { forMs: 5_000 } } },
    });
    deps['sink:kafka'] = { state: 'retrying' };
    monitor.evaluate();
    clock.now += 2_000;
    monitor.evaluate();
    expect(monitor.active().map((a) => `${a.alertname} ${a.state}`)).toEqual(['DependencyDown pending']);
    deps['sink:kafka'] = { state: 'up' };
    clock.now += 1_000;
    monitor.evaluate();
    expect(alerts).toEqual([]);
    expect(monitor.active()).toEqual([]);
  });

  it('a source paused by an output outage is that outage, not a second alert; starting and closed are no data', () => {
    const { monitor, alerts, deps, clock } = setUp({
      alerts: { rules: { sinkDown: { forMs: 1_000, keepFiringForMs: 0 } } },
    });
    deps['source:kafka'] = { state: 'starting' };
    deps['sink:postgres'] = { state: 'starting' };
    for (let i = 0; i < 5; i++) {
      clock.now += 1_000;
      monitor.evaluate();
    }
    expect(alerts).toEqual([]);
    deps['source:kafka'] = { state: 'retrying', detail: 'paused: outputs are behind (backpressure)' };
    deps['sink:postgres'] = { state: 'retrying' };
    for (let i = 0; i < 5; i++) {
      clock.now += 1_000;
      monitor.evaluate();
    }
    deps['source:kafka'] = { state: 'up' };
    deps['sink:postgres'] = { state: 'up' };
    clock.now += 1_000;
    monitor.evaluate();
    expect(alerts.map((a) => `${a.subject} ${a.state}`)).toEqual([
      'sink:postgres firing',
      'sink:postgres resolved',
    ]);
    // the source down on its own (brokers away) is an alert of its own
    deps['source:kafka'] = { state: 'retrying' };
    for (let i = 0; i < 3; i++) {
      clock.now += 1_000;
      monitor.evaluate();
    }
    expect(alerts.at(-1)).toMatchObject({ subject: 'source:kafka', state: 'firing' });
  });

  it('errors of a version made live since the last evaluation are taken over and counted for its name', () => {
    const models = [MODEL];
    const { monitor, alerts, clock } = setUp({}, models);
    models[0] = { ...MODEL, version: '1.0.1-poisoned' };
    expect(monitor.observe(modelError('lgbm-return@1.0.1-poisoned', clock.now))).toBe(true);
    monitor.evaluate();
    expect(alerts.map((a) => `${a.rule} ${a.subject} ${a.state}`)).toEqual([
      'ModelErrors lgbm-return firing',
    ]);
    expect(alerts[0]!.annotations?.['version']).toBe('1.0.1-poisoned');
  });

  it('a failure inside the monitor is counted and reported, never thrown into the stream', () => {
    const errors: unknown[] = [];
    const config = monitoringSchema.parse({ drift: { enabled: false } });
    const monitor = new ModelMonitor(config, {
      signals: { models: () => [MODEL], dependencies: () => ({}) },
      random: (seed) => new Random(seed),
      onError: (error) => errors.push(error),
    });
    // a label whose tracker throws (a bug stand-in): the output still flows, the failure is counted
    const broken = { kind: 'label', value: null } as unknown as Output;
    expect(monitor.observe(broken)).toBe(false);
    expect(monitor.failures).toBe(1);
    expect(errors).toHaveLength(1);
  });

  it('consumer lag over the bound fires, and resolves only below the hysteresis bound', () => {
    const { monitor, alerts, deps, clock } = setUp({
      alerts: {
        rules: { consumerLag: { maxRecords: 1_000, resolveRatio: 0.5, forMs: 0, keepFiringForMs: 0 } },
      },
    });
    const lag = (value: number): void => {
      deps['source:kafka'] = { state: 'up', values: { lag: value } };
      clock.now += 1_000;
      monitor.evaluate();
    };
    lag(999);
    lag(1_000);
    lag(700); // below the bound, above the resolve bound: still firing
    lag(1_200);
    lag(499);
    expect(alerts.map((a) => `${a.rule} ${a.state} ${a.value}`)).toEqual([
      'ConsumerLagHigh firing 1000',
      'ConsumerLagHigh resolved 499',
    ]);
  });

  it('prediction latency: the largest per evaluation is compared with the threshold', () => {
    const { monitor, alerts, clock } = setUp({
      alerts: { rules: { latency: { thresholdMs: 100, forMs: 0, keepFiringForMs: 0, resolveRatio: 0.8 } } },
    });
    const round = (latencies: number[]): void => {
      for (const latencyMs of latencies)
        monitor.observe({ kind: 'prediction', value: prediction('A', 0, 0, latencyMs) });
      clock.now += 1_000;
      monitor.evaluate();
    };
    round([1, 2, 99]);
    round([1, 150, 3]);
    round([90]); // hysteresis: 90 >= 80 keeps it firing
    round([10, 20]);
    expect(alerts.map((a) => `${a.rule} ${a.state} ${a.value}`)).toEqual([
      'PredictionLatencyHigh firing 150',
      'PredictionLatencyHigh resolved 20',
    ]);
  });
});

describe('ModelMonitor: labels to performance records', () => {
  it('joins predictions with later bars per stream and reports performance every `every` labels', () => {
    const { monitor } = setUp();
    const labels = monitor.createLabels();
    const emitted: LabelRecord[] = [];
    const emit = (label: LabelRecord): void => {
      emitted.push(label);
      monitor.observe({ kind: 'label', value: label });
    };
    let close = 100;
    const random = new Random(7);
    for (let i = 0; i < 30; i++) {
      const ts = i * FIVE_MINUTES;
      close *= 1 + (random.uniform() - 0.5) / 50;
      labels.onBar(bar('A', ts, close), emit);
      labels.onPrediction(prediction('A', ts, random.uniform() - 0.5));
    }
    expect(emitted.length).toBe(29);
    expect(emitted.every((l) => l.state === 'labelled' && l.revision === 0)).toBe(true);
    const batch = monitor.takeOutputs();
    // 29 labels, a record every 5: 5 records, the last over a window of 20
    expect(batch?.performance.length).toBe(5);
    const last = batch!.performance.at(-1)!;
    expect(last.model).toBe('lgbm-return');
    expect(last.count).toBe(20);
    expect(Object.keys(last.metrics)).toEqual(
      expect.arrayContaining(['mae', 'rmse', 'directional_accuracy', 'hit_rate', 'sharpe']),
    );
  });

  it('the label state survives a snapshot and restore in place (nothing lost, nothing twice)', () => {
    const run = (restartAt: number | undefined): LabelRecord[] => {
      const { monitor } = setUp({}, [MODEL, CLASSIFIER]);
      let labels = monitor.createLabels();
      const out: LabelRecord[] = [];
      let close = 50;
      for (let i = 0; i < 40; i++) {
        if (i === restartAt) {
          const state = JSON.parse(JSON.stringify(labels.snapshot())) as unknown;
          labels = setUp({}, [MODEL, CLASSIFIER]).monitor.createLabels();
          labels.restore(state);
        }
        const ts = i * FIVE_MINUTES;
        close *= i % 3 === 0 ? 0.99 : 1.012;
        labels.onBar(bar('B', ts, close), (label) => out.push(label));
        labels.onPrediction(prediction('B', ts, i % 2 === 0 ? 0.01 : -0.01));
        labels.onPrediction({
          ...prediction('B', ts, 0),
          model: CLASSIFIER.model,
          kind: 'classifier',
          output: { label: i % 2 === 0 ? 'up' : 'down', p_down: 0.4, p_up: 0.6 },
        });
      }
      return out;
    };
    const straight = run(undefined);
    expect(straight.length).toBe(78);
    expect(run(17)).toEqual(straight);
  });
});

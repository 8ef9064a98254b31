// The Grafana dashboard shipped in deploy/grafana: valid JSON on the provisioned datasource, panels that do not
// overlap, a panel for each part of the engine's monitoring, and queries that read only metrics the README's
// metrics table documents (or prom-client's defaults, which it names by pattern).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/build-once.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string }>;
}

const read = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');
const dashboard = JSON.parse(read('deploy/grafana/dashboards/mlfp-engine.json')) as {
  uid: string;
  panels: Panel[];
};
const queries = dashboard.panels.filter((panel) => panel.type !== 'row');

/** prom-client's default metrics (collectDefaultMetrics, prefix mlfp_), which the README names by pattern. */
const DEFAULTS = /^mlfp_(process_(cpu|resident|virtual|heap|open_fds|max_fds|start)|nodejs_)/;

describe('deploy/grafana/dashboards/mlfp-engine.json', () => {
  it('queries the provisioned Prometheus datasource from panels with unique ids that do not overlap', () => {
    const uid = /uid:\s*(\S+)/.exec(read('deploy/grafana/provisioning/datasources/prometheus.yml'))?.[1];
    expect(uid).toBe('mlfp-prometheus');
    for (const panel of queries) expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid });
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const overlaps: string[] = [];
    for (const [i, a] of dashboard.panels.entries())
      for (const b of dashboard.panels.slice(i + 1)) {
        const g = a.gridPos;
        const h = b.gridPos;
        if (g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h)
          overlaps.push(`${a.title} / ${b.title}`);
      }
    expect(overlaps).toEqual([]);
    for (const panel of dashboard.panels) expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
  });

  it('has a panel for each part of the monitoring', () => {
    const metrics = new Set(
      queries
        .flatMap((panel) => (panel.targets ?? []).map((target) => target.expr))
        .join(' ')
        .match(/mlfp_[a-z0-9_]+/g),
    );
    for (const name of [
      'mlfp_nodejs_eventloop_lag_p99_seconds',
      'mlfp_nodejs_gc_duration_seconds_sum',
      'mlfp_process_cpu_user_seconds_total',
      'mlfp_process_resident_memory_bytes',
      'mlfp_process_disk_read_bytes_total',
      'mlfp_process_network_receive_bytes_total',
      'mlfp_consumer_lag',
      'mlfp_prediction_latency_seconds_bucket',
      'mlfp_tick_to_prediction_seconds_bucket',
      'mlfp_bar_close_to_prediction_seconds_bucket',
      'mlfp_broker_request_seconds_bucket',
      'mlfp_sink_write_seconds_bucket',
      'mlfp_sink_errors_total',
      'mlfp_sink_retries_total',
      'mlfp_inference_seconds_bucket',
      'mlfp_inference_batch_rows_bucket',
      'mlfp_drift_score',
      'mlfp_model_performance',
      'mlfp_alerts',
    ])
      expect(metrics.has(name), name).toBe(true);
  });

  it('reads only metrics the README documents', () => {
    const documented = new Set(
      [...read('README.md').matchAll(/^\| `(mlfp_[a-z_]+)`/gm)].map((match) => match[1]!),
    );
    const unknown = queries
      .flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => target.expr.match(/mlfp_[a-z0-9_]+/g) ?? []),
      )
      .map((name) => name.replace(/_(bucket|count|sum)$/, ''))
      .filter((name) => !documented.has(name) && !DEFAULTS.test(name));
    expect([...new Set(unknown)]).toEqual([]);
  });
});

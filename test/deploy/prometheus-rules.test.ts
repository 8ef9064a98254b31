// The Prometheus setup shipped in deploy/: the config loads the rules, `promtool check rules` accepts them,
// `promtool test rules` passes their unit tests, every rule has a case where it fires and one where it stays
// quiet, and every engine metric a rule reads is one the README's metrics table documents (or prom-client's).
// promtool is Debian's `prometheus` package (scripts/install-tools.sh).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/build-once.js';

const RULES = 'deploy/prometheus/rules/mlfp.rules.yml';
const TESTS = 'deploy/prometheus/tests/mlfp.rules.test.yml';

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.error !== undefined)
    throw new Error(`promtool not found: install it with scripts/install-tools.sh (${result.error.message})`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const read = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');

/** Alert names of a rules file (`- alert: Name`). */
function alertNames(rules: string): string[] {
  return [...rules.matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((match) => match[1]!);
}

/**
 * The alert_rule_test cases of a promtool test file, per alert: how many expect it firing (exp_alerts lists
 * one or more) and how many expect it quiet (`exp_alerts: []`). Reads the layout the file uses: one
 * `alertname:` line per case, followed by its `exp_alerts`.
 */
function ruleCases(tests: string): Map<string, { firing: number; quiet: number }> {
  const cases = new Map<string, { firing: number; quiet: number }>();
  let current: string | undefined;
  let awaitingAlerts = false;
  for (const line of tests.split('\n')) {
    const name = /^\s*alertname:\s*(\S+)\s*$/.exec(line);
    if (name !== null) {
      current = name[1]!;
      if (!cases.has(current)) cases.set(current, { firing: 0, quiet: 0 });
      continue;
    }
    if (current === undefined) continue;
    if (/^\s*exp_alerts:\s*\[\]\s*$/.test(line)) {
      cases.get(current)!.quiet++;
      current = undefined;
    } else if (/^\s*exp_alerts:\s*$/.test(line)) awaitingAlerts = true;
    else if (awaitingAlerts && /^\s*- exp_labels:/.test(line)) {
      cases.get(current)!.firing++;
      awaitingAlerts = false;
      current = undefined;
    }
  }
  return cases;
}

/** Metric names in the README's metrics tables (rows like | `mlfp_x` | type | labels |). */
function readmeMetrics(): Set<string> {
  return new Set([...read('README.md').matchAll(/^\| `(mlfp_[a-z_]+)`/gm)].map((match) => match[1]!));
}

/** Engine metric names an expression reads (histogram series mapped to their family). */
function metricsIn(expression: string): string[] {
  return [...expression.matchAll(/\bmlfp_[a-z0-9_]+/g)].map((match) =>
    match[0].replace(/_(bucket|count|sum)$/, ''),
  );
}

/** prom-client's default metrics (collectDefaultMetrics, prefix mlfp_), which the README names by pattern. */
const DEFAULTS = /^mlfp_(process_(cpu|resident|virtual|heap|open_fds|max_fds|start)|nodejs_)/;

describe('deploy/prometheus', () => {
  it('promtool accepts the config and the rules it loads', () => {
    const config = promtool('check', 'config', 'deploy/prometheus.yml');
    expect(config.status, config.output).toBe(0);
    expect(config.output).toMatch(/SUCCESS: 1 rule files found/);
    const rules = promtool('check', 'rules', RULES);
    expect(rules.status, rules.output).toBe(0);
    expect(rules.output).toContain(`SUCCESS: ${alertNames(read(RULES)).length} rules found`);
  });

  it('passes its promtool unit tests', () => {
    const tests = promtool('test', 'rules', TESTS);
    expect(tests.status, tests.output).toBe(0);
    expect(tests.output).toMatch(/SUCCESS/);
  });

  it('has a firing and a quiet test case for every rule', () => {
    const names = alertNames(read(RULES));
    expect(names.length).toBeGreaterThanOrEqual(9);
    const cases = ruleCases(read(TESTS));
    const missing = names.filter(
      (name) => (cases.get(name)?.firing ?? 0) === 0 || cases.get(name)!.quiet === 0,
    );
    expect(missing, JSON.stringify(Object.fromEntries(cases))).toEqual([]);
    expect([...cases.keys()].filter((name) => !names.includes(name))).toEqual([]);
  });

  it('reads only metrics the README documents', () => {
    const documented = readmeMetrics();
    const expressions = [...read(RULES).matchAll(/^\s*expr:\s*(.+)$/gm)].map((match) => match[1]!);
    const unknown = expressions
      .flatMap(metricsIn)
      .filter((name) => !documented.has(name) && !DEFAULTS.test(name));
    expect(unknown).toEqual([]);
  });
});

describe('ruleCases', () => {
  it('counts firing and quiet cases per alert', () => {
    const tests = [
      '    alert_rule_test:',
      '      - eval_time: 1m',
      '        alertname: A',
      '        exp_alerts: []',
      '      - eval_time: 5m',
      '        alertname: A',
      '        exp_alerts:',
      '          - exp_labels: { severity: warning }',
      '      - eval_time: 5m',
      '        alertname: B',
      '        exp_alerts:',
      '',
    ].join('\n');
    expect(Object.fromEntries(ruleCases(tests))).toEqual({
      A: { firing: 1, quiet: 1 },
      B: { firing: 0, quiet: 0 },
    });
  });
});

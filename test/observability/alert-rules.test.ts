/**
 * The alert and recording rules pass `promtool check rules`, and their unit tests (each alert
 * firing, and not firing on a healthy look-alike) pass `promtool test rules`; the dashboards'
 * committed JSON matches the spec it is generated from.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { dashboardsDir, renderDashboard } from '../../scripts/grafana/build.ts';
import { dashboards } from '../../scripts/grafana/dashboards.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { prometheusSkip } from './prometheus.ts';
import { alertOperands } from './promql.ts';

const promtool = (...args: string[]): { status: number | null; output: string } => {
  const run = spawnSync('promtool', args, { cwd: repoRoot, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
};

describe('alert rules under promtool', { skip: prometheusSkip }, () => {
  test('promtool check rules accepts every rule file', () => {
    const { status, output } = promtool('check', 'rules', 'deploy/prometheus/rules/kitsune.yaml');
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS: \d+ rules found/);
  });

  test('promtool test rules: every alert fires when it should and stays quiet otherwise', () => {
    const { status, output } = promtool('test', 'rules', 'deploy/prometheus/tests/kitsune.test.yaml');
    assert.equal(status, 0, output);
    assert.match(output, /SUCCESS/);
  });

  test('every alert has unit tests of it firing and of it not firing', async () => {
    const rules = await readFile(join(repoRoot, 'deploy/prometheus/rules/kitsune.yaml'), 'utf8');
    const tests = await readFile(join(repoRoot, 'deploy/prometheus/tests/kitsune.test.yaml'), 'utf8');
    const alerts = [...rules.matchAll(/^ {6}- alert: (\w+)$/gm)].map((m) => m[1]!);
    assert.ok(alerts.length >= 7);
    for (const alert of alerts) {
      const cases = [...tests.matchAll(new RegExp(`alertname: ${alert}\\n(\\s+exp_alerts:)?`, 'g'))];
      assert.ok(cases.some((c) => c[1] !== undefined), `${alert} is tested firing`);
      assert.ok(cases.some((c) => c[1] === undefined), `${alert} is tested not firing`);
    }
  });
});

test('the committed dashboards are what scripts/grafana/dashboards.ts renders (npm run dashboards)', async () => {
  for (const spec of dashboards) {
    assert.equal(await readFile(new URL(`${spec.uid}.json`, dashboardsDir), 'utf8'), renderDashboard(spec), `${spec.uid}.json`);
  }
});

test('alertOperands splits at top-level comparisons and set operators, not inside selectors or calls', () => {
  assert.deepEqual(alertOperands('a > 60'), ['a']);
  assert.deepEqual(alertOperands('deriv(x:y[5m]) > 0.9 and z{a!="b",c=~"d>e"} > 0'), ['deriv(x:y[5m])', 'z{a!="b",c=~"d>e"}']);
  assert.deepEqual(alertOperands('(sum(rate(a{s=~"5.."}[5m])) or vector(0)) / sum(rate(a[5m])) > 0.05'), ['(sum(rate(a{s=~"5.."}[5m])) or vector(0)) / sum(rate(a[5m]))']);
  assert.deepEqual(alertOperands('min by (instance) (min_over_time(s[1m])) > 0'), ['min by (instance) (min_over_time(s[1m]))']);
  assert.deepEqual(alertOperands('a unless on() b'), ['a', 'b']);
  assert.deepEqual(alertOperands('random_metric_order'), ['random_metric_order']);
});

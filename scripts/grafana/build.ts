/**
 * Renders the dashboards of dashboards.ts as Grafana dashboard JSON (schemaVersion 39, Grafana
 * 10+). `npm run dashboards` writes deploy/grafana/dashboards/<uid>.json; `--check` only compares
 * and fails when a file differs, so the committed JSON never drifts from the spec.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dashboards, type DashboardSpec } from './dashboards.ts';

/** The data source uid that deploy/grafana/provisioning/datasources/kitsune.yaml provisions. */
export const prometheusDatasource = { type: 'prometheus', uid: 'kitsune-prometheus' } as const;

export function renderDashboard(spec: DashboardSpec): string {
  const panels = spec.panels.map((panel, index) => ({
    id: index + 1,
    type: panel.kind ?? 'timeseries',
    title: panel.title,
    description: panel.description,
    datasource: prometheusDatasource,
    gridPos: { h: 8, w: 12, x: (index % 2) * 12, y: Math.floor(index / 2) * 8 },
    fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    targets: panel.targets.map((target, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: prometheusDatasource,
      expr: target.expr,
      legendFormat: target.legend,
    })),
  }));
  const dashboard = {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['kitsune'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    links: [{ type: 'dashboards', tags: ['kitsune'], asDropdown: true, title: 'Kitsune dashboards', includeVars: false, keepTime: true }],
    annotations: { list: [] },
    templating: { list: [] },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

export const dashboardsDir = new URL('../../deploy/grafana/dashboards/', import.meta.url);

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const spec of dashboards) {
    const path = join(dashboardsDir.pathname, `${spec.uid}.json`);
    const rendered = renderDashboard(spec);
    if (check) {
      const current = await readFile(path, 'utf8').catch(() => '');
      if (current !== rendered) {
        process.stderr.write(`${path} differs from scripts/grafana/dashboards.ts; run npm run dashboards\n`);
        stale++;
      }
    } else {
      await writeFile(path, rendered);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();

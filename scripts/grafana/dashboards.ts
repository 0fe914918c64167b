/**
 * Kitsune's Grafana dashboards as data: each panel is a title, a unit and its PromQL. `npm run
 * dashboards` writes them to deploy/grafana/dashboards/*.json (see build.ts); a test checks the
 * committed JSON matches, and test/observability/prometheus.test.ts evaluates every expression
 * on a real Prometheus fed by real roles.
 *
 * Lag is exported by every role (see docs/metrics.md), so it is always aggregated with max by
 * (group, topic, partition) before anything else, never summed across processes.
 */

export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id: reqps, s, short, ops, percentunit, bytes. */
  unit: string;
  /** One query per entry; `legend` is Grafana's legend format. */
  targets: ReadonlyArray<{ expr: string; legend: string }>;
  /** Stat panels show the current value; time series the history. (Default: timeseries) */
  kind?: 'timeseries' | 'stat';
}

export interface DashboardSpec {
  /** Stable: the file name is `<uid>.json` and links between dashboards use it. */
  uid: string;
  title: string;
  description: string;
  panels: readonly PanelSpec[];
}

const r = '$__rate_interval';
const lagSeconds = 'max by (group, topic, partition) (kitsune_consumer_lag_seconds)';
const lagRecords = 'max by (group, topic, partition) (kitsune_consumer_lag_records)';

export const dashboards: readonly DashboardSpec[] = [
  {
    uid: 'kitsune-ingest',
    title: 'Kitsune / Ingest',
    description: 'POST /execute: request rate, latency and errors, and what the API publishes to the broker.',
    panels: [
      {
        title: 'Requests by route and status',
        description: 'HTTP requests per second, by route pattern and status code.',
        unit: 'reqps',
        targets: [{ expr: `sum by (route, status) (rate(kitsune_http_request_duration_seconds_count[${r}]))`, legend: '{{route}} {{status}}' }],
      },
      {
        title: 'Latency by route (p50, p99)',
        description: 'Request latency percentiles, from the histogram of every API process.',
        unit: 's',
        targets: [
          { expr: `histogram_quantile(0.5, sum by (le, route) (rate(kitsune_http_request_duration_seconds_bucket[${r}])))`, legend: 'p50 {{route}}' },
          { expr: `histogram_quantile(0.99, sum by (le, route) (rate(kitsune_http_request_duration_seconds_bucket[${r}])))`, legend: 'p99 {{route}}' },
        ],
      },
      {
        title: '5xx ratio',
        description: 'Share of requests answered 5xx (503 when the broker does not acknowledge in time).',
        unit: 'percentunit',
        targets: [
          {
            expr: `(sum(rate(kitsune_http_request_duration_seconds_count{status=~"5.."}[${r}])) or vector(0)) / sum(rate(kitsune_http_request_duration_seconds_count[${r}]))`,
            legend: '5xx',
          },
        ],
      },
      {
        title: 'Records published by topic and outcome',
        description: 'Records per second the API handed to the broker: acknowledged (acks=all) or failed.',
        unit: 'ops',
        targets: [{ expr: `sum by (topic, outcome) (rate(kitsune_publish_records_total[${r}]))`, legend: '{{topic}} {{outcome}}' }],
      },
      {
        title: 'Publish latency by topic (p99)',
        description: 'From publish() to the broker acknowledging every record of the call.',
        unit: 's',
        targets: [{ expr: `histogram_quantile(0.99, sum by (le, topic) (rate(kitsune_publish_duration_seconds_bucket[${r}])))`, legend: '{{topic}}' }],
      },
      {
        title: 'Broker errors by code',
        description: 'Failed publishes per second by error code; 0 when there are none.',
        unit: 'ops',
        targets: [{ expr: `sum by (topic, code) (rate(kitsune_publish_errors_total[${r}])) or vector(0)`, legend: '{{topic}} {{code}}' }],
      },
      {
        title: '503 for publish deadline',
        description: 'Requests per second answered 503 because the broker did not acknowledge within KITSUNE_PUBLISH_TIMEOUT_MS.',
        unit: 'reqps',
        targets: [{ expr: `sum(rate(kitsune_api_publish_deadline_exceeded_total[${r}]))`, legend: 'deadline exceeded' }],
      },
    ],
  },
  {
    uid: 'kitsune-lag-workers',
    title: 'Kitsune / Lag and workers',
    description: 'Consumer lag in seconds and records, read from the broker, and what the DB worker does with its events.',
    panels: [
      {
        title: 'Lag (seconds) by group',
        description: 'Age of the oldest record each group has not committed. Keeps growing while a worker is stopped or paused.',
        unit: 's',
        targets: [{ expr: `max by (group) (${lagSeconds})`, legend: '{{group}}' }],
      },
      {
        title: 'Lag (records) by group',
        description: 'Records behind, summed over partitions (after max across the exporting processes).',
        unit: 'short',
        targets: [{ expr: `sum by (group) (${lagRecords})`, legend: '{{group}}' }],
      },
      {
        title: 'Lag (records) by partition',
        description: 'Records behind per partition: one hot partition means a hot key or a stuck event.',
        unit: 'short',
        targets: [{ expr: `max by (group, topic, partition) (kitsune_consumer_lag_records)`, legend: '{{topic}}/{{partition}}' }],
      },
      {
        title: 'DB events by outcome',
        description: 'Events finished per second: succeeded, duplicate, conflict, dead_lettered.',
        unit: 'ops',
        targets: [{ expr: `sum by (status) (rate(kitsune_db_events_total[${r}]))`, legend: '{{status}}' }],
      },
      {
        title: 'DB events by command',
        description: 'Events finished per second, by command and version.',
        unit: 'ops',
        targets: [{ expr: `sum by (command, version) (rate(kitsune_db_events_total[${r}]))`, legend: '{{command}} v{{version}}' }],
      },
      {
        title: 'Idempotency collisions',
        description: 'Events whose idempotency key was seen before: duplicate (same payload) or conflict (another payload).',
        unit: 'ops',
        targets: [{ expr: `sum by (status) (rate(kitsune_db_events_total{status=~"duplicate|conflict"}[${r}]))`, legend: '{{status}}' }],
      },
      {
        title: 'Events retried by reason',
        description: 'Events handed back for redelivery after their batch failed.',
        unit: 'ops',
        targets: [{ expr: `sum by (reason) (rate(kitsune_db_retries_total[${r}]))`, legend: '{{reason}}' }],
      },
      {
        title: 'Batch duration (p50, p99)',
        description: 'One polled batch in one transaction, outcomes published.',
        unit: 's',
        targets: [
          { expr: `histogram_quantile(0.5, sum by (le) (rate(kitsune_db_batch_duration_seconds_bucket[${r}])))`, legend: 'p50' },
          { expr: `histogram_quantile(0.99, sum by (le) (rate(kitsune_db_batch_duration_seconds_bucket[${r}])))`, legend: 'p99' },
        ],
      },
      {
        title: 'Events per batch (mean)',
        description: 'Larger batches under load mean fewer transactions per event.',
        unit: 'short',
        targets: [{ expr: `sum(rate(kitsune_db_batch_events_sum[${r}])) / sum(rate(kitsune_db_batch_events_count[${r}]))`, legend: 'events per batch' }],
      },
      {
        title: 'Lag read errors',
        description: 'Failed reads of consumer lag from the broker; the lag panels are empty meanwhile.',
        unit: 'ops',
        targets: [{ expr: `sum by (role) (rate(kitsune_consumer_lag_read_errors_total[${r}]))`, legend: '{{role}}' }],
      },
    ],
  },
  {
    uid: 'kitsune-dlq-breaker',
    title: 'Kitsune / Dead letters and breaker',
    description: 'What goes to the dead-letter topics and why, and the DB worker circuit breaker.',
    panels: [
      {
        title: 'DB dead letters by reason',
        description: 'Events sent to db-events.dlq (replay with kitsune dlq replay).',
        unit: 'short',
        targets: [{ expr: `sum by (reason) (increase(kitsune_db_dead_letters_total[${r}]))`, legend: '{{reason}}' }],
      },
      {
        title: 'Log dead letters by reason',
        description: 'Log lines Loki refused, sent to app-logs.dlq; 0 when there are none.',
        unit: 'short',
        targets: [{ expr: `sum by (reason) (increase(kitsune_log_lines_dead_lettered_total[${r}])) or vector(0)`, legend: '{{reason}}' }],
      },
      {
        title: 'Breaker state',
        description: '0 closed, 1 half open (probing), 2 open (consumption paused), per DB worker.',
        unit: 'short',
        targets: [{ expr: 'max by (instance) (kitsune_db_breaker_state)', legend: '{{instance}}' }],
      },
      {
        title: 'Breaker transitions',
        description: 'State changes, by the state entered.',
        unit: 'short',
        targets: [{ expr: `sum by (to) (increase(kitsune_db_breaker_transitions_total[${r}]))`, legend: '{{to}}' }],
      },
    ],
  },
  {
    uid: 'kitsune-log-shipping',
    title: 'Kitsune / Log shipping',
    description: 'The log worker: lines in, lines stored in Loki (or PostgreSQL), retries and Loki push latency.',
    panels: [
      {
        title: 'Lines received and stored',
        description: 'app-logs records handed to the log worker, and lines the sink stored.',
        unit: 'ops',
        targets: [
          { expr: `sum(rate(kitsune_log_lines_received_total[${r}]))`, legend: 'received' },
          { expr: `sum by (sink) (rate(kitsune_log_lines_pushed_total[${r}]))`, legend: 'stored ({{sink}})' },
        ],
      },
      {
        title: 'Sink retries by reason',
        description: 'Loki pushes or PostgreSQL inserts retried: rate_limited, server_error, timeout, network.',
        unit: 'ops',
        targets: [{ expr: `sum by (reason) (rate(kitsune_log_sink_retries_total[${r}]))`, legend: '{{reason}}' }],
      },
      {
        title: 'Loki push latency (p99) by outcome',
        description: 'Latency of push requests to Loki.',
        unit: 's',
        targets: [{ expr: `histogram_quantile(0.99, sum by (le, outcome) (rate(kitsune_loki_push_duration_seconds_bucket[${r}])))`, legend: '{{outcome}}' }],
      },
      {
        title: 'Loki pushes by outcome',
        description: 'Push requests per second: accepted, or the failure.',
        unit: 'reqps',
        targets: [{ expr: `sum by (outcome) (rate(kitsune_loki_push_duration_seconds_count[${r}]))`, legend: '{{outcome}}' }],
      },
      {
        title: 'Lines dropped',
        description: 'Lines neither stored nor dead-lettered: expected to stay 0.',
        unit: 'short',
        targets: [{ expr: `sum(increase(kitsune_log_lines_dropped_total[${r}])) or vector(0)`, legend: 'dropped' }],
      },
    ],
  },
  {
    uid: 'kitsune-processes',
    title: 'Kitsune / Processes',
    description: 'Memory, CPU, event-loop delay and GC of every Kitsune process.',
    panels: [
      {
        title: 'Resident memory',
        description: 'RSS per process.',
        unit: 'bytes',
        targets: [{ expr: 'max by (role, instance) (process_resident_memory_bytes{service!=""})', legend: '{{role}} {{instance}}' }],
      },
      {
        title: 'CPU',
        description: 'CPU seconds per second per process.',
        unit: 'percentunit',
        targets: [{ expr: `max by (role, instance) (rate(process_cpu_seconds_total{service!=""}[${r}]))`, legend: '{{role}} {{instance}}' }],
      },
      {
        title: 'Event-loop delay (p99)',
        description: 'A busy loop delays every request and fetch in that process.',
        unit: 's',
        targets: [{ expr: 'max by (role, instance) (nodejs_eventloop_lag_p99_seconds{service!=""})', legend: '{{role}} {{instance}}' }],
      },
      {
        title: 'GC time',
        description: 'Seconds per second spent in garbage collection, by kind.',
        unit: 'percentunit',
        targets: [{ expr: `sum by (role, kind) (rate(nodejs_gc_duration_seconds_sum{service!=""}[${r}]))`, legend: '{{role}} {{kind}}' }],
      },
    ],
  },
];

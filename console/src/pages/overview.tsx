/** What is happening now: rates, lag, the breaker, the log sink and the DLQ, every 5 s. */
import { get } from '../api.ts';
import { format, Sparkline } from '../components/sparkline.tsx';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

type Series = Array<[number, number]> | null;

interface Overview {
  now: string;
  metrics_in_process: boolean;
  rates: { accepted: Series; executed: Series; failed: Series };
  lag: { db_worker_records: Series; partitions: Array<{ group: string; topic: string; partition: number; records: number | null; seconds: number | null }> | null };
  breaker: 'closed' | 'half_open' | 'open' | null;
  logs: { sink: string | null; pushed_total: number | null; loki_pushes: Record<string, number> | null; retries_total: number | null; dead_lettered_total: number | null } | null;
  dlq: { topic: string; depth: number } | null;
}

function Rate({ title, series, id }: { title: string; series: Series; id: string }) {
  const current = series && series.length > 0 ? series[series.length - 1]![1] : undefined;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {series === null ? (
        <p class="muted">not measured in this process</p>
      ) : (
        <>
          <p class="figure">{current === undefined ? '…' : format(current)}<span class="unit"> /s</span></p>
          <Sparkline points={series} label={title} unit="per second" />
        </>
      )}
    </section>
  );
}

const breakerText = { closed: 'closed: executing', half_open: 'half open: probing PostgreSQL', open: 'open: paused, PostgreSQL failing' } as const;

export function OverviewPage() {
  const { data, error } = usePoll(() => get<Overview>('/overview'), [], 5_000);
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <p class="muted">From Kitsune's own metrics, refreshed every 5 s; lines show the last 15 minutes.{data && ` Updated ${new Date(data.now).toLocaleTimeString()}.`}</p>
      {error && <p class="error" role="alert">{error}</p>}
      {data && (
        <>
          <div class="cards">
            <Rate id="rate-accepted" title="Accepted" series={data.rates.accepted} />
            <Rate id="rate-executed" title="Executed" series={data.rates.executed} />
            <Rate id="rate-failed" title="Dead-lettered" series={data.rates.failed} />
            <section class="card" aria-labelledby="dlq-depth">
              <h2 id="dlq-depth">DLQ depth</h2>
              {data.dlq ? (
                <p class="figure"><a href={href('dlq')}>{data.dlq.depth}</a><span class="unit"> in {data.dlq.topic}</span></p>
              ) : (
                <p class="muted">not available (this API has no database)</p>
              )}
            </section>
            <section class="card" aria-labelledby="breaker">
              <h2 id="breaker">DB worker breaker</h2>
              <p class={`status ${data.breaker ?? 'unknown'}`}>{data.breaker ? breakerText[data.breaker] : 'not in this process'}</p>
            </section>
            <section class="card" aria-labelledby="log-sink">
              <h2 id="log-sink">Log delivery</h2>
              {data.logs ? (
                <dl class="facts">
                  <dt>Sink</dt><dd>{data.logs.sink === 'postgres' ? 'PostgreSQL (kitsune.logs)' : data.logs.sink ?? 'none yet'}</dd>
                  <dt>Lines stored</dt><dd>{data.logs.pushed_total ?? 0}</dd>
                  {data.logs.loki_pushes && (<><dt>Loki pushes</dt><dd>{Object.entries(data.logs.loki_pushes).map(([outcome, n]) => `${outcome} ${n}`).join(', ')}</dd></>)}
                  <dt>Retries</dt><dd>{data.logs.retries_total ?? 0}</dd>
                  <dt>Dead-lettered lines</dt><dd>{data.logs.dead_lettered_total ?? 0}</dd>
                </dl>
              ) : (
                <p class="muted">not in this process</p>
              )}
            </section>
          </div>
          <section aria-labelledby="lag-title">
            <h2 id="lag-title">Consumer lag</h2>
            {data.lag.db_worker_records && <Sparkline points={data.lag.db_worker_records} label="DB worker lag in records" unit="records" />}
            {data.lag.partitions === null ? (
              <p class="muted">Lag is not measured in this process yet.</p>
            ) : (
              <div class="scroll" tabIndex={0} role="region" aria-label="Consumer lag per partition">
                <table>
                  <thead><tr><th scope="col">Group</th><th scope="col">Topic</th><th scope="col">Partition</th><th scope="col">Records behind</th><th scope="col">Seconds behind</th></tr></thead>
                  <tbody>
                    {data.lag.partitions.map((row) => (
                      <tr key={`${row.group}/${row.topic}/${row.partition}`}>
                        <td>{row.group}</td><td>{row.topic}</td><td>{row.partition}</td><td>{row.records ?? '–'}</td><td>{row.seconds === null ? '–' : format(row.seconds)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </>
  );
}

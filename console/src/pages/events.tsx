/** Find an event by id or idempotency key, and follow its timeline live until it is done. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describe, get } from '../api.ts';
import { usePoll } from '../poll.ts';
import { href, navigate, type Route } from '../router.ts';

interface Step {
  kind: string;
  at: string | null;
  summary: string;
  details: Record<string, unknown>;
}

interface Timeline {
  id: string;
  status: 'pending' | 'succeeded' | 'dead_lettered';
  live: boolean;
  steps: Step[];
  logs: Array<{ timestamp: string; level: string; message: string; source: string; trace_id: string | null }>;
  trace_id: string | null;
  trace_url: string | null;
  loki_query: string | null;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const statusText = { pending: 'Pending', succeeded: 'Succeeded', dead_lettered: 'Dead-lettered' } as const;
const stepTitle: Record<string, string> = {
  accepted: 'Accepted',
  produced: 'Produced and consumed',
  retrying: 'Retrying',
  executed: 'Executed',
  dead_lettered: 'Dead-lettered',
  conflicts: 'Conflicts',
};

function FindForm({ initial }: { initial: string }) {
  const [id, setId] = useState(initial);
  const [key, setKey] = useState('');
  const [source, setSource] = useState('');
  const [error, setError] = useState<string | undefined>();
  return (
    <div class="two">
      <form
        class="panel"
        aria-labelledby="find-id"
        onSubmit={(event) => {
          event.preventDefault();
          const wanted = id.trim();
          if (!uuid.test(wanted)) return setError('An event id is a UUID, such as 0192f4c1-7a3e-8d10-9b2c-3f4a5b6c7d8e.');
          setError(undefined);
          navigate(href('events', wanted.toLowerCase()));
        }}
      >
        <h2 id="find-id">By event id</h2>
        <label for="event-id">Event id</label>
        <input id="event-id" value={id} onInput={(e) => setId(e.currentTarget.value)} spellcheck={false} autoComplete="off" required aria-describedby={error ? 'find-error' : undefined} />
        <button type="submit">Find event</button>
      </form>
      <form
        class="panel"
        aria-labelledby="find-key"
        onSubmit={(event) => {
          event.preventDefault();
          const params = new URLSearchParams({ idempotency_key: key.trim() });
          if (source.trim() !== '') params.set('source', source.trim());
          get<{ events: Array<{ id: string }> }>(`/events?${params.toString()}`).then(
            ({ events }) => {
              setError(undefined);
              if (events[0]) navigate(href('events', events[0].id));
            },
            (failure: unknown) => setError(describe(failure)),
          );
        }}
      >
        <h2 id="find-key">By idempotency key</h2>
        <label for="idem-key">Idempotency key</label>
        <input id="idem-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} spellcheck={false} autoComplete="off" required />
        <label for="idem-source">Source</label>
        <input id="idem-source" value={source} onInput={(e) => setSource(e.currentTarget.value)} spellcheck={false} autoComplete="off" aria-describedby="idem-source-help" />
        <p id="idem-source-help" class="muted small">The service that sent it (metadata.source). With an API key, your key's source is used when left empty.</p>
        <button type="submit">Find by key</button>
      </form>
      {error && <p id="find-error" class="error" role="alert">{error}</p>}
    </div>
  );
}

function EventTimeline({ id }: { id: string }) {
  const { data, error } = usePoll(() => get<Timeline>(`/events/${encodeURIComponent(id)}/timeline`), [id], 1_000, (t) => t === undefined || t.live);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [id]);
  return (
    <section aria-labelledby="event-title" class="event">
      <h2 id="event-title" ref={heading} tabIndex={-1}>Event <code class="id">{id}</code></h2>
      {error && <p class="error" role="alert">{error}</p>}
      {data && (
        <>
          <p>
            Status: <strong class={`status ${data.status}`} data-testid="event-status">{statusText[data.status]}</strong>
            {data.live && <span class="muted"> · watching live</span>}
            {data.status === 'dead_lettered' && <> · <a href={href('dlq')}>open the dead letters</a></>}
          </p>
          <ol class="timeline" aria-label="What happened to this event">
            {data.steps.map((step, index) => (
              <li key={index} class={`step ${step.kind}`}>
                <h3>{stepTitle[step.kind] ?? step.kind}</h3>
                {step.at && <time dateTime={step.at}>{new Date(step.at).toLocaleString()}</time>}
                <p>{step.summary}</p>
                {(step.kind === 'executed' || step.kind === 'dead_lettered' || step.kind === 'retrying') && (
                  <details>
                    <summary>Details</summary>
                    <pre>{JSON.stringify(step.details, null, 2)}</pre>
                  </details>
                )}
              </li>
            ))}
            {data.live && <li class="step waiting"><h3>Waiting</h3><p>No outcome yet: the DB worker has not finished this event.</p></li>}
          </ol>
          {data.trace_id && (
            <p>
              Trace id:{' '}
              {data.trace_url ? (
                <a href={data.trace_url} target="_blank" rel="noopener noreferrer"><code>{data.trace_id}</code> (open the trace)</a>
              ) : (
                <><code>{data.trace_id}</code> <span class="muted">(set KITSUNE_TRACE_URL to link it to your tracing UI)</span></>
              )}
            </p>
          )}
          <h3>Log line</h3>
          {data.logs.length > 0 ? (
            <ul class="logs">
              {data.logs.map((line) => (
                <li key={line.timestamp}><time dateTime={line.timestamp}>{new Date(line.timestamp).toLocaleString()}</time> <strong>{line.level}</strong> {line.message} <span class="muted">({line.source})</span></li>
              ))}
            </ul>
          ) : data.loki_query ? (
            <p>In Loki: <code>{data.loki_query}</code></p>
          ) : (
            <p class="muted">No log line stored yet.</p>
          )}
        </>
      )}
    </section>
  );
}

export function EventsPage({ route }: { route: Route }) {
  const id = route.rest[0];
  return (
    <>
      <h1 tabIndex={-1}>Events</h1>
      <FindForm initial={id ?? ''} key={id ?? ''} />
      {id && <EventTimeline id={id.toLowerCase()} />}
    </>
  );
}

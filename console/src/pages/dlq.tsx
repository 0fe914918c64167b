/** Dead letters: filter, count, select, dry-run, replay (with progress) and purge. */
import { useState } from 'preact/hooks';
import { describe, get, post } from '../api.ts';
import { Confirm } from '../components/confirm.tsx';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

interface Letter {
  position: string;
  event_id: string;
  state: string;
  detail: string | null;
  command: string | null;
  version: string | null;
  source: string | null;
  reason: string;
  sqlstate: string | null;
  attempts: number | null;
  failed_at: string;
  replay_count: number;
}

interface Listing {
  topic: string;
  exists: boolean;
  total: number;
  matched: number;
  truncated: boolean;
  letters: Letter[];
  counts: Record<'by_reason' | 'by_sqlstate' | 'by_command' | 'by_state', Array<{ value: string; count: number }>>;
}

interface Prediction extends Letter {
  would: 'succeed' | 'fail' | 'skip';
  error: string | null;
  error_sqlstate: string | null;
}

interface Progress {
  ids: string[];
  done: number;
  succeeded: number;
  failed: number;
  finished: boolean;
}

const states = ['pending', 'invalid', 'exhausted', 'applied', 'superseded'] as const;
const emptyFilters = { command: '', reason: '', sqlstate: '', state: '', from: '', to: '' };

function query(filters: typeof emptyFilters): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value === '') continue;
    params.set(name, name === 'from' || name === 'to' ? new Date(value).toISOString() : value);
  }
  const text = params.toString();
  return text === '' ? '/dlq' : `/dlq?${text}`;
}

/**
 * Follows replayed events to their new outcomes. Until the DB worker has run a replayed event
 * again, GET /events still answers its old outcome (dead_lettered): only an outcome stored at or
 * after `since` (the database's clock when the replay began) is the replay's.
 */
async function follow(ids: string[], since: string, update: (p: Progress) => void): Promise<void> {
  const from = Date.parse(since);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const views: Array<{ id: string; status: string }> = [];
    for (let i = 0; i < ids.length; i += 100) {
      const { events } = await get<{ events: Array<{ id: string; status: string; completed_at?: string }> }>(`/events?ids=${ids.slice(i, i + 100).join(',')}`);
      views.push(...events.filter((e) => e.completed_at !== undefined && Date.parse(e.completed_at) >= from));
    }
    const succeeded = views.filter((v) => v.status === 'succeeded').length;
    const failed = views.filter((v) => v.status === 'dead_lettered').length;
    const finished = succeeded + failed >= ids.length || Date.now() > deadline;
    update({ ids, done: succeeded + failed, succeeded, failed, finished });
    if (finished) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

export function DlqPage() {
  const [draft, setDraft] = useState(emptyFilters);
  const [filters, setFilters] = useState(emptyFilters);
  const { data, error, reload } = usePoll(() => get<Listing>(query(filters)), [filters], undefined);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [predictions, setPredictions] = useState<ReadonlyMap<string, Prediction>>(new Map());
  const [confirm, setConfirm] = useState<'replay' | 'purge' | undefined>();
  const [purgePreview, setPurgePreview] = useState<number | undefined>();
  const [message, setMessage] = useState<string | undefined>();
  const [failure, setFailure] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Progress | undefined>();

  const letters = data?.letters ?? [];
  const chosen = letters.filter((l) => selected.has(l.position));
  const toggle = (position: string): void => setSelected((current) => {
    const next = new Set(current);
    if (next.has(position)) next.delete(position);
    else next.add(position);
    return next;
  });
  const act = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setFailure(undefined);
    setMessage(undefined);
    try {
      await work();
    } catch (thrown) {
      setFailure(describe(thrown));
    } finally {
      setBusy(false);
    }
  };
  const dryRun = () => act(async () => {
    const { outcomes } = await post<{ outcomes: Prediction[] }>('/dlq/dry-run', { ids: chosen.map((l) => l.position) });
    setPredictions(new Map(outcomes.map((o) => [o.position, o])));
    const fails = outcomes.filter((o) => o.would !== 'succeed').length;
    setMessage(`Dry run: ${outcomes.length - fails} would succeed, ${fails} would fail or be skipped. Nothing was changed.`);
  });
  const replay = () => act(async () => {
    setConfirm(undefined);
    const result = await post<{ since: string; replayed: Array<{ event_id: string }>; duplicates: string[]; held: Letter[] }>('/dlq/replay', { ids: chosen.map((l) => l.position) });
    // An event already applied is acknowledged as a duplicate: no new outcome to wait for.
    const applied = new Set(result.duplicates);
    const ids = result.replayed.map((r) => r.event_id).filter((id) => !applied.has(id));
    setMessage(
      `Replayed ${result.replayed.length} to the DB worker` +
        (applied.size > 0 ? `; ${applied.size} already applied (nothing to do)` : '') +
        (result.held.length > 0 ? `; ${result.held.length} held back (${result.held.map((h) => `${h.position}: ${h.state}`).join(', ')})` : '') +
        '.',
    );
    setSelected(new Set());
    setPredictions(new Map());
    if (ids.length > 0) {
      setProgress({ ids, done: 0, succeeded: 0, failed: 0, finished: false });
      await follow(ids, result.since, setProgress);
    }
    reload();
  });
  const askPurge = () => act(async () => {
    const preview = await post<{ dropped: number }>('/dlq/purge', { dry_run: true });
    setPurgePreview(preview.dropped);
    setConfirm('purge');
  });
  const purge = () => act(async () => {
    setConfirm(undefined);
    const result = await post<{ dropped: number; kept: number }>('/dlq/purge', {});
    setMessage(`Purged ${result.dropped} dead letters; ${result.kept} kept.`);
    setSelected(new Set());
    reload();
  });

  return (
    <>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p class="muted">Events the DB worker could not apply (a constraint, a bad payload), kept with their reason. Dry-run one to see whether it would apply now, fix the cause, then replay it: same id, same idempotency key, so it can never apply twice.</p>
      <form class="filters panel" aria-labelledby="filters-title" onSubmit={(event) => {
        event.preventDefault();
        setSelected(new Set());
        setFilters(draft);
      }}>
        <h2 id="filters-title">Filters</h2>
        <div class="grid">
          {(['command', 'reason', 'sqlstate'] as const).map((name) => (
            <div class="field" key={name}>
              <label for={`filter-${name}`}>{name === 'sqlstate' ? 'SQLSTATE' : name === 'reason' ? 'Reason contains' : 'Command'}</label>
              <input id={`filter-${name}`} value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} autoComplete="off" spellcheck={false} />
            </div>
          ))}
          <div class="field">
            <label for="filter-state">State</label>
            <select id="filter-state" value={draft.state} onChange={(e) => setDraft({ ...draft, state: e.currentTarget.value })}>
              <option value="">any</option>
              {states.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="filter-from">Failed from</label>
            <input id="filter-from" type="datetime-local" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="filter-to">Failed before</label>
            <input id="filter-to" type="datetime-local" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />
          </div>
        </div>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button type="button" class="quiet" onClick={() => {
            setDraft(emptyFilters);
            setFilters(emptyFilters);
          }}>Clear</button>
          <button type="button" class="quiet" onClick={reload}>Refresh</button>
        </div>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {data && !data.exists && <p>Nothing was ever dead-lettered here ({data.topic} does not exist yet).</p>}
      {data && data.exists && (
        <>
          <section aria-labelledby="counts-title">
            <h2 id="counts-title">{data.total} dead letter{data.total === 1 ? '' : 's'} after the bookmark, by reason</h2>
            <ul class="counts">
              {data.counts.by_reason.map((c) => (
                <li key={c.value}><strong>{c.count}</strong> {c.value}</li>
              ))}
            </ul>
          </section>
          <section aria-labelledby="letters-title">
            <h2 id="letters-title">{data.matched} matching{data.truncated ? ` (first ${letters.length} shown)` : ''}</h2>
            <div class="actions sticky">
              <button type="button" disabled={busy || chosen.length === 0} onClick={() => void dryRun()}>Dry-run selected ({chosen.length})</button>
              <button type="button" disabled={busy || chosen.length === 0} onClick={() => setConfirm('replay')}>Replay selected…</button>
              <button type="button" class="danger" disabled={busy || data.total === 0} onClick={() => void askPurge()}>Purge…</button>
            </div>
            <div role="status" aria-live="polite" class="live">
              {message && <p data-testid="dlq-message">{message}</p>}
              {progress && (
                <p>
                  <label for="replay-progress">Replay outcomes: {progress.succeeded} succeeded, {progress.failed} failed again, {progress.ids.length - progress.done} pending{progress.finished ? '. Done.' : '…'}</label>
                  <progress id="replay-progress" max={progress.ids.length} value={progress.done} />
                </p>
              )}
            </div>
            {failure && <p class="error" role="alert">{failure}</p>}
            <div class="scroll" tabIndex={0} role="region" aria-label="Dead letters">
              <table class="letters">
                <thead>
                  <tr>
                    <th scope="col">
                      <input type="checkbox" aria-label="Select every letter shown" checked={letters.length > 0 && chosen.length === letters.length} onChange={(e) => setSelected(e.currentTarget.checked ? new Set(letters.map((l) => l.position)) : new Set())} />
                    </th>
                    <th scope="col">Event</th><th scope="col">Command</th><th scope="col">Reason</th><th scope="col">SQLSTATE</th><th scope="col">Failed</th><th scope="col">State</th><th scope="col">Dry run</th>
                  </tr>
                </thead>
                <tbody>
                  {letters.map((letter) => {
                    const prediction = predictions.get(letter.position);
                    return (
                      <tr key={letter.position}>
                        <td><input type="checkbox" checked={selected.has(letter.position)} onChange={() => toggle(letter.position)} aria-label={`Select dead letter ${letter.position} (event ${letter.event_id})`} /></td>
                        <td><a href={href('events', letter.event_id)}><code class="id">{letter.event_id.slice(0, 8)}…</code></a> <span class="muted small">{letter.position}</span></td>
                        <td>{letter.command ?? '?'}{letter.version ? ` v${letter.version}` : ''}</td>
                        <td>{letter.reason}</td>
                        <td>{letter.sqlstate ?? '–'}</td>
                        <td><time dateTime={letter.failed_at}>{new Date(letter.failed_at).toLocaleString()}</time></td>
                        <td>{letter.state}{letter.detail ? <span class="muted small"> ({letter.detail})</span> : null}</td>
                        <td data-testid={`prediction-${letter.position}`}>
                          {prediction ? (prediction.would === 'succeed' ? <span class="status succeeded">would succeed</span> : <span class="status dead_lettered">would {prediction.would === 'fail' ? 'fail' : 'be skipped'}: {prediction.error}{prediction.error_sqlstate ? ` (${prediction.error_sqlstate})` : ''}</span>) : '–'}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
      {confirm === 'replay' && (
        <Confirm title={`Replay ${chosen.length} dead letter${chosen.length === 1 ? '' : 's'}?`} confirmLabel="Replay" onConfirm={() => void replay()} onCancel={() => setConfirm(undefined)}>
          <p>Each is republished to the DB worker as it was: same event id, same idempotency key. One that already took effect is not applied again.</p>
          <p>{[...predictions.values()].some((p) => p.would !== 'succeed') ? 'The last dry run said some of them would fail: they will be dead-lettered again.' : 'Tip: a dry run first shows what would happen.'}</p>
        </Confirm>
      )}
      {confirm === 'purge' && (
        <Confirm danger title={`Purge ${purgePreview ?? 0} dead letters?`} confirmLabel="Purge" onConfirm={() => void purge()} onCancel={() => setConfirm(undefined)}>
          <p>They will not be replayed: the replay bookmark moves past them. The records stay readable (kitsune dlq list --all) until the topic's retention removes them.</p>
        </Confirm>
      )}
      <p class="muted small">Also on the command line: <code>kitsune dlq list|replay|purge</code>. Events: <a href={href('events')}>find one</a>.</p>
    </>
  );
}

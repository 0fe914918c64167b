/** The command catalog: each version's JSON Schema and SQL, and a form that sends it. */
import { useEffect, useState } from 'preact/hooks';
import { describe, exchange, get } from '../api.ts';
import { SchemaForm, type JsonSchema } from '../components/schema-form.tsx';
import { usePoll } from '../poll.ts';
import { href, type Route } from '../router.ts';

interface Version {
  version: string;
  description?: string;
  entityKey: string;
  returning: boolean;
  schema: JsonSchema;
  sql?: string;
}

interface Command {
  name: string;
  description?: string;
  versions: Version[];
}

const levels = ['INFO', 'DEBUG', 'WARN', 'ERROR'] as const;

function SendForm({ command, version }: { command: string; version: Version }) {
  const [level, setLevel] = useState<string>('INFO');
  const [message, setMessage] = useState(`${command} from the console`);
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ status: number; body: unknown } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const prefix = `send-${command}-${version.version}`;
  return (
    <section aria-labelledby={`${prefix}-title`} class="panel">
      <h3 id={`${prefix}-title`}>Send {command} v{version.version}</h3>
      <SchemaForm
        idPrefix={prefix}
        schema={version.schema}
        busy={busy}
        submitLabel="Send command"
        onSubmit={(payload) => {
          setBusy(true);
          setError(undefined);
          const body = { command, version: version.version, payload, log: { level, message } };
          exchange('POST', '/execute', body, key.trim() === '' ? {} : { 'idempotency-key': key.trim() }).then(
            (result) => setAnswer(result),
            (failure: unknown) => setError(describe(failure)),
          ).finally(() => setBusy(false));
        }}
      >
        <fieldset>
          <legend>Log line and delivery</legend>
          <div class="field">
            <label for={`${prefix}-level`}>Log level</label>
            <select id={`${prefix}-level`} value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
              {levels.map((l) => <option key={l} value={l}>{l}</option>)}
            </select>
          </div>
          <div class="field">
            <label for={`${prefix}-message`}>Log message</label>
            <input id={`${prefix}-message`} value={message} onInput={(e) => setMessage(e.currentTarget.value)} required />
          </div>
          <div class="field">
            <label for={`${prefix}-key`}>Idempotency key</label>
            <input id={`${prefix}-key`} value={key} onInput={(e) => setKey(e.currentTarget.value)} autoComplete="off" spellcheck={false} aria-describedby={`${prefix}-key-hint`} />
            <p id={`${prefix}-key-hint`} class="muted small">Optional. Sending again with the same key is the same event; left empty, Kitsune makes one.</p>
          </div>
        </fieldset>
      </SchemaForm>
      {error && <p class="error" role="alert">{error}</p>}
      {answer && <Answer answer={answer} />}
    </section>
  );
}

function Answer({ answer }: { answer: { status: number; body: unknown } }) {
  const id = (answer.body as { id?: unknown } | null)?.id;
  const ok = answer.status === 202;
  return (
    <div class={`answer ${ok ? 'ok' : 'failed'}`} role="status" aria-live="polite">
      <p>
        <strong data-testid="send-status">{answer.status}</strong> {ok ? 'Accepted' : 'Refused'}
        {ok && typeof id === 'string' && <> · <a href={href('events', id)}>Follow event <code class="id">{id}</code></a></>}
      </p>
      <pre>{JSON.stringify(answer.body, null, 2)}</pre>
    </div>
  );
}

function CommandDetail({ command }: { command: Command }) {
  const [chosen, setChosen] = useState(command.versions[command.versions.length - 1]?.version ?? '');
  useEffect(() => setChosen(command.versions[command.versions.length - 1]?.version ?? ''), [command]);
  const version = command.versions.find((v) => v.version === chosen);
  return (
    <section aria-labelledby="command-title">
      <h2 id="command-title">{command.name}</h2>
      {command.description && <p>{command.description}</p>}
      {command.versions.length > 1 && (
        <div class="field inline">
          <label for="command-version">Version</label>
          <select id="command-version" value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>
            {command.versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
          </select>
        </div>
      )}
      {version && (
        <div class="two">
          <div>
            <p>Version {version.version}{version.description ? `: ${version.description}` : ''}. Events are keyed (kept in order) by <code>{version.entityKey}</code>; {version.returning ? 'the statement\'s rows are the result' : 'the affected row count is the result'}.</p>
            <h3>Payload schema</h3>
            <div class="scroll" tabIndex={0} role="region" aria-label={`JSON Schema of ${command.name} v${version.version}`}><pre>{JSON.stringify(version.schema, null, 2)}</pre></div>
            <h3>SQL</h3>
            <div class="scroll" tabIndex={0} role="region" aria-label={`SQL of ${command.name} v${version.version}`}><pre class="sql">{version.sql ?? '(not published by this server)'}</pre></div>
          </div>
          <SendForm key={`${command.name}/${version.version}`} command={command.name} version={version} />
        </div>
      )}
    </section>
  );
}

export function CommandsPage({ route }: { route: Route }) {
  const { data, error } = usePoll(() => get<{ commands: Command[] }>('/commands'), [], undefined);
  const selected = route.rest[0];
  const command = data?.commands.find((c) => c.name === selected);
  return (
    <>
      <h1 tabIndex={-1}>Commands</h1>
      {error && <p class="error" role="alert">{error}</p>}
      {data && (
        <nav aria-label="Commands" class="chips">
          <ul>
            {data.commands.map((c) => (
              <li key={c.name}><a href={href('commands', c.name)} aria-current={c.name === selected ? 'page' : undefined}>{c.name}</a></li>
            ))}
          </ul>
        </nav>
      )}
      {data && !selected && <p>Pick a command to see its schema and SQL, and to send one.</p>}
      {data && selected && !command && <p class="error" role="alert">No command {selected} in this registry.</p>}
      {command && <CommandDetail command={command} />}
    </>
  );
}

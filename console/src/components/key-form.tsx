/** Asks for the API key when this Kitsune has keys on (any answer 401 opens it). */
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiKey } from '../api.ts';

export function KeyForm({ onDone }: { onDone: (changed: boolean) => void }) {
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <section class="panel key-form" aria-labelledby="key-title">
      <h2 id="key-title">API key</h2>
      <p>This Kitsune asks for an API key. It stays in this browser tab only (sessionStorage) and is sent as <code>Authorization: Bearer</code>. Managing dead letters needs a key with <code>admin: true</code>.</p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim() === '') return;
          apiKey.set(value.trim());
          onDone(true);
        }}
      >
        <label for="api-key">Key</label>
        <input id="api-key" ref={input} type="password" autoComplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        <div class="actions">
          <button type="submit">Use this key</button>
          {apiKey.get() && (
            <button type="button" class="quiet" onClick={() => {
              apiKey.clear();
              onDone(true);
            }}>Forget the key</button>
          )}
          <button type="button" class="quiet" onClick={() => onDone(false)}>Cancel</button>
        </div>
      </form>
    </section>
  );
}

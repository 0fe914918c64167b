/** The console's shell: navigation, the API key prompt, and the page the hash names. */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiKey, onUnauthorized } from './api.ts';
import { href, useRoute, type Route } from './router.ts';
import { CommandsPage } from './pages/commands.tsx';
import { DlqPage } from './pages/dlq.tsx';
import { EventsPage } from './pages/events.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { KeyForm } from './components/key-form.tsx';
import './styles.css';

const pages: Array<{ page: Route['page']; label: string }> = [
  { page: 'overview', label: 'Overview' },
  { page: 'events', label: 'Events' },
  { page: 'dlq', label: 'Dead letters' },
  { page: 'commands', label: 'Commands' },
];

function App() {
  const route = useRoute();
  const [askKey, setAskKey] = useState(false);
  const [keyVersion, setKeyVersion] = useState(0);
  const main = useRef<HTMLElement>(null);
  useEffect(() => onUnauthorized(() => setAskKey(true)), []);
  // A new page: tell screen readers and keyboard users where they are. Not on the first one: a
  // freshly loaded document starts at its top, where the first Tab finds "Skip to content".
  const firstPage = useRef(true);
  useEffect(() => {
    const title = pages.find((p) => p.page === route.page)?.label ?? 'Overview';
    document.title = `${title} · Kitsune console`;
    if (firstPage.current) firstPage.current = false;
    else main.current?.querySelector('h1')?.focus();
  }, [route.page]);
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => {
        event.preventDefault();
        main.current?.focus();
      }}>Skip to content</a>
      <header class="top">
        <span class="brand-name">Kitsune console</span>
        <nav aria-label="Pages">
          <ul>
            {pages.map(({ page, label }) => (
              <li key={page}>
                <a href={href(page)} aria-current={route.page === page ? 'page' : undefined}>{label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="quiet" onClick={() => setAskKey(true)}>{apiKey.get() ? 'Change API key' : 'API key'}</button>
      </header>
      {askKey && (
        <KeyForm
          onDone={(changed) => {
            setAskKey(false);
            if (changed) setKeyVersion((n) => n + 1);
          }}
        />
      )}
      <main id="main" ref={main} tabIndex={-1} key={keyVersion}>
        {route.page === 'overview' && <OverviewPage />}
        {route.page === 'events' && <EventsPage route={route} />}
        {route.page === 'dlq' && <DlqPage />}
        {route.page === 'commands' && <CommandsPage route={route} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

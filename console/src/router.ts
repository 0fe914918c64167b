/** Hash routes (#/events/<id>): the server serves one page, and links survive a reload. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  page: 'overview' | 'events' | 'dlq' | 'commands';
  /** The rest of the path, decoded: an event id, a command name. */
  rest: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const [first = '', ...rest] = path.split('/').filter((part) => part !== '').map(decodeURIComponent);
  const page = first === 'events' || first === 'dlq' || first === 'commands' ? first : 'overview';
  return { page, rest, query: new URLSearchParams(search) };
}

export const href = (...parts: string[]): string => `#/${parts.map(encodeURIComponent).join('/')}`;

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** Loads now and again every `everyMs` while `active`; the last answer or error is kept. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describe } from './api.ts';

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

export function usePoll<T>(load: () => Promise<T>, deps: unknown[], everyMs: number | undefined, active: (data: T | undefined) => boolean = () => true): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const latest = useRef<T | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    latest.current = undefined;
    setData(undefined);
    const run = async (): Promise<void> => {
      try {
        const value = await load();
        if (stopped) return;
        latest.current = value;
        setData(value);
        setError(undefined);
      } catch (failure) {
        if (!stopped) setError(describe(failure));
      }
      if (!stopped && everyMs !== undefined && active(latest.current)) timer = window.setTimeout(() => void run(), everyMs);
    };
    void run();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
    // The caller names what reloads (deps); `load` itself is a new closure on every render.
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

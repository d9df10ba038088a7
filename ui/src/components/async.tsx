// Loading, empty and error states, and the hook that drives them.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';

export interface AsyncState<T> {
  loading: boolean;
  error?: Error;
  data?: T;
  reload: () => void;
}

// Runs fn whenever deps change; a newer call aborts the older one, so a
// slow answer never overwrites a newer page.
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ loading: boolean; error?: Error; data?: T }>({ loading: true });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ loading: true, data: s.data }));
    fn(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ loading: false, data }),
      (error: Error) => !ctl.signal.aborted && setState({ loading: false, error }),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...state, reload };
}

// Calls fn every ms while the tab is visible (live pages poll the server).
export function useInterval(fn: () => void, ms: number) {
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(() => {
    const id = setInterval(() => {
      if (!document.hidden) latest.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function Loading({ what }: { what?: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> Loading{what ? ` ${what}` : ''}…
    </p>
  );
}

export function ErrorBox({ error, retry }: { error: Error; retry?: () => void }) {
  return (
    <div class="state error" role="alert">
      <strong>Error:</strong> <span class="error-message">{error.message}</span>
      {retry && (
        <button type="button" class="secondary" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

// The usual three-way render: loading (first load), error, or the content.
export function Async<T>({
  state,
  what,
  children,
}: {
  state: AsyncState<T>;
  what?: string;
  children: (data: T) => ComponentChildren;
}) {
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (state.data === undefined) return <Loading what={what} />;
  return <>{children(state.data)}</>;
}

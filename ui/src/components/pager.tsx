// Token pagination: the API hands out an opaque next_page_token; we keep
// the tokens of pages already seen so Previous works without re-reading.
import { useState } from 'preact/hooks';

export interface PageTokens {
  token: string | undefined;
  index: number;
  next: (token: string) => void;
  prev: () => void;
}

// Resets to the first page whenever a dep (filter, order) changes.
export function usePageTokens(deps: unknown[]): PageTokens {
  const key = JSON.stringify(deps);
  const [state, setState] = useState<{ key: string; tokens: (string | undefined)[] }>({ key, tokens: [undefined] });
  // Decided during render, so the first fetch after a change already asks for page 1.
  const tokens = state.key === key ? state.tokens : [undefined];
  const index = tokens.length - 1;
  return {
    token: tokens[index],
    index,
    next: (t) => setState({ key, tokens: [...tokens, t] }),
    prev: () => setState({ key, tokens: tokens.length > 1 ? tokens.slice(0, -1) : tokens }),
  };
}

export function Pager({ pages, next, loading }: { pages: PageTokens; next?: string; loading?: boolean }) {
  if (pages.index === 0 && !next) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" class="secondary" disabled={pages.index === 0 || loading} onClick={pages.prev}>
        ← Previous
      </button>
      <span aria-live="polite">Page {pages.index + 1}</span>
      <button type="button" class="secondary" disabled={!next || loading} onClick={() => next && pages.next(next)}>
        Next →
      </button>
    </nav>
  );
}

// Token pagination: the API hands out an opaque next_page_token; we keep
// the tokens of pages already seen so Previous works without re-reading.
// PagedTable is the list table every list page shares: one page fetched at a
// time, its loading/empty/error states, the table, and the pager.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Async, Empty, useAsync } from './async';

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

export interface Column<T> {
  header: string;
  cell: (row: T) => ComponentChildren;
  class?: string; // of the cells: num, mono, wrap
  title?: (row: T) => string; // a cell's tooltip
}

export function DataTable<T>({
  label,
  columns,
  rows,
  rowKey,
  rowAttrs,
}: {
  label: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  rowAttrs?: (row: T) => Record<string, string | number>; // data-* attributes tests and styles select on
}) {
  return (
    <table class="data" aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.header} scope="col">
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={rowKey(r)} {...rowAttrs?.(r)}>
            {columns.map((c) => (
              <td key={c.header} class={c.class} title={c.title?.(r)}>
                {c.cell(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// A token-paged table: `load` fetches the page at `token` (next: the token of
// the page after it, if any). A change in `deps` goes back to page 1.
export function PagedTable<T>({
  deps,
  load,
  what,
  empty,
  ...table
}: {
  deps: unknown[];
  load: (token: string | undefined, signal: AbortSignal) => Promise<{ items: T[]; next?: string }>;
  what: string;
  empty: ComponentChildren;
  label: string;
  columns: Column<T>[];
  rowKey: (row: T) => string;
}) {
  const pages = usePageTokens(deps);
  const state = useAsync((signal) => load(pages.token, signal), [...deps, pages.token]);
  return (
    <Async state={state} what={what}>
      {(data) =>
        data.items.length === 0 ? (
          <Empty>{empty}</Empty>
        ) : (
          <>
            <div class="table-wrap">
              <DataTable {...table} rows={data.items} />
            </div>
            <Pager pages={pages} next={data.next} loading={state.loading} />
          </>
        )
      }
    </Async>
  );
}

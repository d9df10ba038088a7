// The name search of list pages: a form bound to ?q=, and its API filter.
import { useState } from 'preact/hooks';
import { setQuery } from '../router';
import { PagedTable, type Column } from './pager';

// "name ILIKE '%q%'", or '' for no filter. The grammar's LIKE has no escape
// character, so quotes and backslashes are dropped rather than break the filter.
export function nameContains(q: string): string {
  const safe = q.replace(/['"`\\]/g, '');
  return safe ? `name ILIKE '%${safe}%'` : '';
}

// The same "name contains" for lists the API returns whole (datasets,
// deployments, monitors), filtered here.
export function nameMatches(q: string, name: string): boolean {
  return name.toLowerCase().includes(q.trim().toLowerCase());
}

export function SearchBox({ id, label, q }: { id: string; label: string; q: string }) {
  const [text, setText] = useState(q);
  return (
    <form
      class="toolbar"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        setQuery({ q: text.trim() });
      }}
    >
      <label for={id}>{label}</label>
      <input id={id} type="search" placeholder="name contains…" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      <button type="submit">Search</button>
    </form>
  );
}

// A list page searched by name and paged by token (experiments, models;
// datasets, deployments and monitors filter one whole list): the search
// box above the shared paged table.
export function SearchedList<T>({
  q,
  searchId,
  searchLabel,
  load,
  empty,
  ...table
}: {
  q: string;
  searchId: string;
  searchLabel: string;
  what: string;
  load: (filter: string, pageToken: string | undefined, signal: AbortSignal) => Promise<{ items: T[]; next?: string }>;
  empty: string;
  label: string;
  columns: Column<T>[];
  rowKey: (row: T) => string;
}) {
  return (
    <>
      <SearchBox id={searchId} label={searchLabel} q={q} />
      <PagedTable
        {...table}
        deps={[q]}
        load={(token, signal) => load(nameContains(q), token, signal)}
        empty={q ? `Nothing matches “${q}”.` : empty}
      />
    </>
  );
}

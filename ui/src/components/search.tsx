// The name search of list pages: a form bound to ?q=, and its API filter.
import { useState } from 'preact/hooks';
import { setQuery } from '../router';

// "name ILIKE '%q%'", or '' for no filter. The grammar's LIKE has no escape
// character, so quotes and backslashes are dropped rather than break the filter.
export function nameContains(q: string): string {
  const safe = q.replace(/['"`\\]/g, '');
  return safe ? `name ILIKE '%${safe}%'` : '';
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

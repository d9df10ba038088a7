// Experiments: a searchable list (name ILIKE), paginated with page tokens.
import { useState } from 'preact/hooks';
import { searchExperiments } from '../api';
import { Async, Empty, useAsync } from '../components/async';
import { Pager, usePageTokens } from '../components/pager';
import { formatTime } from '../format';
import { Link, href, setQuery, type Location } from '../router';

function likeFilter(q: string): string {
  // ILIKE has no escape character here: drop quotes instead of breaking the filter.
  const safe = q.replace(/['"`\\]/g, '');
  return safe ? `name ILIKE '%${safe}%'` : '';
}

export function ExperimentsPage({ loc }: { loc: Location }) {
  const q = loc.query.get('q') ?? '';
  const [text, setText] = useState(q);
  const pages = usePageTokens([q]);
  const state = useAsync(
    (signal) => searchExperiments({ filter: likeFilter(q), page_token: pages.token, max_results: 50 }, signal),
    [q, pages.token],
  );
  return (
    <section>
      <h1>Experiments</h1>
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ q: text.trim() });
        }}
      >
        <label for="exp-search">Search experiments</label>
        <input
          id="exp-search"
          type="search"
          placeholder="name contains…"
          value={text}
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Search</button>
      </form>
      <Async state={state} what="experiments">
        {(data) =>
          (data.experiments ?? []).length === 0 ? (
            <Empty>{q ? `No experiment matches “${q}”.` : 'No experiments yet. Log a run with an MLflow client to create one.'}</Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table class="data" aria-label="Experiments">
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">ID</th>
                      <th scope="col">Created</th>
                      <th scope="col">Last update</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.experiments!.map((e) => (
                      <tr key={e.experiment_id}>
                        <td>
                          <Link href={href(`/experiments/${encodeURIComponent(e.experiment_id)}`)}>{e.name}</Link>
                        </td>
                        <td class="mono">{e.experiment_id}</td>
                        <td>{formatTime(e.creation_time)}</td>
                        <td>{formatTime(e.last_update_time)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager pages={pages} next={data.next_page_token} loading={state.loading} />
            </>
          )
        }
      </Async>
    </section>
  );
}

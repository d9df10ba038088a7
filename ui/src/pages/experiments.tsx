// Experiments: a searchable list (name ILIKE), paginated with page tokens.
import { searchExperiments } from '../api';
import { Async, Empty, useAsync } from '../components/async';
import { Pager, usePageTokens } from '../components/pager';
import { nameContains, SearchBox } from '../components/search';
import { formatTime } from '../format';
import { Link, href, type Location } from '../router';

export function ExperimentsPage({ loc }: { loc: Location }) {
  const q = loc.query.get('q') ?? '';
  const pages = usePageTokens([q]);
  const state = useAsync(
    (signal) => searchExperiments({ filter: nameContains(q), page_token: pages.token, max_results: 50 }, signal),
    [q, pages.token],
  );
  return (
    <section>
      <h1>Experiments</h1>
      <SearchBox id="exp-search" label="Search experiments" q={q} />
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

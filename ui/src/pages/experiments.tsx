// Experiments: a searchable list (name ILIKE), paginated with page tokens.
import { searchExperiments } from '../api';
import { SearchedList } from '../components/search';
import { formatTime } from '../format';
import { Link, href, type Location } from '../router';

export function ExperimentsPage({ loc }: { loc: Location }) {
  return (
    <section>
      <h1>Experiments</h1>
      <SearchedList
        q={loc.query.get('q') ?? ''}
        searchId="exp-search"
        searchLabel="Search experiments"
        what="experiments"
        load={async (filter, page_token, signal) => {
          const r = await searchExperiments({ filter, page_token, max_results: 50 }, signal);
          return { items: r.experiments ?? [], next: r.next_page_token };
        }}
        empty="No experiments yet. Log a run with an MLflow client to create one."
      >
        {(experiments) => (
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
              {experiments.map((e) => (
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
        )}
      </SearchedList>
    </section>
  );
}

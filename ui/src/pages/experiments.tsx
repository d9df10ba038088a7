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
        label="Experiments"
        rowKey={(e) => e.experiment_id}
        columns={[
          { header: 'Name', cell: (e) => <Link href={href(`/experiments/${encodeURIComponent(e.experiment_id)}`)}>{e.name}</Link> },
          { header: 'ID', class: 'mono', cell: (e) => e.experiment_id },
          { header: 'Created', cell: (e) => formatTime(e.creation_time) },
          { header: 'Last update', cell: (e) => formatTime(e.last_update_time) },
        ]}
      />
    </section>
  );
}

// An experiment's runs table: the API's filter syntax, server-side sorting
// on any metric, param or attribute, a column chooser, selection for the
// compare view, and token pagination (never more than one page in memory,
// so it stays fast at 10,000+ runs). Filter, sort, columns and page size
// live in the URL, so every view is a deep link.
import { useMemo, useState } from 'preact/hooks';
import { getExperiment, searchRuns, type Run } from '../api';
import { Async, Empty, ErrorBox, Loading, useAsync } from '../components/async';
import { Pager, usePageTokens } from '../components/pager';
import { formatDuration, formatNumber, formatTime } from '../format';
import { Link, href, navigate, type Location } from '../router';

type Kind = 'metrics' | 'params' | 'tags';
interface Column {
  kind: Kind;
  key: string;
}
const colId = (c: Column) => `${c.kind}.${c.key}`;
function parseCol(id: string): Column | null {
  const dot = id.indexOf('.');
  const kind = id.slice(0, dot) as Kind;
  if (dot < 0 || !['metrics', 'params', 'tags'].includes(kind)) return null;
  return { kind, key: id.slice(dot + 1) };
}

// order_by in the API's syntax; keys are backticked so any name works.
function orderBy(sort: string, dir: string): string[] {
  const desc = dir === 'asc' ? 'ASC' : 'DESC';
  if (sort.startsWith('attributes.')) return [`${sort} ${desc}`];
  const c = parseCol(sort);
  return c ? [`${c.kind}.\`${c.key}\` ${desc}`] : [];
}

function cell(run: Run, c: Column): string {
  if (c.kind === 'metrics') {
    const m = run.data.metrics?.find((x) => x.key === c.key);
    return m ? formatNumber(m.value) : '';
  }
  const list = c.kind === 'params' ? run.data.params : run.data.tags;
  return list?.find((x) => x.key === c.key)?.value ?? '';
}

function withQuery(loc: Location, changes: Record<string, string | string[] | undefined>): string {
  const q = new URLSearchParams(loc.query);
  for (const [k, v] of Object.entries(changes)) {
    q.delete(k);
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else if (v) q.set(k, v);
  }
  const s = q.toString();
  return loc.path + (s ? `?${s}` : '');
}

const PAGE_SIZES = [25, 50, 100, 200];

export function ExperimentPage({ id, loc }: { id: string; loc: Location }) {
  const exp = useAsync((signal) => getExperiment(id, signal), [id]);
  const filter = loc.query.get('filter') ?? '';
  const sort = loc.query.get('sort') ?? 'attributes.start_time';
  const dir = loc.query.get('dir') ?? 'desc';
  const pageSize = Number(loc.query.get('n')) || 50;
  const urlCols = loc.query.getAll('col').map(parseCol).filter((c): c is Column => c !== null);
  const [filterText, setFilterText] = useState(filter);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [defaultCols, setDefaultCols] = useState<Column[] | null>(null);

  const pages = usePageTokens([id, filter, sort, dir, pageSize]);
  const runs = useAsync(
    (signal) =>
      searchRuns(
        { experiment_ids: [id], filter, order_by: orderBy(sort, dir), page_token: pages.token, max_results: pageSize },
        signal,
      ),
    [id, filter, sort, dir, pageSize, pages.token],
  );

  const pageRuns = runs.data?.runs ?? [];
  // Keys seen on this page (plus chosen ones): the choices of the column chooser.
  const available = useMemo(() => {
    const seen = new Map<string, Column>();
    for (const r of pageRuns) {
      r.data.metrics?.forEach((m) => seen.set(`metrics.${m.key}`, { kind: 'metrics', key: m.key }));
      r.data.params?.forEach((p) => seen.set(`params.${p.key}`, { kind: 'params', key: p.key }));
    }
    urlCols.forEach((c) => seen.set(colId(c), c));
    return [...seen.values()].sort((a, b) => colId(a).localeCompare(colId(b)));
  }, [runs.data, loc.query.toString()]);

  // Without ?col= the first page's first metrics and params are shown, kept
  // while paging so columns do not jump.
  if (!loc.query.has('col') && defaultCols === null && runs.data) {
    const metrics = available.filter((c) => c.kind === 'metrics').slice(0, 5);
    const params = available.filter((c) => c.kind === 'params').slice(0, 5);
    setDefaultCols([...metrics, ...params]);
  }
  const cols = loc.query.has('col') ? urlCols : defaultCols ?? [];
  const colIds = new Set(cols.map(colId));

  const toggleCol = (c: Column) => {
    const next = colIds.has(colId(c)) ? cols.filter((x) => colId(x) !== colId(c)) : [...cols, c];
    navigate(withQuery(loc, { col: next.length ? next.map(colId) : [''] }), { replace: true });
  };
  const sortBy = (key: string) => {
    const nextDir = sort === key && dir === 'desc' ? 'asc' : 'desc';
    navigate(withQuery(loc, { sort: key, dir: nextDir }));
  };
  const toggleRun = (runId: string) => {
    const s = new Set(selected);
    if (s.has(runId)) s.delete(runId);
    else s.add(runId);
    setSelected(s);
  };

  const SortHeader = ({ label, sortKey }: { label: string; sortKey: string }) => {
    const active = sort === sortKey;
    return (
      <th scope="col" aria-sort={active ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
        <button type="button" class="th-sort" onClick={() => sortBy(sortKey)} title={`Sort by ${label}`}>
          {label}
          <span aria-hidden="true" class="sort-mark">
            {active ? (dir === 'asc' ? ' ▲' : ' ▼') : ''}
          </span>
        </button>
      </th>
    );
  };

  return (
    <section>
      <p class="crumbs">
        <Link href="/experiments">Experiments</Link> /
      </p>
      <Async state={exp} what="experiment">
        {(e) => <h1>{e.experiment.name}</h1>}
      </Async>

      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(withQuery(loc, { filter: filterText.trim() }));
        }}
      >
        <label for="run-filter">Filter runs</label>
        <input
          id="run-filter"
          class="wide mono"
          type="search"
          placeholder="metrics.rmse < 0.3 and params.model = 'xgboost'"
          value={filterText}
          onInput={(e) => setFilterText((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Apply</button>
        {filter && (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setFilterText('');
              navigate(withQuery(loc, { filter: undefined }));
            }}
          >
            Clear
          </button>
        )}
      </form>

      <div class="toolbar">
        <details class="column-chooser">
          <summary>Columns ({cols.length})</summary>
          <fieldset>
            <legend>Show columns</legend>
            {available.length === 0 && <p>No metrics or params on this page.</p>}
            {available.map((c) => (
              <label key={colId(c)} class="check">
                <input type="checkbox" checked={colIds.has(colId(c))} onChange={() => toggleCol(c)} />
                <span class={`kind-${c.kind}`}>{c.kind === 'metrics' ? 'metric' : 'param'}</span> {c.key}
              </label>
            ))}
          </fieldset>
        </details>
        <label for="page-size">Rows per page</label>
        <select
          id="page-size"
          value={String(pageSize)}
          onChange={(e) => navigate(withQuery(loc, { n: (e.target as HTMLSelectElement).value }))}
        >
          {PAGE_SIZES.map((n) => (
            <option key={n} value={String(n)}>
              {n}
            </option>
          ))}
        </select>
        <span class="spacer" />
        {selected.size >= 2 ? (
          <Link class="button" href={href('/compare', { runs: [...selected].join(',') })}>
            Compare {selected.size} runs
          </Link>
        ) : (
          <span class="hint">Select 2+ runs to compare</span>
        )}
      </div>

      {runs.error ? (
        <ErrorBox error={runs.error} retry={runs.reload} />
      ) : !runs.data ? (
        <Loading what="runs" />
      ) : pageRuns.length === 0 ? (
        <Empty>{filter ? 'No run matches this filter.' : 'No runs in this experiment yet.'}</Empty>
      ) : (
        <>
          <div class="table-wrap" aria-busy={runs.loading}>
            <table class="data runs" aria-label="Runs">
              <thead>
                <tr>
                  <th scope="col">
                    <span class="sr-only">Select</span>
                  </th>
                  <SortHeader label="Run" sortKey="attributes.run_name" />
                  <th scope="col">Status</th>
                  <SortHeader label="Started" sortKey="attributes.start_time" />
                  <th scope="col">Duration</th>
                  {cols.map((c) => (
                    <SortHeader key={colId(c)} label={c.key} sortKey={colId(c)} />
                  ))}
                </tr>
              </thead>
              <tbody>
                {pageRuns.map((r) => (
                  <tr key={r.info.run_id} data-run-id={r.info.run_id}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${r.info.run_name || r.info.run_id}`}
                        checked={selected.has(r.info.run_id)}
                        onChange={() => toggleRun(r.info.run_id)}
                      />
                    </td>
                    <td class="run-name">
                      <Link href={`/runs/${encodeURIComponent(r.info.run_id)}`}>{r.info.run_name || r.info.run_id}</Link>
                    </td>
                    <td>
                      <span class={`badge status-${(r.info.status ?? '').toLowerCase()}`}>{r.info.status}</span>
                    </td>
                    <td>{formatTime(r.info.start_time)}</td>
                    <td>{formatDuration(r.info.start_time, r.info.end_time)}</td>
                    {cols.map((c) => (
                      <td key={colId(c)} class={c.kind === 'metrics' ? 'num' : ''} data-col={colId(c)}>
                        {cell(r, c)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pages={pages} next={runs.data.next_page_token} loading={runs.loading} />
        </>
      )}
    </section>
  );
}

// Datasets: the list, a dataset's versions, one version's files and the
// runs that used it, and the diff between two versions. The server has no
// diff endpoint: the two manifests are read and compared here by path and
// sha256 (what `mlforge data diff` reports).
import { useState } from 'preact/hooks';
import {
  datasetVersionRuns,
  fullManifest,
  getDataset,
  getDatasetVersion,
  listDatasets,
  listDatasetVersions,
  manifestPage,
  type DatasetVersion,
  type ManifestEntry,
} from '../api';
import { Async, Empty, useAsync } from '../components/async';
import { DataTable, PagedTable, type Column } from '../components/pager';
import { SearchedList, nameMatches } from '../components/search';
import { formatBytes, formatNumber, formatTime, shortId } from '../format';
import { Link, href, navigate, type Location } from '../router';

// Manifests beyond this many files are compared in part (and say so).
const DIFF_LIMIT = 200_000;
const DIFF_ROWS = 2000;

const datasetHref = (name: string) => `/datasets/${encodeURIComponent(name)}`;
const versionHref = (name: string, v: number | string) => `${datasetHref(name)}/versions/${encodeURIComponent(String(v))}`;
const diffHref = (name: string, a: number | string, b: number | string) => href(`${datasetHref(name)}/diff`, { a: String(a), b: String(b) });

export function DatasetsPage({ loc }: { loc: Location }) {
  const q = loc.query.get('q') ?? '';
  return (
    <section>
      <h1>Datasets</h1>
      <SearchedList
        q={q}
        searchId="dataset-search"
        searchLabel="Search datasets"
        what="datasets"
        load={async (_filter, _token, signal) => {
          const r = await listDatasets(signal);
          return { items: (r.datasets ?? []).filter((d) => nameMatches(q, d.name)) };
        }}
        empty="No datasets yet. Push a version with mlforge data push (or run mlforge demo)."
        label="Datasets"
        rowKey={(d) => d.name}
        columns={[
          { header: 'Name', cell: (d) => <Link href={datasetHref(d.name)}>{d.name}</Link> },
          { header: 'Versions', class: 'num', cell: (d) => d.version_count ?? '—' },
          { header: 'Description', class: 'wrap', cell: (d) => d.description || <span class="hint">—</span> },
          { header: 'Last update', cell: (d) => formatTime(d.last_update_time) },
        ]}
      />
    </section>
  );
}

function DiffForm({ name, versions, a, b }: { name: string; versions: DatasetVersion[]; a?: number; b?: number }) {
  const sorted = [...versions].sort((x, y) => x.version - y.version);
  const [from, setFrom] = useState(String(a ?? sorted.at(-2)?.version ?? sorted[0]?.version ?? ''));
  const [to, setTo] = useState(String(b ?? sorted.at(-1)?.version ?? ''));
  const options = sorted.map((v) => (
    <option key={v.version} value={String(v.version)}>
      version {v.version}
    </option>
  ));
  return (
    <form
      class="toolbar"
      aria-label="Compare two versions"
      onSubmit={(e) => {
        e.preventDefault();
        navigate(diffHref(name, from, to));
      }}
    >
      <label for="diff-a">From</label>
      <select id="diff-a" value={from} onChange={(e) => setFrom((e.target as HTMLSelectElement).value)}>
        {options}
      </select>
      <label for="diff-b">To</label>
      <select id="diff-b" value={to} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
        {options}
      </select>
      <button type="submit" disabled={sorted.length < 2}>
        Compare
      </button>
    </form>
  );
}

// The versions table, newest first; each row links to its diff with the one before.
function versionColumns(name: string): Column<{ v: DatasetVersion; previous?: DatasetVersion }>[] {
  return [
    { header: 'Version', cell: ({ v }) => <Link href={versionHref(name, v.version)}>Version {v.version}</Link> },
    { header: 'Files', class: 'num', cell: ({ v }) => formatNumber(v.file_count) },
    { header: 'Size', class: 'num', cell: ({ v }) => formatBytes(v.size) },
    { header: 'Message', class: 'wrap', cell: ({ v }) => v.message || <span class="hint">—</span> },
    { header: 'Version id', class: 'mono', title: ({ v }) => v.version_id, cell: ({ v }) => shortId(v.version_id, 12) },
    { header: 'Created', cell: ({ v }) => formatTime(v.creation_time) },
    {
      header: 'Changes',
      cell: ({ v, previous }) =>
        previous ? (
          <Link href={diffHref(name, previous.version, v.version)}>
            Diff with v{previous.version}
            <span class="sr-only"> (version {v.version})</span>
          </Link>
        ) : (
          <span class="hint">first version</span>
        ),
    },
  ];
}

export function DatasetPage({ name }: { name: string }) {
  const state = useAsync(
    async (signal) => {
      const [d, v] = await Promise.all([getDataset(name, signal), listDatasetVersions(name, signal)]);
      return { dataset: d.dataset, versions: [...(v.versions ?? [])].sort((x, y) => y.version - x.version) };
    },
    [name],
  );
  return (
    <section>
      <p class="crumbs">
        <Link href="/datasets">Datasets</Link> /
      </p>
      <h1>{name}</h1>
      <Async state={state} what="dataset">
        {({ dataset, versions }) => (
          <>
            {dataset.description && <p>{dataset.description}</p>}
            <h2>Versions</h2>
            {versions.length === 0 ? (
              <Empty>No versions yet.</Empty>
            ) : (
              <>
                {versions.length > 1 && <DiffForm name={name} versions={versions} />}
                <div class="table-wrap">
                  <DataTable
                    label="Dataset versions"
                    columns={versionColumns(name)}
                    rows={versions.map((v, i) => ({ v, previous: versions[i + 1] }))}
                    rowKey={(r) => String(r.v.version)}
                    rowAttrs={(r) => ({ 'data-version': r.v.version })}
                  />
                </div>
              </>
            )}
          </>
        )}
      </Async>
    </section>
  );
}

function ManifestTable({ versionId }: { versionId: string }) {
  return (
    <PagedTable
      deps={[versionId]}
      load={async (token, signal) => {
        const page = await manifestPage(versionId, token, 500, signal);
        return { items: page.entries ?? [], next: page.next_page_token };
      }}
      what="files"
      empty="This version has no files."
      label="Files"
      rowKey={(e) => e.path}
      columns={[
        { header: 'Path', class: 'mono wrap', cell: (e) => e.path },
        { header: 'Size', class: 'num', cell: (e) => formatBytes(e.size) },
        { header: 'sha256', class: 'mono', title: (e) => e.sha256, cell: (e) => shortId(e.sha256, 16) },
      ]}
    />
  );
}

function VersionRuns({ versionId }: { versionId: string }) {
  const state = useAsync((signal) => datasetVersionRuns(versionId, signal), [versionId]);
  return (
    <Async state={state} what="runs">
      {(data) =>
        (data.runs ?? []).length === 0 ? (
          <Empty>No run logged this version as an input.</Empty>
        ) : (
          <ul class="compact" aria-label="Runs that used this version">
            {(data.runs ?? []).map((r) => (
              <li key={r.run_id}>
                <Link href={`/runs/${encodeURIComponent(r.run_id)}`}>{r.run_name || r.run_id}</Link>
              </li>
            ))}
          </ul>
        )
      }
    </Async>
  );
}

export function DatasetVersionPage({ name, version }: { name: string; version: string }) {
  const state = useAsync((signal) => getDatasetVersion(name, version, signal), [name, version]);
  return (
    <section>
      <p class="crumbs">
        <Link href="/datasets">Datasets</Link> / <Link href={datasetHref(name)}>{name}</Link> /
      </p>
      <h1>
        {name} version {version}
      </h1>
      <Async state={state} what="dataset version">
        {({ version: v }) => (
          <>
            <dl class="facts">
              <dt>Version id</dt>
              <dd class="mono wrap">{v.version_id}</dd>
              <dt>Files</dt>
              <dd>
                {formatNumber(v.file_count)} ({formatBytes(v.size)})
              </dd>
              <dt>Message</dt>
              <dd>{v.message || '—'}</dd>
              <dt>Created</dt>
              <dd>{formatTime(v.creation_time)}</dd>
            </dl>
            <h2>Files</h2>
            <ManifestTable versionId={v.version_id} />
            <h2>Runs</h2>
            <VersionRuns versionId={v.version_id} />
          </>
        )}
      </Async>
    </section>
  );
}

export type Change = 'added' | 'removed' | 'modified';
export interface DiffRow {
  path: string;
  change: Change;
  before?: ManifestEntry;
  after?: ManifestEntry;
}

// Files added, removed or modified (same path, another sha256) from a to b.
export function diffManifests(a: ManifestEntry[], b: ManifestEntry[]): { rows: DiffRow[]; unchanged: number } {
  const before = new Map(a.map((e) => [e.path, e]));
  const rows: DiffRow[] = [];
  let unchanged = 0;
  for (const e of b) {
    const old = before.get(e.path);
    if (!old) rows.push({ path: e.path, change: 'added', after: e });
    else if (old.sha256 !== e.sha256) rows.push({ path: e.path, change: 'modified', before: old, after: e });
    else unchanged++;
    before.delete(e.path);
  }
  for (const old of before.values()) rows.push({ path: old.path, change: 'removed', before: old });
  rows.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return { rows, unchanged };
}

interface DiffData {
  versions: DatasetVersion[];
  from?: DatasetVersion;
  to?: DatasetVersion;
  truncated?: boolean;
  rows?: DiffRow[];
  unchanged?: number;
}

const fileCell = (f?: ManifestEntry) => (f ? `${formatBytes(f.size)} · ${shortId(f.sha256, 12)}` : '—');
const DIFF_COLUMNS: Column<DiffRow>[] = [
  { header: 'Change', cell: (r) => <span class={`badge change-${r.change}`}>{r.change}</span> },
  { header: 'Path', class: 'mono wrap', cell: (r) => r.path },
  { header: 'Before', class: 'mono', cell: (r) => fileCell(r.before) },
  { header: 'After', class: 'mono', cell: (r) => fileCell(r.after) },
];

function DiffTable({ rows }: { rows: DiffRow[] }) {
  return (
    <div class="table-wrap">
      <DataTable
        label="Changed files"
        columns={DIFF_COLUMNS}
        rows={rows.slice(0, DIFF_ROWS)}
        rowKey={(r) => r.path}
        rowAttrs={(r) => ({ 'data-change': r.change })}
      />
    </div>
  );
}

export function DatasetDiffPage({ name, loc }: { name: string; loc: Location }) {
  const a = loc.query.get('a') ?? '';
  const b = loc.query.get('b') ?? '';
  const state = useAsync(
    async (signal): Promise<DiffData> => {
      const list = await listDatasetVersions(name, signal);
      if (!a || !b) return { versions: list.versions ?? [] };
      const [va, vb] = await Promise.all([getDatasetVersion(name, a, signal), getDatasetVersion(name, b, signal)]);
      const [ma, mb] = await Promise.all([
        fullManifest(va.version.version_id, DIFF_LIMIT, signal),
        fullManifest(vb.version.version_id, DIFF_LIMIT, signal),
      ]);
      return {
        versions: list.versions ?? [],
        from: va.version,
        to: vb.version,
        truncated: ma.truncated || mb.truncated,
        ...diffManifests(ma.entries, mb.entries),
      };
    },
    [name, a, b],
  );
  return (
    <section>
      <p class="crumbs">
        <Link href="/datasets">Datasets</Link> / <Link href={datasetHref(name)}>{name}</Link> /
      </p>
      <h1>
        {name}: {a && b ? `version ${a} → version ${b}` : 'compare versions'}
      </h1>
      <Async state={state} what="manifests">
        {(d) => (
          <>
            <DiffForm key={`${a}-${b}`} name={name} versions={d.versions} a={Number(a) || undefined} b={Number(b) || undefined} />
            {!d.from || !d.to || !d.rows ? (
              <Empty>Pick two versions to compare.</Empty>
            ) : (
              <>
                <p class="diff-summary" role="status">
                  {d.rows.filter((r) => r.change === 'added').length} added, {d.rows.filter((r) => r.change === 'removed').length} removed,{' '}
                  {d.rows.filter((r) => r.change === 'modified').length} modified, {d.unchanged} unchanged (
                  {formatNumber(d.from.file_count)} → {formatNumber(d.to.file_count)} files, {formatBytes(d.from.size)} →{' '}
                  {formatBytes(d.to.size)}).
                </p>
                {d.truncated && (
                  <p class="state">Only the first {DIFF_LIMIT.toLocaleString()} files of each version were compared.</p>
                )}
                {d.rows.length > DIFF_ROWS && <p class="hint">The first {DIFF_ROWS.toLocaleString()} changes, by path.</p>}
                {d.rows.length === 0 ? <Empty>The two versions hold the same files.</Empty> : <DiffTable rows={d.rows} />}
              </>
            )}
          </>
        )}
      </Async>
    </section>
  );
}

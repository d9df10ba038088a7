// Model registry: the registered models list, a model's versions with
// stages and aliases (and the actions that move them), and a version's
// lineage (model version -> run -> dataset versions -> files).
import { useState } from 'preact/hooks';
import {
  ApiError,
  deleteAlias,
  getModelVersion,
  getRegisteredModel,
  modelLineage,
  modelVersions,
  searchRegisteredModels,
  setAlias,
  transitionStage,
  type ModelVersion,
  type RegisteredModel,
} from '../api';
import { Async, Empty, ErrorBox, useAsync } from '../components/async';
import { DataTable, type Column } from '../components/pager';
import { SearchedList } from '../components/search';
import { formatBytes, formatNumber, formatTime, shortId } from '../format';
import { Link, type Location } from '../router';

const STAGES = ['None', 'Staging', 'Production', 'Archived'];
const modelHref = (name: string) => `/models/${encodeURIComponent(name)}`;
const versionHref = (name: string, v: string) => `${modelHref(name)}/versions/${encodeURIComponent(v)}`;

function Aliases({ aliases }: { aliases: string[] }) {
  if (aliases.length === 0) return <span class="hint">—</span>;
  return (
    <>
      {aliases.map((a) => (
        <span key={a} class="badge alias">
          @{a}
        </span>
      ))}
    </>
  );
}

export function ModelsPage({ loc }: { loc: Location }) {
  return (
    <section>
      <h1>Models</h1>
      <SearchedList
        q={loc.query.get('q') ?? ''}
        searchId="model-search"
        searchLabel="Search models"
        what="models"
        load={async (filter, page_token, signal) => {
          const r = await searchRegisteredModels({ filter, page_token }, signal);
          return { items: r.registered_models ?? [], next: r.next_page_token };
        }}
        empty="No registered models yet. Register one from a run with an MLmodel."
        label="Registered models"
        rowKey={(m) => m.name}
        columns={[
          { header: 'Name', cell: (m) => <Link href={modelHref(m.name)}>{m.name}</Link> },
          {
            header: 'Latest version',
            cell: (m) => {
              const latest = Math.max(0, ...(m.latest_versions ?? []).map((v) => Number(v.version)));
              return latest ? <Link href={versionHref(m.name, String(latest))}>Version {latest}</Link> : '—';
            },
          },
          { header: 'Aliases', cell: (m) => <Aliases aliases={(m.aliases ?? []).map((a) => `${a.alias} → v${a.version}`)} /> },
          { header: 'Last update', cell: (m) => formatTime(m.last_updated_timestamp) },
        ]}
      />
    </section>
  );
}

// Runs an action, then reloads; the API's message is shown on failure.
function useAction(reload: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  const [done, setDone] = useState('');
  const run = async (what: string, fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    setDone('');
    try {
      await fn();
      setDone(what);
      reload();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run };
}

function AliasForm({ model, versions, reload }: { model: RegisteredModel; versions: ModelVersion[]; reload: () => void }) {
  const [alias, setAliasName] = useState('');
  const [version, setVersion] = useState(versions[0]?.version ?? '');
  const action = useAction(reload);
  const aliases = model.aliases ?? [];
  return (
    <div class="panel">
      <h3>Aliases</h3>
      {aliases.length === 0 ? (
        <p class="hint">No aliases yet.</p>
      ) : (
        <ul class="alias-list" aria-label="Aliases">
          {aliases.map((a) => (
            <li key={a.alias}>
              <span class="badge alias">@{a.alias}</span> → <Link href={versionHref(model.name, a.version)}>version {a.version}</Link>{' '}
              <button
                type="button"
                class="secondary small"
                disabled={action.busy}
                onClick={() => action.run(`Removed @${a.alias}`, () => deleteAlias(model.name, a.alias))}
              >
                Remove<span class="sr-only"> alias {a.alias}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="toolbar"
        aria-label="Set or move an alias"
        onSubmit={(e) => {
          e.preventDefault();
          const name = alias.trim();
          if (!name) return;
          action.run(`@${name} now points to version ${version}`, () => setAlias(model.name, name, version));
        }}
      >
        <label for="alias-name">Alias</label>
        <input
          id="alias-name"
          list="alias-names"
          placeholder="champion"
          value={alias}
          onInput={(e) => setAliasName((e.target as HTMLInputElement).value)}
          required
        />
        <datalist id="alias-names">
          {aliases.map((a) => (
            <option key={a.alias} value={a.alias} />
          ))}
        </datalist>
        <label for="alias-version">Version</label>
        <select id="alias-version" value={version} onChange={(e) => setVersion((e.target as HTMLSelectElement).value)}>
          {versions.map((v) => (
            <option key={v.version} value={v.version}>
              {v.version}
            </option>
          ))}
        </select>
        <button type="submit" disabled={action.busy || versions.length === 0}>
          Set alias
        </button>
      </form>
      {action.error && <ErrorBox error={action.error} />}
      {action.done && (
        <p class="state ok" role="status">
          {action.done}.
        </p>
      )}
    </div>
  );
}

function StageCell({ v, reload }: { v: ModelVersion; reload: () => void }) {
  const [stage, setStage] = useState(v.current_stage ?? 'None');
  const [archive, setArchive] = useState(false);
  const action = useAction(reload);
  const id = `stage-${v.version}`;
  return (
    <form
      class="stage-form"
      onSubmit={(e) => {
        e.preventDefault();
        action.run(`Version ${v.version} moved to ${stage}`, () => transitionStage(v.name, v.version, stage, archive));
      }}
    >
      <label for={id} class="sr-only">
        Stage of version {v.version}
      </label>
      <select id={id} value={stage} onChange={(e) => setStage((e.target as HTMLSelectElement).value)}>
        {STAGES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      {(stage === 'Staging' || stage === 'Production') && (
        <label class="check small">
          <input type="checkbox" checked={archive} onChange={() => setArchive(!archive)} /> archive others
        </label>
      )}
      <button type="submit" class="small" disabled={action.busy || stage === (v.current_stage ?? 'None')}>
        Transition<span class="sr-only"> version {v.version}</span>
      </button>
      {action.error && <ErrorBox error={action.error} />}
    </form>
  );
}

// The versions table; the last column moves a version's stage.
function versionColumns(name: string, reload: () => void): Column<ModelVersion>[] {
  return [
    { header: 'Version', cell: (v) => <Link href={versionHref(name, v.version)}>Version {v.version}</Link> },
    {
      header: 'Stage',
      cell: (v) => <span class={`badge stage-${(v.current_stage ?? 'none').toLowerCase()}`}>{v.current_stage ?? 'None'}</span>,
    },
    { header: 'Aliases', class: 'aliases', cell: (v) => <Aliases aliases={v.aliases ?? []} /> },
    { header: 'Run', cell: (v) => (v.run_id ? <Link href={`/runs/${encodeURIComponent(v.run_id)}`}>{shortId(v.run_id)}</Link> : '—') },
    { header: 'Created', cell: (v) => formatTime(v.creation_timestamp) },
    { header: 'Change stage', cell: (v) => <StageCell key={`${v.version}-${v.current_stage}`} v={v} reload={reload} /> },
  ];
}

export function ModelPage({ name }: { name: string }) {
  const state = useAsync(
    async (signal) => {
      const [m, versions] = await Promise.all([getRegisteredModel(name, signal), modelVersions(name, signal)]);
      return { model: m.registered_model, versions };
    },
    [name],
  );
  return (
    <section>
      <p class="crumbs">
        <Link href="/models">Models</Link> /
      </p>
      <h1>{name}</h1>
      <Async state={state} what="model">
        {({ model, versions }) => (
          <>
            {model.description && <p>{model.description}</p>}
            <AliasForm key={versions.length} model={model} versions={versions} reload={state.reload} />
            <h2>Versions</h2>
            {versions.length === 0 ? (
              <Empty>No versions yet.</Empty>
            ) : (
              <div class="table-wrap">
                <DataTable
                  label="Model versions"
                  columns={versionColumns(name, state.reload)}
                  rows={versions}
                  rowKey={(v) => String(v.version)}
                  rowAttrs={(v) => ({ 'data-version': v.version })}
                />
              </div>
            )}
          </>
        )}
      </Async>
    </section>
  );
}

export function ModelVersionPage({ name, version }: { name: string; version: string }) {
  const state = useAsync(
    async (signal) => {
      const [v, lineage] = await Promise.all([
        getModelVersion(name, version, signal),
        modelLineage(name, version, signal).catch((e: Error) => (e instanceof ApiError && e.status === 404 ? undefined : Promise.reject(e))),
      ]);
      return { version: v.model_version, lineage };
    },
    [name, version],
  );
  return (
    <section>
      <p class="crumbs">
        <Link href="/models">Models</Link> / <Link href={modelHref(name)}>{name}</Link> /
      </p>
      <h1>
        {name} version {version}
      </h1>
      <Async state={state} what="model version">
        {({ version: v, lineage }) => (
          <>
            <dl class="facts">
              <dt>Stage</dt>
              <dd>
                <span class={`badge stage-${(v.current_stage ?? 'none').toLowerCase()}`}>{v.current_stage ?? 'None'}</span>
              </dd>
              <dt>Aliases</dt>
              <dd>
                <Aliases aliases={v.aliases ?? []} />
              </dd>
              <dt>Status</dt>
              <dd>{v.status ?? '—'}</dd>
              <dt>Source</dt>
              <dd class="mono wrap">{v.source}</dd>
              <dt>Created</dt>
              <dd>{formatTime(v.creation_timestamp)}</dd>
            </dl>
            <h2>Lineage</h2>
            <ol class="lineage" aria-label="Lineage">
              <li class="lineage-node">
                <h3>Model version</h3>
                <p>
                  {name} v{v.version}
                </p>
                <p class="hint mono wrap">{v.source}</p>
              </li>
              <li class="lineage-node">
                <h3>Run</h3>
                {lineage?.run ? (
                  <>
                    <p>
                      <Link href={`/runs/${encodeURIComponent(lineage.run.run_id)}`}>{lineage.run.run_name || lineage.run.run_id}</Link>
                    </p>
                    {lineage.run.git_commit && <p class="hint">commit <span class="mono">{shortId(lineage.run.git_commit, 12)}</span></p>}
                    <ul class="compact">
                      {lineage.run.params.slice(0, 8).map((p) => (
                        <li key={p.key} class="mono">
                          {p.key}={p.value}
                        </li>
                      ))}
                      {lineage.run.metrics.slice(0, 8).map((m) => (
                        <li key={m.key} class="mono">
                          {m.key}={formatNumber(m.value)}
                        </li>
                      ))}
                    </ul>
                  </>
                ) : (
                  <p class="hint">No run recorded for this version.</p>
                )}
              </li>
              <li class="lineage-node">
                <h3>Datasets</h3>
                {(lineage?.datasets ?? []).length === 0 ? (
                  <p class="hint">The run logged no input datasets.</p>
                ) : (
                  <ul class="compact">
                    {lineage!.datasets!.map((d) => (
                      <li key={d.name + d.digest}>
                        <strong>{d.name}</strong> {d.context && <span class="badge">{d.context}</span>}{' '}
                        <span class="mono hint">{d.digest}</span>
                        {d.versions.length === 0 ? (
                          <p class="hint">No dataset version on this server has this digest.</p>
                        ) : (
                          d.versions.map((dv) => (
                            <div key={dv.version_id} class="dataset-version">
                              <p>
                                {dv.dataset} v{dv.version}: {dv.file_count} file{dv.file_count === 1 ? '' : 's'}, {formatBytes(dv.size)}
                              </p>
                              <p class="mono hint wrap" title="version id">
                                {dv.version_id}
                              </p>
                              <ul class="files">
                                {dv.files.map((f) => (
                                  <li key={f.path} class="mono">
                                    {f.path} <span class="hint">{formatBytes(f.size)}</span>
                                  </li>
                                ))}
                                {dv.files_truncated && <li class="hint">…</li>}
                              </ul>
                            </div>
                          ))
                        )}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            </ol>
          </>
        )}
      </Async>
    </section>
  );
}

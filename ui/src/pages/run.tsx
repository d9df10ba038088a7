// One run: overview, params, metrics (charts by step or time), tags,
// artifacts and input datasets. ?x= and ?artifact= keep the view in the URL.
import { getExperiment, getRun, type Run } from '../api';
import { Async, Empty, useAsync } from '../components/async';
import { ArtifactBrowser } from '../components/artifacts';
import { MetricChart, XAxisToggle, type XAxis } from '../components/metric_charts';
import { formatDuration, formatNumber, formatTime } from '../format';
import { Link, href, setQuery, type Location } from '../router';

function KeyValues({ label, rows }: { label: string; rows: { key: string; value: string }[] }) {
  if (rows.length === 0) return <Empty>No {label.toLowerCase()}.</Empty>;
  return (
    <div class="table-wrap">
      <table class="data kv" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {[...rows]
            .sort((a, b) => a.key.localeCompare(b.key))
            .map((r) => (
              <tr key={r.key}>
                <th scope="row" class="mono">{r.key}</th>
                <td class="mono wrap">{r.value}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

function ExperimentLink({ id }: { id: string }) {
  const exp = useAsync((signal) => getExperiment(id, signal), [id]);
  return <Link href={`/experiments/${encodeURIComponent(id)}`}>{exp.data?.experiment.name ?? `Experiment ${id}`}</Link>;
}

function RunView({ run, loc }: { run: Run; loc: Location }) {
  const x = (loc.query.get('x') as XAxis) === 'time' ? 'time' : 'step';
  const artifact = loc.query.get('artifact') ?? undefined;
  const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const tags = (run.data.tags ?? []).filter((t) => !t.key.startsWith('mlflow.log-model.history'));
  const inputs = run.inputs?.dataset_inputs ?? [];
  const name = run.info.run_name || run.info.run_id;
  return (
    <>
      <p class="crumbs">
        <Link href="/experiments">Experiments</Link> / <ExperimentLink id={run.info.experiment_id} /> /
      </p>
      <h1>{name}</h1>
      <nav class="section-nav" aria-label="Run sections">
        {['Overview', 'Params', 'Metrics', 'Tags', 'Artifacts', 'Datasets'].map((s) => (
          <a key={s} href={`#${s.toLowerCase()}`}>
            {s}
          </a>
        ))}
        <Link href={href('/compare', { runs: run.info.run_id })}>Compare…</Link>
      </nav>

      <section id="overview" aria-labelledby="h-overview">
        <h2 id="h-overview">Overview</h2>
        <dl class="facts">
          <dt>Run ID</dt>
          <dd class="mono">{run.info.run_id}</dd>
          <dt>Status</dt>
          <dd>
            <span class={`badge status-${(run.info.status ?? '').toLowerCase()}`}>{run.info.status}</span>
          </dd>
          <dt>Started</dt>
          <dd>{formatTime(run.info.start_time)}</dd>
          <dt>Duration</dt>
          <dd>{formatDuration(run.info.start_time, run.info.end_time)}</dd>
          <dt>User</dt>
          <dd>{run.info.user_id || '—'}</dd>
          <dt>Artifact URI</dt>
          <dd class="mono wrap">{run.info.artifact_uri}</dd>
        </dl>
      </section>

      <section id="params" aria-labelledby="h-params">
        <h2 id="h-params">Params</h2>
        <KeyValues label="Params" rows={run.data.params ?? []} />
      </section>

      <section id="metrics" aria-labelledby="h-metrics">
        <h2 id="h-metrics">Metrics</h2>
        {metrics.length === 0 ? (
          <Empty>No metrics logged.</Empty>
        ) : (
          <>
            <KeyValues label="Latest metrics" rows={metrics.map((m) => ({ key: m.key, value: formatNumber(m.value) }))} />
            <XAxisToggle value={x} onChange={(v) => setQuery({ x: v === 'step' ? undefined : v }, { replace: true })} />
            <div class="charts">
              {metrics.map((m) => (
                <MetricChart key={m.key} metric={m.key} runs={[{ id: run.info.run_id, label: name }]} x={x} />
              ))}
            </div>
          </>
        )}
      </section>

      <section id="tags" aria-labelledby="h-tags">
        <h2 id="h-tags">Tags</h2>
        <KeyValues label="Tags" rows={tags} />
      </section>

      <section id="artifacts" aria-labelledby="h-artifacts">
        <h2 id="h-artifacts">Artifacts</h2>
        <ArtifactBrowser
          runId={run.info.run_id}
          selected={artifact ? { path: artifact } : undefined}
          onSelect={(f) => setQuery({ artifact: f.path }, { replace: true })}
        />
      </section>

      <section id="datasets" aria-labelledby="h-datasets">
        <h2 id="h-datasets">Input datasets</h2>
        {inputs.length === 0 ? (
          <Empty>No input datasets logged.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="data" aria-label="Input datasets">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Context</th>
                  <th scope="col">Source</th>
                </tr>
              </thead>
              <tbody>
                {inputs.map((d, i) => (
                  <tr key={i}>
                    <td>{d.dataset.name}</td>
                    <td class="mono">{d.dataset.digest}</td>
                    <td>{d.tags?.find((t) => t.key === 'mlflow.data.context')?.value ?? '—'}</td>
                    <td class="mono wrap">
                      {d.dataset.source_type ? `${d.dataset.source_type}: ` : ''}
                      {d.dataset.source}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

export function RunPage({ id, loc }: { id: string; loc: Location }) {
  const state = useAsync((signal) => getRun(id, signal), [id]);
  return (
    <section>
      <Async state={state} what="run">
        {(data) => <RunView run={data.run} loc={loc} />}
      </Async>
    </section>
  );
}

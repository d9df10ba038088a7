// Deployments: the list, and one deployment's routes and weights (with the
// version each route resolves to), shadow stats, and live request rate,
// latency and error charts from /metrics, polled every few seconds.
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  deploymentShadow,
  getDeployment,
  listDeployments,
  metricsText,
  type Deployment,
  type RouteSpec,
  type ShadowStats,
} from '../api';
import { Async, Empty, ErrorBox, useAsync, useInterval } from '../components/async';
import { LineChart, type Series } from '../components/chart';
import { SearchedList, nameMatches } from '../components/search';
import { formatNumber, formatTime } from '../format';
import { deploymentCounters, parsePrometheus, rates, type DeploymentCounters } from '../prometheus';
import { Link, type Location } from '../router';

export const POLL_MS = 5000;
const KEEP_POLLS = 120; // ten minutes of history at one poll every 5 s

export const deploymentHref = (name: string) => `/deployments/${encodeURIComponent(name)}`;
const versionHref = (model: string, v: string) => `/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(v)}`;

export function StateBadge({ state }: { state?: string }) {
  if (!state) return <span class="hint">—</span>;
  return <span class={`badge state-${state.toLowerCase()}`}>{state}</span>;
}

function routeRef(r: RouteSpec): string {
  return r.alias ? `${r.model_name}@${r.alias}` : `${r.model_name}/${r.version}`;
}

// The version a route answers with now (the alias resolved by the server).
function resolvedVersion(d: Deployment, r: RouteSpec): string | undefined {
  return d.status?.routes.find((s) => s.ref === routeRef(r) && s.role === r.role)?.version;
}

export function DeploymentsPage({ loc }: { loc: Location }) {
  const q = loc.query.get('q') ?? '';
  return (
    <section>
      <h1>Deployments</h1>
      <SearchedList
        q={q}
        searchId="deployment-search"
        searchLabel="Search deployments"
        what="deployments"
        load={async (_filter, _token, signal) => {
          const r = await listDeployments(signal);
          return { items: (r.deployments ?? []).filter((d) => nameMatches(q, d.name)) };
        }}
        empty="No deployments yet. Create one with the deployments API (or run mlforge demo)."
        label="Deployments"
        rowKey={(d) => d.name}
        columns={[
          { header: 'Name', cell: (d) => <Link href={deploymentHref(d.name)}>{d.name}</Link> },
          { header: 'State', cell: (d) => <StateBadge state={d.status?.state} /> },
          {
            header: 'Routes',
            class: 'mono wrap',
            cell: (d) =>
              d.routes.map((r) => {
                const v = resolvedVersion(d, r);
                return (
                  <div key={`${routeRef(r)}-${r.role}`}>
                    {routeRef(r)}
                    {r.alias && v ? ` (v${v})` : ''} {r.role === 'shadow' ? 'shadow' : `${formatNumber(r.weight)}`}
                  </div>
                );
              }),
          },
          { header: 'Revision', class: 'num', cell: (d) => d.revision },
          { header: 'Last update', cell: (d) => formatTime(d.last_updated_timestamp) },
        ]}
      />
    </section>
  );
}

// Polls /metrics; keeps the last polls of this deployment's counters.
function useLiveCounters(deployment: string) {
  const [state, setState] = useState<{ polls: DeploymentCounters[]; error?: Error }>({ polls: [] });
  const [tick, setTick] = useState(0);
  useInterval(() => setTick((t) => t + 1), POLL_MS);
  useEffect(() => {
    const ctl = new AbortController();
    metricsText(ctl.signal).then(
      (text) => {
        const c = deploymentCounters(parsePrometheus(text), deployment, Date.now());
        setState((s) => ({ polls: [...s.polls, c].slice(-KEEP_POLLS) }));
      },
      (e: Error) => e.name !== 'AbortError' && setState((s) => ({ ...s, error: e })),
    );
    return () => ctl.abort();
  }, [deployment, tick]);
  return state;
}

function RoutesTable({ d, served }: { d: Deployment; served?: DeploymentCounters }) {
  const total = d.routes.filter((r) => r.role !== 'shadow').reduce((n, r) => n + r.weight, 0);
  return (
    <div class="table-wrap">
      <table class="data" aria-label="Routes">
        <thead>
          <tr>
            <th scope="col">Route</th>
            <th scope="col">Role</th>
            <th scope="col">Weight</th>
            <th scope="col">Answered by</th>
            <th scope="col">Requests served</th>
          </tr>
        </thead>
        <tbody>
          {d.routes.map((r) => {
            const v = resolvedVersion(d, r);
            const n = v ? served?.requests.get(`${r.model_name}/${v}`) : undefined;
            return (
              <tr key={`${routeRef(r)}-${r.role}`} data-route={routeRef(r)}>
                <th scope="row" class="mono">
                  {r.alias ? (
                    <>
                      {r.model_name} <span class="badge alias">@{r.alias}</span>
                    </>
                  ) : (
                    routeRef(r)
                  )}
                </th>
                <td>
                  <span class="badge">{r.role}</span>
                </td>
                <td class="num">
                  {r.role === 'shadow' ? (
                    <span class="hint">mirrors all</span>
                  ) : (
                    <>
                      {formatNumber(r.weight)}
                      {total > 0 && <span class="hint"> ({formatNumber((100 * r.weight) / total)}%)</span>}
                    </>
                  )}
                </td>
                <td class="answered-by">
                  {v ? <Link href={versionHref(r.model_name, v)}>{`${r.model_name} version ${v}`}</Link> : <span class="hint">not loaded</span>}
                </td>
                <td class="num served">{n === undefined ? '—' : formatNumber(n)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function ShadowPanel({ name }: { name: string }) {
  const state = useAsync<ShadowStats>((signal) => deploymentShadow(name, signal), [name]);
  useInterval(state.reload, POLL_MS);
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (!state.data) return null;
  const s = state.data;
  return (
    <dl class="facts" aria-label="Shadow traffic">
      <dt>Mirrored</dt>
      <dd>{formatNumber(s.mirrored)}</dd>
      <dt>Dropped (queue full)</dt>
      <dd>{formatNumber(s.dropped)}</dd>
      <dt>Shadow errors</dt>
      <dd>{formatNumber(s.errors)}</dd>
    </dl>
  );
}

// Series from the rates between consecutive polls; recomputed (and the
// charts redrawn) only when a poll arrives.
function liveSeries(polls: DeploymentCounters[]) {
  const points = polls.slice(1).flatMap((cur, i) => {
    const r = rates(polls[i], cur);
    return r ? [r] : [];
  });
  if (points.length === 0) return undefined;
  const x = points.map((p) => p.time / 1000);
  const keys = [...new Set(points.flatMap((p) => [...p.requestsPerS.keys()]))].sort();
  const requests: Series[] = keys.map((k) => ({ label: k, x, y: points.map((p) => p.requestsPerS.get(k) ?? 0) }));
  const latency: Series[] = [
    { label: 'p50', x, y: points.map((p) => p.latencyP50Ms) },
    { label: 'p95', x, y: points.map((p) => p.latencyP95Ms) },
    { label: 'mean', x, y: points.map((p) => p.latencyMeanMs) },
  ];
  const errors: Series[] = [{ label: 'errors/s', x, y: points.map((p) => p.errorsPerS) }];
  return { requests, latency, errors };
}

function LiveCharts({ polls, error }: { polls: DeploymentCounters[]; error?: Error }) {
  const series = useMemo(() => liveSeries(polls), [polls]);
  if (error && polls.length === 0) return <ErrorBox error={error} />;
  if (!series) {
    return (
      <p class="state" role="status">
        Collecting: the first rates appear after two polls of <code>/metrics</code> ({POLL_MS / 1000} s apart).
      </p>
    );
  }
  const { requests: requestSeries, latency, errors } = series;
  return (
    <div class="charts">
      <figure class="metric-chart">
        <LineChart title="Requests per second" series={requestSeries} xLabel="time" time />
        <figcaption class="hint">by model version</figcaption>
      </figure>
      <figure class="metric-chart">
        <LineChart title="Latency (ms)" series={latency} xLabel="time" time />
        <figcaption class="hint">routing to prediction, queueing and batching included</figcaption>
      </figure>
      <figure class="metric-chart">
        <LineChart title="Errors per second" series={errors} xLabel="time" time />
        <figcaption class="hint">failed predictions and rejected requests</figcaption>
      </figure>
    </div>
  );
}

function DeploymentView({ d }: { d: Deployment }) {
  const live = useLiveCounters(d.name);
  const latest = live.polls.at(-1);
  const hasShadow = d.routes.some((r) => r.role === 'shadow');
  return (
    <>
      {d.description && <p>{d.description}</p>}
      <dl class="facts">
        <dt>State</dt>
        <dd>
          <StateBadge state={d.status?.state} />
          {d.status?.message && <span class="hint"> {d.status.message}</span>}
        </dd>
        <dt>Revision</dt>
        <dd>
          {d.revision}
          {d.status?.serving_revision !== undefined && d.status.serving_revision !== d.revision && (
            <span class="hint"> (serving revision {d.status.serving_revision})</span>
          )}
        </dd>
        <dt>Endpoint</dt>
        <dd class="mono wrap">POST /v2/models/{d.name}/infer</dd>
        <dt>Last update</dt>
        <dd>{formatTime(d.last_updated_timestamp)}</dd>
        <dt>Monitoring</dt>
        <dd>
          <Link href={`/monitoring/${encodeURIComponent(d.name)}`}>Drift, performance and alerts</Link>
        </dd>
      </dl>
      <h2>Routes</h2>
      <RoutesTable d={d} served={latest} />
      {hasShadow && (
        <>
          <h2>Shadow traffic</h2>
          <ShadowPanel name={d.name} />
        </>
      )}
      <h2>Live traffic</h2>
      <p class="hint">
        From <code>/metrics</code>, polled every {POLL_MS / 1000} s while this page is open.
      </p>
      <LiveCharts polls={live.polls} error={live.error} />
    </>
  );
}

export function DeploymentPage({ name }: { name: string }) {
  const state = useAsync((signal) => getDeployment(name, signal), [name]);
  // The status (and an alias move's new version) shows up without a reload.
  useInterval(state.reload, POLL_MS);
  return (
    <section>
      <p class="crumbs">
        <Link href="/deployments">Deployments</Link> /
      </p>
      <h1>{name}</h1>
      <Async state={state} what="deployment">
        {(data) => (data.deployment.routes.length === 0 ? <Empty>No routes.</Empty> : <DeploymentView d={data.deployment} />)}
      </Async>
    </section>
  );
}

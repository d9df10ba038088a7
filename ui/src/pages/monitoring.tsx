// Monitoring: the monitors (one per deployment) with the firing alerts, and
// per deployment drift over time, performance over time (when labels came
// in), the windows, one window's report (reference vs current per feature)
// and the deployment's alerts. ?window=<start ms> picks the report's window.
import {
  getMonitor,
  listAlerts,
  listMonitors,
  monitorReport,
  monitorResults,
  num,
  reportHtmlUrl,
  type Alert,
  type DriftReport,
  type MonitorConfig,
  type WindowResult,
} from '../api';
import { Async, Empty, useAsync, useInterval } from '../components/async';
import { LineChart, type Series } from '../components/chart';
import { Histogram } from '../components/histogram';
import { SearchedList, nameMatches } from '../components/search';
import { formatNumber, formatTime } from '../format';
import { Link, href, type Location } from '../router';

const RESULTS_LIMIT = 10000;
const REFRESH_MS = 15000;
const monitorHref = (deployment: string, window?: number) =>
  href(`/monitoring/${encodeURIComponent(deployment)}`, { window: window === undefined ? undefined : String(window) });

function referenceText(m: MonitorConfig): string {
  const r = m.reference;
  if (r.kind === 'model_version') return `training data of ${r.model_name} version ${r.version}`;
  if (r.kind === 'dataset') return `dataset version ${r.dataset_id ?? ''}`;
  return r.kind;
}

export function AlertsTable({ alerts, showDeployment }: { alerts: Alert[]; showDeployment: boolean }) {
  if (alerts.length === 0) return <Empty>No alerts.</Empty>;
  return (
    <div class="table-wrap">
      <table class="data" aria-label="Alerts">
        <thead>
          <tr>
            <th scope="col">State</th>
            <th scope="col">Rule</th>
            {showDeployment && <th scope="col">Deployment</th>}
            <th scope="col">Metric</th>
            <th scope="col">Value</th>
            <th scope="col">Condition</th>
            <th scope="col">First seen</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id} data-alert-state={a.state}>
              <td>
                <span class={`badge alert-${a.state}`}>{a.state}</span>
              </td>
              <td>{a.rule_name}</td>
              {showDeployment && (
                <td>
                  <Link href={monitorHref(a.deployment)}>{a.deployment}</Link>
                </td>
              )}
              <td class="mono">{a.metric}</td>
              <td class="num">{formatNumber(num(a.value))}</td>
              <td class="mono">
                {a.op} {formatNumber(a.threshold)}
              </td>
              <td>{formatTime(a.first_seen, true)}</td>
              <td>{a.state === 'resolved' ? `resolved ${formatTime(a.resolved_time, true)}` : formatTime(a.last_seen, true)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MonitoringPage({ loc }: { loc: Location }) {
  const q = loc.query.get('q') ?? '';
  const firing = useAsync((signal) => listAlerts({ state: 'firing' }, signal), []);
  useInterval(firing.reload, REFRESH_MS);
  return (
    <section>
      <h1>Monitoring</h1>
      <SearchedList
        q={q}
        searchId="monitor-search"
        searchLabel="Search monitored deployments"
        what="monitors"
        load={async (_filter, _token, signal) => {
          const r = await listMonitors(signal);
          return { items: (r.monitors ?? []).filter((m) => nameMatches(q, m.deployment)) };
        }}
        empty="No monitors yet. Create one for a deployment with the monitors API (or run mlforge demo)."
        label="Monitors"
        rowKey={(m) => m.deployment}
        columns={[
          {
            header: 'Deployment',
            cell: (m) => (
              <>
                <Link href={monitorHref(m.deployment)}>{m.deployment}</Link>
                {!m.enabled && <span class="badge">disabled</span>}
              </>
            ),
          },
          { header: 'Window', cell: (m) => `${formatNumber(m.window_seconds)} s` },
          { header: 'Reference', cell: (m) => referenceText(m) },
          { header: 'Method', cell: (m) => m.drift.method },
          {
            header: 'Firing alerts',
            class: 'num',
            cell: (m) => (firing.data ? (firing.data.alerts ?? []).filter((a) => a.deployment === m.deployment).length : '…'),
          },
        ]}
      />
      <h2>Firing alerts</h2>
      <Async state={firing} what="alerts">
        {(data) => <AlertsTable alerts={data.alerts ?? []} showDeployment />}
      </Async>
    </section>
  );
}

function DriftCharts({ results }: { results: WindowResult[] }) {
  const compared = results.filter((r) => r.compared);
  if (compared.length === 0) return <Empty>No window has been compared with the reference yet.</Empty>;
  const x = compared.map((r) => r.window_end / 1000);
  const share: Series[] = [{ label: 'drift share', x, y: compared.map((r) => num(r.drift_share)) }];
  const columns = [...new Set(compared.flatMap((r) => r.features.filter((f) => f.tested && f.role !== 'prediction').map((f) => f.column)))].sort();
  const scores: Series[] = columns.map((c) => ({
    label: c,
    x,
    y: compared.map((r) => num(r.features.find((f) => f.column === c)?.score)),
  }));
  const method = compared.at(-1)?.features.find((f) => f.tested)?.method;
  return (
    <div class="charts">
      <figure class="metric-chart">
        <LineChart title="Drift share" series={share} xLabel="window end" time />
        <figcaption class="hint">share of tested features that drifted, per window</figcaption>
      </figure>
      <figure class="metric-chart">
        <LineChart title="Drift score by feature" series={scores} xLabel="window end" time />
        <figcaption class="hint">{method ? `${method} score` : 'score'} of each feature against the reference</figcaption>
      </figure>
    </div>
  );
}

function PerformanceChart({ results }: { results: WindowResult[] }) {
  const labelled = results.filter((r) => r.labelled_rows > 0 && Object.keys(r.performance).length > 0);
  if (labelled.length === 0) return <Empty>No labels have arrived, so there is no performance to show.</Empty>;
  const x = labelled.map((r) => r.window_end / 1000);
  const names = [...new Set(labelled.flatMap((r) => Object.keys(r.performance)))].sort();
  const series: Series[] = names.map((n) => ({ label: n, x, y: labelled.map((r) => num(r.performance[n])) }));
  return (
    <div class="charts">
      <figure class="metric-chart">
        <LineChart title="Performance" series={series} xLabel="window end" time />
        <figcaption class="hint">from the labels joined to each window's predictions</figcaption>
      </figure>
    </div>
  );
}

function WindowsTable({ deployment, results, selected }: { deployment: string; results: WindowResult[]; selected?: number }) {
  const perf = [...new Set(results.flatMap((r) => Object.keys(r.performance)))].sort().slice(0, 3);
  return (
    <div class="table-wrap">
      <table class="data" aria-label="Windows">
        <thead>
          <tr>
            <th scope="col">Window</th>
            <th scope="col">Rows</th>
            <th scope="col">Drift share</th>
            <th scope="col">Drifted features</th>
            {perf.map((p) => (
              <th key={p} scope="col">
                {p}
              </th>
            ))}
            <th scope="col">Report</th>
          </tr>
        </thead>
        <tbody>
          {[...results].reverse().map((r) => (
            <tr key={r.window_start} data-window={r.window_start} aria-current={r.window_start === selected ? 'true' : undefined}>
              <td>
                {formatTime(r.window_start, true)} – {formatTime(r.window_end, true)}
              </td>
              <td class="num">{formatNumber(r.rows)}</td>
              <td class="num">
                {r.compared ? formatNumber(num(r.drift_share)) : '—'}
                {r.dataset_drift && <span class="badge drifted">dataset drift</span>}
              </td>
              <td class="drifted-features">{r.drifted_features.length ? r.drifted_features.join(', ') : r.compared ? 'none' : r.message || '—'}</td>
              {perf.map((p) => (
                <td key={p} class="num">
                  {formatNumber(num(r.performance[p]))}
                </td>
              ))}
              <td>
                {r.compared ? (
                  <Link href={monitorHref(deployment, r.window_start)}>
                    {r.window_start === selected ? 'Shown' : 'Show'}
                    <span class="sr-only"> report of the window from {formatTime(r.window_start, true)}</span>
                  </Link>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// (`ref` is Preact's own prop, hence reference/current spelled out.)
function Stat({ label, reference, current }: { label: string; reference: unknown; current: unknown }) {
  const f = (v: unknown) => (typeof v === 'number' ? formatNumber(v) : '—');
  return (
    <tr>
      <th scope="row">{label}</th>
      <td class="num">{f(reference)}</td>
      <td class="num">{f(current)}</td>
    </tr>
  );
}

function ReportView({ report }: { report: DriftReport }) {
  const columns = [...report.columns].sort((a, b) => Number(Boolean(b.drifted)) - Number(Boolean(a.drifted)) || a.column.localeCompare(b.column));
  return (
    <>
      <p>
        {report.summary.features_drifted} of {report.summary.features_tested} tested features drifted (share{' '}
        {formatNumber(num(report.summary.drift_share))}){report.summary.dataset_drift ? ': dataset drift.' : '.'} Reference{' '}
        {formatNumber(report.reference.rows)} rows, current {formatNumber(report.current.rows)} rows.
      </p>
      {report.quality.length > 0 && (
        <ul class="compact" aria-label="Data quality findings">
          {report.quality.map((q, i) => (
            <li key={i}>
              {q.column && <span class="mono">{q.column}: </span>}
              {q.message}
            </li>
          ))}
        </ul>
      )}
      <div class="features">
        {columns.map((c) => (
          <div key={c.column} class="feature-card" role="group" aria-labelledby={`feature-${c.column}`} data-feature={c.column}>
            <h3 id={`feature-${c.column}`}>
              <span class="mono">{c.column}</span>{' '}
              {c.tested ? (
                <span class={`badge ${c.drifted ? 'drifted' : 'stable'}`}>{c.drifted ? 'drifted' : 'no drift'}</span>
              ) : (
                <span class="badge">not tested</span>
              )}
              {c.role && c.role !== 'feature' && <span class="badge">{c.role}</span>}
            </h3>
            {c.tested && (
              <p class="hint">
                {c.method} score {formatNumber(num(c.score))} (threshold {formatNumber(num(c.threshold))})
                {typeof c.p_value === 'number' && `, p-value ${formatNumber(c.p_value)}`}
              </p>
            )}
            {c.chart && <Histogram column={c.column} chart={c.chart} />}
            <table class="data compact-table" aria-label={`${c.column} summary`}>
              <thead>
                <tr>
                  <th scope="col">
                    <span class="sr-only">Statistic</span>
                  </th>
                  <th scope="col">reference</th>
                  <th scope="col">current</th>
                </tr>
              </thead>
              <tbody>
                <Stat label="count" reference={c.reference.count} current={c.current.count} />
                <Stat label="missing rate" reference={c.reference.missing_rate} current={c.current.missing_rate} />
                {c.kind === 'numeric' ? (
                  <>
                    <Stat label="mean" reference={c.reference.mean} current={c.current.mean} />
                    <Stat label="median" reference={c.reference.median} current={c.current.median} />
                    <Stat label="min" reference={c.reference.min} current={c.current.min} />
                    <Stat label="max" reference={c.reference.max} current={c.current.max} />
                  </>
                ) : (
                  <Stat label="categories" reference={c.reference.unique} current={c.current.unique} />
                )}
              </tbody>
            </table>
          </div>
        ))}
      </div>
    </>
  );
}

function WindowReport({ deployment, start }: { deployment: string; start: number }) {
  const state = useAsync((signal) => monitorReport(deployment, start, signal), [deployment, start]);
  return (
    <>
      <p class="hint">
        Window from {formatTime(start, true)} ·{' '}
        <a href={reportHtmlUrl(deployment, start)} target="_blank" rel="noopener">
          HTML report
        </a>
      </p>
      <Async state={state} what="drift report">
        {(report) => <ReportView report={report} />}
      </Async>
    </>
  );
}

export function MonitorPage({ deployment, loc }: { deployment: string; loc: Location }) {
  const state = useAsync(
    async (signal) => {
      const [m, results, alerts] = await Promise.all([
        getMonitor(deployment, signal),
        monitorResults(deployment, RESULTS_LIMIT, signal),
        listAlerts({ deployment }, signal),
      ]);
      return { monitor: m.monitor, results, alerts: alerts.alerts ?? [] };
    },
    [deployment],
  );
  useInterval(state.reload, REFRESH_MS);
  const asked = Number(loc.query.get('window'));
  return (
    <section>
      <p class="crumbs">
        <Link href="/monitoring">Monitoring</Link> /
      </p>
      <h1>{deployment}</h1>
      <Async state={state} what="monitor">
        {({ monitor, results, alerts }) => {
          const compared = results.filter((r) => r.compared);
          const shown = compared.find((r) => r.window_start === asked)?.window_start ?? compared.at(-1)?.window_start;
          return (
            <>
              <dl class="facts">
                <dt>Deployment</dt>
                <dd>
                  <Link href={`/deployments/${encodeURIComponent(deployment)}`}>{deployment}</Link>
                </dd>
                <dt>Reference</dt>
                <dd>{referenceText(monitor)}</dd>
                <dt>Windows</dt>
                <dd>
                  {formatNumber(monitor.window_seconds)} s; {results.length} stored
                </dd>
                <dt>Drift test</dt>
                <dd>
                  {monitor.drift.method}, dataset drift when a share {'>='} {formatNumber(monitor.drift.drift_share)} of features drift
                </dd>
              </dl>
              <h2>Alerts</h2>
              <AlertsTable alerts={alerts} showDeployment={false} />
              <h2>Drift over time</h2>
              <DriftCharts results={results} />
              <h2>Performance over time</h2>
              <PerformanceChart results={results} />
              <h2>Windows</h2>
              {results.length === 0 ? <Empty>No window has closed yet.</Empty> : <WindowsTable deployment={deployment} results={results} selected={shown} />}
              <h2>Reference vs current</h2>
              {shown === undefined ? <Empty>No compared window yet.</Empty> : <WindowReport key={shown} deployment={deployment} start={shown} />}
            </>
          );
        }}
      </Async>
    </section>
  );
}

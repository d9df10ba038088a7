// Compare runs: a params/metrics table across runs, overlaid metric charts,
// and a params-vs-metrics scatter plot. ?runs=a,b,c is the deep link.
import { getRun, type Run } from '../api';
import { Async, Empty, useAsync } from '../components/async';
import { ScatterChart } from '../components/chart';
import { MetricChart, XAxisToggle, type XAxis } from '../components/metric_charts';
import { formatNumber } from '../format';
import { Link, setQuery, type Location } from '../router';

const MAX_RUNS = 20;

function union(runs: Run[], pick: (r: Run) => { key: string }[] | undefined): string[] {
  const s = new Set<string>();
  runs.forEach((r) => pick(r)?.forEach((x) => s.add(x.key)));
  return [...s].sort();
}

function Scatter({ runs, params, metrics, loc }: { runs: Run[]; params: string[]; metrics: string[]; loc: Location }) {
  if (params.length === 0 || metrics.length === 0) return <Empty>A scatter plot needs runs with params and metrics.</Empty>;
  const px = params.includes(loc.query.get('px') ?? '') ? loc.query.get('px')! : params[0];
  const my = metrics.includes(loc.query.get('my') ?? '') ? loc.query.get('my')! : metrics[0];
  const rows = runs
    .map((r) => ({
      label: r.info.run_name || r.info.run_id,
      p: r.data.params?.find((x) => x.key === px)?.value,
      m: r.data.metrics?.find((x) => x.key === my)?.value,
    }))
    .filter((r) => r.p !== undefined && r.m !== undefined);
  const numeric = rows.every((r) => r.p!.trim() !== '' && !Number.isNaN(Number(r.p)));
  const categories = numeric ? undefined : [...new Set(rows.map((r) => r.p!))].sort();
  const points = rows.map((r) => ({ x: numeric ? Number(r.p) : categories!.indexOf(r.p!), y: Number(r.m), label: r.label }));
  return (
    <>
      <div class="toolbar">
        <label for="scatter-x">Param (x)</label>
        <select id="scatter-x" value={px} onChange={(e) => setQuery({ px: (e.target as HTMLSelectElement).value }, { replace: true })}>
          {params.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <label for="scatter-y">Metric (y)</label>
        <select id="scatter-y" value={my} onChange={(e) => setQuery({ my: (e.target as HTMLSelectElement).value }, { replace: true })}>
          {metrics.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </div>
      {points.length === 0 ? (
        <Empty>
          No run has both {px} and {my}.
        </Empty>
      ) : (
        <ScatterChart title={`${my} vs ${px}`} points={points} xLabel={px} yLabel={my} categories={categories} />
      )}
    </>
  );
}

function CompareView({ runs, loc }: { runs: Run[]; loc: Location }) {
  const x = (loc.query.get('x') as XAxis) === 'time' ? 'time' : 'step';
  const params = union(runs, (r) => r.data.params);
  const metrics = union(runs, (r) => r.data.metrics);
  const label = (r: Run) => r.info.run_name || r.info.run_id;
  const differs = (key: string) => new Set(runs.map((r) => r.data.params?.find((p) => p.key === key)?.value)).size > 1;
  return (
    <>
      <div class="table-wrap">
        <table class="data compare" aria-label="Compared runs">
          <thead>
            <tr>
              <th scope="col">Key</th>
              {runs.map((r) => (
                <th scope="col" key={r.info.run_id}>
                  <Link href={`/runs/${encodeURIComponent(r.info.run_id)}`}>{label(r)}</Link>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {params.map((k) => (
              <tr key={`p-${k}`} class={differs(k) ? 'differs' : ''}>
                <th scope="row">
                  <span class="kind-params">param</span> {k}
                </th>
                {runs.map((r) => (
                  <td key={r.info.run_id} class="mono">
                    {r.data.params?.find((p) => p.key === k)?.value ?? ''}
                  </td>
                ))}
              </tr>
            ))}
            {metrics.map((k) => (
              <tr key={`m-${k}`}>
                <th scope="row">
                  <span class="kind-metrics">metric</span> {k}
                </th>
                {runs.map((r) => (
                  <td key={r.info.run_id} class="num">
                    {formatNumber(r.data.metrics?.find((m) => m.key === k)?.value)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Metrics</h2>
      {metrics.length === 0 ? (
        <Empty>None of these runs logged metrics.</Empty>
      ) : (
        <>
          <XAxisToggle value={x} onChange={(v) => setQuery({ x: v === 'step' ? undefined : v }, { replace: true })} />
          <div class="charts">
            {metrics.map((m) => (
              <MetricChart
                key={m}
                metric={m}
                x={x}
                runs={runs.filter((r) => r.data.metrics?.some((x) => x.key === m)).map((r) => ({ id: r.info.run_id, label: label(r) }))}
              />
            ))}
          </div>
        </>
      )}

      <h2>Params vs metrics</h2>
      <Scatter runs={runs} params={params} metrics={metrics} loc={loc} />
    </>
  );
}

export function ComparePage({ loc }: { loc: Location }) {
  const ids = [...new Set((loc.query.get('runs') ?? '').split(',').map((s) => s.trim()).filter(Boolean))].slice(0, MAX_RUNS);
  const state = useAsync((signal) => Promise.all(ids.map((id) => getRun(id, signal).then((r) => r.run))), [ids.join(',')]);
  return (
    <section>
      <h1>Compare runs</h1>
      {ids.length === 0 ? (
        <Empty>
          No runs chosen. Select runs in an <Link href="/experiments">experiment's runs table</Link> and press Compare.
        </Empty>
      ) : (
        <Async state={state} what="runs">
          {(runs) => <CompareView runs={runs} loc={loc} />}
        </Async>
      )}
    </section>
  );
}

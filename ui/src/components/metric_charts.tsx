// Metric histories as uPlot charts, by step or by wall-clock time; one chart
// per metric, one series per run (so the compare view overlays runs).
import { getMetricHistory, type Metric } from '../api';
import { ErrorBox, Loading, useAsync } from './async';
import { LineChart, type Series } from './chart';

export type XAxis = 'step' | 'time';

function toSeries(label: string, history: Metric[], x: XAxis): Series {
  const pts = history
    .map((m) => ({ x: x === 'step' ? Number(m.step) : Number(m.timestamp) / 1000, y: Number(m.value) }))
    .sort((a, b) => a.x - b.x);
  return { label, x: pts.map((p) => p.x), y: pts.map((p) => p.y) };
}

export function MetricChart({ metric, runs, x }: { metric: string; runs: { id: string; label: string }[]; x: XAxis }) {
  const state = useAsync(
    (signal) => Promise.all(runs.map((r) => getMetricHistory(r.id, metric, signal))),
    [metric, runs.map((r) => r.id).join(',')],
  );
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading what={`${metric} history`} />;
  const series = state.data
    .map((h, i) => toSeries(runs[i].label, h, x))
    .filter((s) => s.x.length > 0);
  const points = series.reduce((n, s) => n + s.x.length, 0);
  return (
    <figure class="metric-chart">
      <LineChart title={metric} series={series} xLabel={x === 'step' ? 'step' : 'time'} time={x === 'time'} />
      <figcaption class="hint">
        {points.toLocaleString()} point{points === 1 ? '' : 's'}
      </figcaption>
    </figure>
  );
}

export function XAxisToggle({ value, onChange }: { value: XAxis; onChange: (x: XAxis) => void }) {
  return (
    <div class="segmented" role="group" aria-label="X axis">
      {(['step', 'time'] as XAxis[]).map((v) => (
        <button key={v} type="button" aria-pressed={value === v} onClick={() => onChange(v)}>
          By {v}
        </button>
      ))}
    </div>
  );
}

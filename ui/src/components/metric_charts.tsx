// Metric histories as uPlot charts, by step or by wall-clock time; one chart
// per metric, one series per run (so the compare view overlays runs).
import { useMemo, useState } from 'preact/hooks';
import { getMetricHistory, type Metric } from '../api';
import { ErrorBox, Loading, useAsync } from './async';
import { LineChart, type Series } from './chart';

export type XAxis = 'step' | 'time';

// Columns in typed arrays, sorted by x: one pass, no object per point. The
// server sends steps in order, so the sort only runs for times out of order.
// Values the server could not write as numbers ("NaN") become NaN gaps.
function toSeries(label: string, history: Metric[], axis: XAxis): Series {
  const n = history.length;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const m = history[i];
    x[i] = axis === 'step' ? Number(m.step) : Number(m.timestamp) / 1000;
    y[i] = Number(m.value);
    if (i > 0 && x[i] < x[i - 1]) sorted = false;
  }
  if (sorted) return { label, x, y };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  return { label, x: Float64Array.from(order, (i) => x[i]), y: Float64Array.from(order, (i) => y[i]) };
}

export function MetricChart({ metric, runs, x }: { metric: string; runs: { id: string; label: string }[]; x: XAxis }) {
  const state = useAsync(
    (signal) => Promise.all(runs.map((r) => getMetricHistory(r.id, metric, signal))),
    [metric, runs.map((r) => r.id).join(',')],
  );
  const [sampled, setSampled] = useState(false);
  // Memoised: a new series array would rebuild the chart.
  const series = useMemo(
    () => (state.data ?? []).map((h, i) => toSeries(runs[i].label, h, x)).filter((s) => s.x.length > 0),
    [state.data, x],
  );
  if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
  if (!state.data) return <Loading what={`${metric} history`} />;
  const points = series.reduce((n, s) => n + s.x.length, 0);
  return (
    <figure class="metric-chart" data-points={points}>
      <LineChart
        title={metric}
        series={series}
        xLabel={x === 'step' ? 'step' : 'time'}
        time={x === 'time'}
        onSampled={setSampled}
      />
      <figcaption class="hint">
        {points.toLocaleString()} point{points === 1 ? '' : 's'}
        {sampled && ' · drawn as the min and max of each pixel column (spikes kept); drag to zoom for every point'}
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

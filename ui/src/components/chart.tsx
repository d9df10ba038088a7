// uPlot charts: line charts that stay fast on 100,000-point series, and a
// scatter plot. Width follows the container (1280 px desktop to phone).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
export const color = (i: number) => COLORS[i % COLORS.length];

// uPlot's default labels round to 3 decimals, so a narrow range (0.8990..0.9000)
// shows repeated labels; 6 significant digits keep them distinct.
const tickValues = (_u: uPlot, ticks: number[]) => ticks.map((t) => String(Number(t.toPrecision(6))));

export interface Series {
  label: string;
  x: number[]; // sorted ascending
  y: number[];
}

function useUplot(build: (width: number) => { opts: uPlot.Options; data: uPlot.AlignedData } | null, deps: unknown[]) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const width = () => Math.max(240, el.clientWidth);
    const built = build(width());
    if (!built) return;
    const plot = new uPlot(built.opts, built.data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: built.opts.height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return ref;
}

// Several series on one x axis (steps, or times in seconds), joined by x.
export function LineChart({ title, series, xLabel, time }: { title: string; series: Series[]; xLabel: string; time: boolean }) {
  const ref = useUplot(
    (width) => {
      if (series.length === 0) return null;
      // NaN (no data in an interval) becomes a gap, not a broken scale.
      const data = uPlot.join(
        series.map((s) => [s.x, s.y.map((v) => (Number.isFinite(v) ? v : null))] as uPlot.AlignedData),
      ) as uPlot.AlignedData;
      const opts: uPlot.Options = {
        title,
        width,
        height: 260,
        scales: { x: { time } },
        axes: [{ label: xLabel }, { values: tickValues }],
        series: [
          { label: xLabel },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: color(i),
            width: 1.5,
            spanGaps: true,
            points: { show: s.x.length < 60 },
          })),
        ],
        cursor: { drag: { x: true, y: false } },
      };
      return { opts, data };
    },
    [series, xLabel, time, title],
  );
  return <div class="chart" ref={ref} role="img" aria-label={`${title} by ${xLabel}`} data-chart={title} />;
}

// Points (x, y) with a label each; category x values get ticks by name.
export function ScatterChart({
  title,
  points,
  xLabel,
  yLabel,
  categories,
}: {
  title: string;
  points: { x: number; y: number; label: string }[];
  xLabel: string;
  yLabel: string;
  categories?: string[];
}) {
  const ref = useUplot(
    (width) => {
      if (points.length === 0) return null;
      const sorted = [...points].sort((a, b) => a.x - b.x);
      const opts: uPlot.Options = {
        title,
        width,
        height: 300,
        scales: { x: { time: false } },
        axes: [
          {
            label: xLabel,
            values: categories ? (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? categories[t] ?? '' : '')) : tickValues,
            incrs: categories ? [1] : undefined,
          },
          { label: yLabel, values: tickValues },
        ],
        series: [
          { label: xLabel, value: categories ? (_u, v) => (v == null ? '' : categories[v] ?? String(v)) : undefined },
          { label: yLabel, stroke: color(0), fill: color(0), paths: () => null, points: { show: true, size: 9 } },
        ],
        legend: { show: true },
      };
      return { opts, data: [sorted.map((p) => p.x), sorted.map((p) => p.y)] };
    },
    [points, xLabel, yLabel, title, categories],
  );
  return <div class="chart" ref={ref} role="img" aria-label={title} data-chart={title} />;
}

// uPlot charts: line charts that stay fast on 100,000-point series (drawn
// as min/max per pixel bucket, re-bucketed on zoom), and a scatter plot.
// Width follows the container (1280 px desktop to phone).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { TIME_TICK_INCREMENTS, timeTickLabels } from '../format';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
export const color = (i: number) => COLORS[i % COLORS.length];

// uPlot's default labels round to 3 decimals, so a narrow range (0.8990..0.9000)
// shows repeated labels; 6 significant digits keep them distinct.
const tickValues = (_u: uPlot, ticks: number[]) => ticks.map((t) => String(Number(t.toPrecision(6))));

// A y axis as wide as its longest label: uPlot's fixed default cut the
// minus sign off labels such as "-0.025" on narrow charts.
function fittedSize(u: uPlot, values: string[], axisIdx: number, cycleNum: number): number {
  // uPlot keeps the resolved font as [css, px] and the last size as _size.
  const axis = u.axes[axisIdx] as uPlot.Axis & { font?: unknown; _size?: number };
  if (cycleNum > 1 && axis._size) return axis._size; // settled: no relayout loop
  const longest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), '');
  if (Array.isArray(axis.font)) u.ctx.font = String(axis.font[0]);
  const text = longest ? u.ctx.measureText(longest).width / devicePixelRatio : 0;
  return Math.ceil((axis.ticks?.size ?? 10) + (axis.gap ?? 5) + text + 4);
}
const yAxis = (label?: string): uPlot.Axis => ({ label, values: tickValues, size: fittedSize });

export interface Series {
  label: string;
  x: ArrayLike<number>; // sorted ascending
  y: ArrayLike<number>; // NaN: no value (a gap)
}

// Long series are drawn as min/max per pixel-wide bucket of x: a line
// through 100,000 points is no sharper than that on a 1,200 px chart, and
// keeping each bucket's extremes keeps spikes. The full series stays in
// memory: a zoom re-buckets the visible range, down to every point.
const BUCKET_FACTOR = 1; // buckets per CSS pixel of plot width

// The first index whose x is >= v (> v when after).
function bound(x: ArrayLike<number>, v: number, after = false): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x[mid] < v || (after && x[mid] === v)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The points of s within [lo, hi] (one more either side, so the line runs
// to the edges), or their min and max per bucket when there are more than
// two per bucket. Non-finite y become null (gaps). The series' first and
// last points are always in, so uPlot's zoom reset still spans all of it.
function viewOf(s: Series, lo: number, hi: number, buckets: number): { x: number[]; y: (number | null)[]; sampled: boolean } {
  const n = s.x.length;
  const from = Math.max(0, bound(s.x, lo) - 1);
  const to = Math.min(n, bound(s.x, hi, true) + 1);
  const x: number[] = [];
  const y: (number | null)[] = [];
  const fin = (v: number) => (Number.isFinite(v) ? v : null);
  if (from > 0) {
    x.push(s.x[0]);
    y.push(fin(s.y[0]));
  }
  const close = () => {
    if (to < n) {
      x.push(s.x[n - 1]);
      y.push(fin(s.y[n - 1]));
    }
  };
  if (to - from <= 2 * buckets) {
    for (let i = from; i < to; i++) {
      x.push(s.x[i]);
      y.push(fin(s.y[i]));
    }
    close();
    return { x, y, sampled: false };
  }
  const x0 = s.x[from];
  const width = (s.x[to - 1] - x0) / buckets || 1;
  // The range's first and last points too, so the line spans the whole range.
  let last = -1;
  const add = (j: number) => {
    if (j <= last) return;
    x.push(s.x[j]);
    y.push(fin(s.y[j]));
    last = j;
  };
  add(from);
  let i = from;
  while (i < to) {
    const b = Math.min(buckets - 1, Math.floor((s.x[i] - x0) / width));
    const end = Math.max(i + 1, b === buckets - 1 ? to : Math.min(to, bound(s.x, x0 + (b + 1) * width)));
    let iMin = -1;
    let iMax = -1;
    for (let j = i; j < end; j++) {
      const v = s.y[j];
      if (!Number.isFinite(v)) continue;
      if (iMin < 0 || v < s.y[iMin]) iMin = j;
      if (iMax < 0 || v > s.y[iMax]) iMax = j;
    }
    if (iMin < 0) {
      add(i); // a bucket with no values: its null makes a gap
    } else {
      // In x order, so the line goes through both extremes.
      add(Math.min(iMin, iMax));
      add(Math.max(iMin, iMax));
    }
    i = end;
  }
  add(to - 1);
  close();
  return { x, y, sampled: true };
}

function alignedData(series: Series[], lo: number, hi: number, buckets: number): { data: uPlot.AlignedData; sampled: boolean } {
  const views = series.map((s) => viewOf(s, lo, hi, buckets));
  const sampled = views.some((v) => v.sampled);
  // One series needs no join (the run page); several are joined by x (compare).
  const data = (views.length === 1
    ? [views[0].x, views[0].y]
    : uPlot.join(views.map((v) => [v.x, v.y] as uPlot.AlignedData))) as uPlot.AlignedData;
  return { data, sampled };
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
    el.setAttribute('data-drawn-points', String(built.data[0].length)); // x values drawn (after bucketing)
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
// onSampled tells whether what is drawn is bucketed (for a caption).
export function LineChart({
  title,
  series,
  xLabel,
  time,
  onSampled,
}: {
  title: string;
  series: Series[];
  xLabel: string;
  time: boolean;
  onSampled?: (sampled: boolean) => void;
}) {
  const ref = useUplot(
    (width) => {
      if (series.length === 0) return null;
      let lo = Infinity;
      let hi = -Infinity;
      for (const s of series) {
        if (s.x.length === 0) continue;
        lo = Math.min(lo, s.x[0]);
        hi = Math.max(hi, s.x[s.x.length - 1]);
      }
      const buckets = Math.max(64, Math.round(width * BUCKET_FACTOR));
      const full = alignedData(series, lo, hi, buckets);
      onSampled?.(full.sampled);
      let shown = { lo, hi };
      const total = series.reduce((n, s) => n + s.x.length, 0);
      const opts: uPlot.Options = {
        title,
        width,
        height: 260,
        scales: { x: { time } },
        axes: [
          time
            ? {
                label: xLabel,
                values: (_u, ticks, _a, _s, incr) => timeTickLabels(ticks, incr),
                incrs: TIME_TICK_INCREMENTS,
                space: 80, // px between ticks: room for "HH:MM:SS"
                size: 56, // room for a second line with the date
              }
            : { label: xLabel },
          yAxis(),
        ],
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
        hooks: {
          // A zoom (or its reset) re-buckets the visible range from the full
          // series. Out of the hook, and in one batch: setData then the zoom
          // again, so uPlot recomputes its visible index window for the new data.
          setScale: [
            (u, key) => {
              if (key !== 'x' || total <= 2 * buckets) return;
              const min = u.scales.x.min ?? lo;
              const max = u.scales.x.max ?? hi;
              const whole = min <= lo && max >= hi;
              const want = whole ? { lo, hi } : { lo: min, hi: max };
              if (want.lo === shown.lo && want.hi === shown.hi) return;
              shown = want;
              const next = whole ? full : alignedData(series, min, max, buckets);
              queueMicrotask(() => {
                onSampled?.(next.sampled);
                u.root.parentElement?.setAttribute('data-drawn-points', String(next.data[0].length));
                u.batch(() => {
                  u.setData(next.data);
                  if (!whole) u.setScale('x', { min, max });
                });
              });
            },
          ],
        },
      };
      return { opts, data: full.data };
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
          yAxis(yLabel),
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

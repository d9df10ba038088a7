// Reference vs current distribution of one feature, as the drift report's
// chart data gives it: shares per equal-width bin (numeric) or per category.
// Plain SVG bars; the numbers are in the title of each bar and a caption.
import { num, type Num } from '../api';
import { formatNumber } from '../format';

const W = 600;
const H = 160;

export function Histogram({
  column,
  chart,
}: {
  column: string;
  chart: { edges?: Num[]; labels?: string[]; reference: Num[]; current: Num[] };
}) {
  const ref = chart.reference.map(num);
  const cur = chart.current.map(num);
  const n = Math.max(ref.length, cur.length);
  if (n === 0) return null;
  const max = Math.max(1e-12, ...ref.filter(Number.isFinite), ...cur.filter(Number.isFinite));
  const w = W / n;
  const edges = chart.edges?.map(num);
  const binName = (i: number) =>
    chart.labels ? chart.labels[i] ?? '' : edges ? `${formatNumber(edges[i])} to ${formatNumber(edges[i + 1])}` : String(i);
  const bar = (v: number, i: number, side: 0 | 1) => {
    const h = Number.isFinite(v) ? (v / max) * (H - 4) : 0;
    return (
      <rect key={`${side}-${i}`} class={side ? 'bar-current' : 'bar-reference'} x={i * w + side * w * 0.45 + w * 0.05} y={H - h} width={w * 0.45} height={h}>
        <title>{`${side ? 'current' : 'reference'} ${binName(i)}: ${formatNumber(v * 100)}%`}</title>
      </rect>
    );
  };
  return (
    <figure class="histogram" data-histogram={column}>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${column}: reference and current distribution`}>
        {ref.map((v, i) => bar(v, i, 0))}
        {cur.map((v, i) => bar(v, i, 1))}
        <line x1="0" y1={H} x2={W} y2={H} class="axis" />
      </svg>
      <figcaption class="hint">
        <span class="swatch bar-reference" aria-hidden="true" /> reference <span class="swatch bar-current" aria-hidden="true" /> current
        {chart.labels
          ? ` · ${chart.labels.length} categories`
          : edges && edges.length > 1
            ? ` · ${formatNumber(edges[0])} to ${formatNumber(edges[edges.length - 1])}`
            : ''}
      </figcaption>
    </figure>
  );
}

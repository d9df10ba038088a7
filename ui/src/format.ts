// Seconds for things that can be seconds apart (monitoring windows, alerts).
export function formatTime(ms?: number, seconds = false): string {
  if (!ms) return '—';
  const d = new Date(Number(ms));
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: seconds ? 'medium' : 'short' });
}

export function formatDuration(start?: number, end?: number): string {
  if (!start || !end) return '—';
  const s = Math.max(0, (Number(end) - Number(start)) / 1000);
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function formatNumber(v?: number): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '—';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

export function formatBytes(n?: number): string {
  if (n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function shortId(id: string, n = 8): string {
  return id.length > n ? id.slice(0, n) : id;
}

// Time-axis ticks (uPlot: seconds since the epoch, local time). The label
// follows the tick spacing: HH:MM:SS for ticks seconds apart (with the
// fraction only when they are less than a second apart), HH:MM for minutes
// and hours, dates for days and more. A date is added on a second line at
// the first tick and where the day changes, so hours stay placed.
export const TIME_TICK_INCREMENTS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400,
  14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400, 2 * 365 * 86400, 5 * 365 * 86400, 10 * 365 * 86400,
];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

export function timeTickLabels(ticks: number[], increment: number): string[] {
  let prevDay = '';
  let prevYear = '';
  return ticks.map((t) => {
    const d = new Date(Math.round(t * 1000));
    const day = `${MONTHS[d.getMonth()]} ${d.getDate()}`;
    const year = String(d.getFullYear());
    const newYear = year !== prevYear;
    prevYear = year;
    if (increment >= 28 * 86400) return `${MONTHS[d.getMonth()]} ${year}`;
    if (increment >= 86400) return newYear ? `${day}\n${year}` : day;
    let clock = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    if (increment < 60) clock += `:${pad2(d.getSeconds())}`;
    if (increment < 1) {
      const digits = increment >= 0.1 ? 1 : increment >= 0.01 ? 2 : 3;
      clock += `.${String(d.getMilliseconds()).padStart(3, '0').slice(0, digits)}`;
    }
    const newDay = day !== prevDay;
    prevDay = day;
    return newDay ? `${clock}\n${day}` : clock;
  });
}

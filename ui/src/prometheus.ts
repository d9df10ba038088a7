// The Prometheus text format of /metrics, read for one deployment's
// mlforge_serving_* series; rates and latency quantiles come from the
// difference between two polls (counters only grow, unless the server restarted).

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseValue(s: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(s);
}

// One sample per line: name{k="v",...} value [timestamp]; comments skipped.
export function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0 || line[eq + 1] !== '"') return out; // malformed: keep what was read
        const key = line.slice(i, eq).trim();
        let j = eq + 2;
        let value = '';
        while (j < line.length && line[j] !== '"') {
          if (line[j] === '\\' && j + 1 < line.length) {
            const c = line[j + 1];
            value += c === 'n' ? '\n' : c;
            j += 2;
          } else {
            value += line[j++];
          }
        }
        labels[key] = value;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      i++;
    }
    const value = parseValue(line.slice(i).trim().split(/\s+/)[0] ?? '');
    if (name) out.push({ name, labels, value });
  }
  return out;
}

// What one poll of /metrics says about one deployment, by served version
// ("model/version").
export interface DeploymentCounters {
  time: number; // ms
  requests: Map<string, number>;
  modelErrors: number;
  requestErrors: number;
  latencySum: number;
  latencyCount: number;
  buckets: Map<number, number>; // le (seconds) -> cumulative count, summed over versions
}

export function deploymentCounters(samples: PromSample[], deployment: string, time: number): DeploymentCounters {
  const c: DeploymentCounters = {
    time,
    requests: new Map(),
    modelErrors: 0,
    requestErrors: 0,
    latencySum: 0,
    latencyCount: 0,
    buckets: new Map(),
  };
  for (const s of samples) {
    if (s.labels.deployment !== deployment || !s.name.startsWith('mlforge_serving_')) continue;
    const key = `${s.labels.model}/${s.labels.version}`;
    switch (s.name) {
      case 'mlforge_serving_requests_total':
        c.requests.set(key, (c.requests.get(key) ?? 0) + s.value);
        break;
      case 'mlforge_serving_model_errors_total':
        c.modelErrors += s.value;
        break;
      case 'mlforge_serving_request_errors_total':
        c.requestErrors += s.value;
        break;
      case 'mlforge_serving_request_duration_seconds_sum':
        c.latencySum += s.value;
        break;
      case 'mlforge_serving_request_duration_seconds_count':
        c.latencyCount += s.value;
        break;
      case 'mlforge_serving_request_duration_seconds_bucket': {
        const le = parseValue(s.labels.le ?? '');
        if (!Number.isNaN(le)) c.buckets.set(le, (c.buckets.get(le) ?? 0) + s.value);
        break;
      }
    }
  }
  return c;
}

// The q-quantile of the requests observed between two polls, interpolated
// inside its bucket like Prometheus' histogram_quantile.
function quantile(q: number, prev: Map<number, number>, cur: Map<number, number>): number {
  const les = [...cur.keys()].sort((a, b) => a - b);
  const total = (cur.get(Number.POSITIVE_INFINITY) ?? 0) - (prev.get(Number.POSITIVE_INFINITY) ?? 0);
  if (!(total > 0)) return Number.NaN;
  const target = q * total;
  let lower = 0;
  let below = 0;
  for (const le of les) {
    const n = (cur.get(le) ?? 0) - (prev.get(le) ?? 0);
    if (n >= target) {
      if (!Number.isFinite(le)) return lower;
      return lower + ((le - lower) * (target - below)) / Math.max(n - below, 1e-12);
    }
    lower = le;
    below = n;
  }
  return lower;
}

export interface Rates {
  time: number; // ms, end of the interval
  requestsPerS: Map<string, number>;
  errorsPerS: number;
  latencyMeanMs: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
}

// Rates over the interval between two polls; undefined after a restart
// (a counter went down).
export function rates(prev: DeploymentCounters, cur: DeploymentCounters): Rates | undefined {
  const dt = (cur.time - prev.time) / 1000;
  if (!(dt > 0)) return undefined;
  const requestsPerS = new Map<string, number>();
  for (const [k, v] of cur.requests) {
    const d = v - (prev.requests.get(k) ?? 0);
    if (d < 0) return undefined;
    requestsPerS.set(k, d / dt);
  }
  const errors = cur.modelErrors + cur.requestErrors - prev.modelErrors - prev.requestErrors;
  const count = cur.latencyCount - prev.latencyCount;
  if (errors < 0 || count < 0) return undefined;
  return {
    time: cur.time,
    requestsPerS,
    errorsPerS: errors / dt,
    latencyMeanMs: count > 0 ? ((cur.latencySum - prev.latencySum) / count) * 1000 : Number.NaN,
    latencyP50Ms: quantile(0.5, prev.buckets, cur.buckets) * 1000,
    latencyP95Ms: quantile(0.95, prev.buckets, cur.buckets) * 1000,
  };
}

// Typed calls to the server's REST APIs: MLflow's at /api/2.0/mlflow/ and
// mlforge's own at /api/2.0/mlforge/. Errors carry the server's message
// (MLflow's {"error_code", "message"} shape) so pages can show it as is.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

function queryString(query?: Query): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

// fetch, with an unreachable server as an ApiError (aborts stay aborts).
async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', `Cannot reach the server: ${(e as Error).message}`);
  }
}

export async function request<T>(
  url: string,
  options: { method?: string; query?: Query; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const response = await send(url + queryString(options.query), {
    method: options.method ?? 'GET',
    headers: options.body !== undefined ? { 'Content-Type': 'application/json' } : undefined,
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    signal: options.signal,
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const err = body as { error_code?: string; message?: string } | undefined;
    throw new ApiError(
      response.status,
      err?.error_code ?? `HTTP_${response.status}`,
      err?.message ?? (text.slice(0, 300) || response.statusText),
    );
  }
  if (body === undefined) throw new ApiError(response.status, 'BAD_RESPONSE', 'The server sent a response that is not JSON');
  return body as T;
}

const mlflow = (path: string) => `/api/2.0/mlflow/${path}`;
const mlforge = (path: string) => `/api/2.0/mlforge/${path}`;

// Every page of a token-paged list, up to `limit` items (truncated: it stopped there).
async function allPages<T>(
  page: (token: string | undefined) => Promise<{ items?: T[]; next?: string }>,
  limit: number,
): Promise<{ items: T[]; truncated: boolean }> {
  let items: T[] = [];
  let token: string | undefined;
  do {
    const p = await page(token);
    // The first page as is; push(...) of 100,000 items would copy them and can overflow the stack.
    if (items.length === 0 && p.items) items = p.items;
    else for (const item of p.items ?? []) items.push(item);
    token = p.next;
  } while (token && items.length < limit);
  return { items, truncated: Boolean(token) };
}

// ---- shapes (the fields the UI reads) ----
export interface Tag { key: string; value: string }
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: Tag[];
}
export interface Metric { key: string; value: number; timestamp: number; step: number }
export interface Param { key: string; value: string }
export interface DatasetInput {
  tags?: Tag[];
  dataset: { name: string; digest: string; source_type?: string; source?: string; schema?: string; profile?: string };
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  status?: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
  user_id?: string;
}
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: Param[]; tags?: Tag[] };
  inputs?: { dataset_inputs?: DatasetInput[] };
}
export interface FileInfo { path: string; is_dir: boolean; file_size?: number }
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: Tag[];
  aliases?: string[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: Tag[];
  aliases?: { alias: string; version: string }[];
}
export interface LineageDatasetVersion {
  dataset: string;
  version: number;
  version_id: string;
  file_count: number;
  size: number;
  files: { path: string; sha256: string; size: number }[];
  files_truncated: boolean;
}
export interface ModelLineage {
  model_uri: string;
  model_version: ModelVersion;
  run?: {
    run_id: string;
    run_name: string;
    experiment_id: string;
    status: string;
    user_id: string;
    start_time: number;
    git_commit: string;
    source_name: string;
    params: Param[];
    metrics: { key: string; value: number; step: number }[];
  };
  datasets?: {
    name: string;
    digest: string;
    source_type: string;
    source: string;
    context: string;
    versions: LineageDatasetVersion[];
  }[];
}

// ---- tracking ----
export function searchExperiments(q: { filter?: string; page_token?: string; max_results?: number }, signal?: AbortSignal) {
  return request<{ experiments?: Experiment[]; next_page_token?: string }>(mlflow('experiments/search'), {
    query: { max_results: q.max_results ?? 50, filter: q.filter, page_token: q.page_token, order_by: ['name ASC'] },
    signal,
  });
}
export function getExperiment(id: string, signal?: AbortSignal) {
  return request<{ experiment: Experiment }>(mlflow('experiments/get'), { query: { experiment_id: id }, signal });
}
export function searchRuns(
  q: { experiment_ids: string[]; filter?: string; order_by?: string[]; page_token?: string; max_results?: number },
  signal?: AbortSignal,
) {
  return request<{ runs?: Run[]; next_page_token?: string }>(mlflow('runs/search'), {
    method: 'POST',
    body: { run_view_type: 'ACTIVE_ONLY', max_results: 50, ...q },
    signal,
  });
}
export function getRun(id: string, signal?: AbortSignal) {
  return request<{ run: Run }>(mlflow('runs/get'), { query: { run_id: id }, signal });
}

// The whole history of one metric (a run may log 100,000+ points). One big
// page, not a chain of small ones: each page is a round trip, and the server
// loads the whole series for every page it cuts.
export async function getMetricHistory(runId: string, key: string, signal?: AbortSignal): Promise<Metric[]> {
  const all = await allPages(async (token) => {
    const page = await request<{ metrics?: Metric[]; next_page_token?: string }>(mlflow('metrics/get-history'), {
      query: { run_id: runId, metric_key: key, max_results: 1_000_000, page_token: token },
      signal,
    });
    return { items: page.metrics, next: page.next_page_token };
  }, 1_000_000);
  return all.items;
}
export function listArtifacts(runId: string, path: string, signal?: AbortSignal) {
  return request<{ root_uri?: string; files?: FileInfo[] }>(mlflow('artifacts/list'), {
    query: { run_id: runId, path: path || undefined },
    signal,
  });
}
// The server's download route (src/api/artifact_handlers.cc).
export function artifactUrl(runId: string, path: string): string {
  return `/get-artifact${queryString({ run_id: runId, path })}`;
}

// ---- registry ----
export function searchRegisteredModels(q: { filter?: string; page_token?: string }, signal?: AbortSignal) {
  return request<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
    mlflow('registered-models/search'),
    { query: { max_results: 100, filter: q.filter, page_token: q.page_token, order_by: ['name ASC'] }, signal },
  );
}
export function getRegisteredModel(name: string, signal?: AbortSignal) {
  return request<{ registered_model: RegisteredModel }>(mlflow('registered-models/get'), { query: { name }, signal });
}
export async function modelVersions(name: string, signal?: AbortSignal): Promise<ModelVersion[]> {
  const all = await allPages(async (token) => {
    const page = await request<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
      mlflow('model-versions/search'),
      { query: { filter: `name='${name.replace(/'/g, "\\'")}'`, max_results: 1000, page_token: token }, signal },
    );
    return { items: page.model_versions, next: page.next_page_token };
  }, Number.POSITIVE_INFINITY);
  return all.items.sort((a, b) => Number(b.version) - Number(a.version));
}
export function getModelVersion(name: string, version: string, signal?: AbortSignal) {
  return request<{ model_version: ModelVersion }>(mlflow('model-versions/get'), { query: { name, version }, signal });
}
export function setAlias(name: string, alias: string, version: string) {
  return request<object>(mlflow('registered-models/alias'), { method: 'POST', body: { name, alias, version } });
}
export function deleteAlias(name: string, alias: string) {
  return request<object>(mlflow('registered-models/alias'), { method: 'DELETE', query: { name, alias } });
}
export function transitionStage(name: string, version: string, stage: string, archiveExisting: boolean) {
  return request<{ model_version: ModelVersion }>(mlflow('model-versions/transition-stage'), {
    method: 'POST',
    body: { name, version, stage, archive_existing_versions: archiveExisting },
  });
}
export function modelLineage(name: string, version: string, signal?: AbortSignal) {
  return request<ModelLineage>(mlforge('lineage/model-version'), {
    query: { model_uri: `models:/${name}/${version}`, max_files: 20 },
    signal,
  });
}

// ---- datasets (src/api/dataset_handlers.cc) ----
export interface DatasetInfo {
  name: string;
  description?: string;
  creation_time?: number;
  last_update_time?: number;
  version_count?: number;
}
export interface DatasetVersion {
  dataset: string;
  version: number;
  version_id: string;
  file_count: number;
  size: number;
  message?: string;
  creation_time?: number;
}
export interface ManifestEntry { path: string; sha256: string; size: number }
export function listDatasets(signal?: AbortSignal) {
  return request<{ datasets?: DatasetInfo[] }>(mlforge('datasets/list'), { signal });
}
export function getDataset(name: string, signal?: AbortSignal) {
  return request<{ dataset: DatasetInfo }>(mlforge('datasets/get'), { query: { name }, signal });
}
export function listDatasetVersions(name: string, signal?: AbortSignal) {
  return request<{ versions?: DatasetVersion[] }>(mlforge('datasets/versions/list'), { query: { name }, signal });
}
// `version` is a version number or a version id.
export function getDatasetVersion(name: string, version: string, signal?: AbortSignal) {
  return request<{ version: DatasetVersion }>(mlforge('datasets/versions/get'), { query: { name, version }, signal });
}
export function manifestPage(versionId: string, pageToken: string | undefined, maxResults: number, signal?: AbortSignal) {
  return request<{ entries?: ManifestEntry[]; next_page_token?: string }>(mlforge('datasets/versions/manifest'), {
    query: { version_id: versionId, max_results: maxResults, page_token: pageToken },
    signal,
  });
}
// A whole manifest, page by page, up to `limit` entries (truncated says it stopped there).
export async function fullManifest(versionId: string, limit: number, signal?: AbortSignal) {
  const all = await allPages(async (token) => {
    const page = await manifestPage(versionId, token, 10000, signal);
    return { items: page.entries, next: page.next_page_token };
  }, limit);
  return { entries: all.items, truncated: all.truncated };
}
export function datasetVersionRuns(versionId: string, signal?: AbortSignal) {
  return request<{ runs?: { run_id: string; run_name?: string; experiment_id: string }[] }>(mlforge('datasets/versions/runs'), {
    query: { version_id: versionId },
    signal,
  });
}

// ---- deployments (src/api/serving_handlers.cc) ----
export interface RouteSpec {
  model_name: string;
  alias?: string;
  version?: string;
  weight: number;
  role: 'primary' | 'challenger' | 'shadow';
}
export interface ServedRoute { model_name: string; ref: string; role: string; weight: number; version: string }
export interface Deployment {
  name: string;
  description?: string;
  revision: number;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  routes: RouteSpec[];
  config?: Record<string, number>;
  status?: {
    state: string;
    serving_revision?: number;
    message?: string;
    last_change_timestamp?: number;
    routes: ServedRoute[];
  };
}
export interface ShadowStats { name: string; mirrored: number; dropped: number; errors: number }
export function listDeployments(signal?: AbortSignal) {
  return request<{ deployments?: Deployment[] }>(mlforge('deployments/list'), { signal });
}
export function getDeployment(name: string, signal?: AbortSignal) {
  return request<{ deployment: Deployment }>(mlforge('deployments/get'), { query: { name }, signal });
}
export function deploymentShadow(name: string, signal?: AbortSignal) {
  return request<ShadowStats>(mlforge('deployments/shadow'), { query: { name }, signal });
}
// The Prometheus text of /metrics (not JSON, so not through request()).
export async function metricsText(signal?: AbortSignal): Promise<string> {
  const response = await send('/metrics', { signal });
  const text = await response.text();
  if (!response.ok) throw new ApiError(response.status, `HTTP_${response.status}`, text.slice(0, 300) || response.statusText);
  return text;
}

// ---- monitoring and alerts (src/api/monitor_handlers.cc, alert_handlers.cc) ----
// Numbers the server could not write (NaN, infinities) arrive as strings.
export type Num = number | string | null | undefined;
export const num = (v: Num): number => (typeof v === 'number' ? v : Number.NaN);

export interface MonitorConfig {
  deployment: string;
  window_seconds: number;
  sample_rate: number;
  reference: { kind: string; model_name?: string; version?: string; dataset_id?: string; key?: string };
  drift: { method: string; threshold?: number; correction: string; drift_share: number; columns: string[] };
  enabled: boolean;
  creation_timestamp?: number;
}
export interface WindowFeature {
  column: string;
  role?: string;
  kind?: string;
  tested?: boolean;
  method?: string;
  score?: Num;
  p_value?: Num;
  threshold?: Num;
  drifted?: boolean;
}
export interface WindowResult {
  deployment: string;
  window_start: number;
  window_end: number;
  rows: number;
  compared: boolean;
  message?: string;
  drift_share: Num;
  dataset_drift: boolean;
  drifted_features: string[];
  features: WindowFeature[];
  health: {
    requests: number;
    errors: number;
    requests_per_s: Num;
    error_rate: Num;
    latency_p50_ms: Num;
    latency_p95_ms: Num;
    latency_p99_ms: Num;
  };
  performance: Record<string, Num>;
  labelled_rows: number;
}
export interface ReportSummary { count: number; missing_rate?: Num; min?: Num; median?: Num; max?: Num; mean?: Num; std?: Num; unique?: number }
export interface ReportColumn {
  column: string;
  role: string;
  kind: string;
  tested: boolean;
  method?: string;
  score?: Num;
  threshold?: Num;
  p_value?: Num;
  adjusted_p_value?: Num;
  drifted?: boolean;
  reference: ReportSummary;
  current: ReportSummary;
  chart?: { edges?: Num[]; labels?: string[]; reference: Num[]; current: Num[] };
}
export interface DriftReport {
  reference: { name: string; rows: number };
  current: { name: string; rows: number };
  summary: { features_tested: number; features_drifted: number; drift_share: Num; dataset_drift: boolean };
  columns: ReportColumn[];
  quality: { column: string; kind: string; message: string }[];
}
export interface Alert {
  id: string;
  rule_id: string;
  rule_name: string;
  deployment: string;
  metric: string;
  state: 'firing' | 'resolved';
  op: string;
  threshold: number;
  value: Num;
  window_start: number;
  window_end: number;
  first_seen: number;
  last_seen: number;
  resolved_time?: number;
}
export function listMonitors(signal?: AbortSignal) {
  return request<{ monitors?: MonitorConfig[] }>(mlforge('monitors/list'), { signal });
}
export function getMonitor(deployment: string, signal?: AbortSignal) {
  return request<{ monitor: MonitorConfig }>(mlforge('monitors/get'), { query: { deployment }, signal });
}
// Every stored window, oldest first (pages of 1000, at most `limit`).
export async function monitorResults(deployment: string, limit: number, signal?: AbortSignal) {
  const all = await allPages(async (token) => {
    const page = await request<{ results?: WindowResult[]; next_page_token?: string }>(mlforge('monitors/results'), {
      query: { deployment, max_results: 1000, page_token: token },
      signal,
    });
    return { items: page.results, next: page.next_page_token };
  }, limit);
  return all.items;
}
export function monitorReport(deployment: string, windowStart: number, signal?: AbortSignal) {
  return request<DriftReport>(mlforge('monitors/report'), { query: { deployment, window_start: windowStart, format: 'json' }, signal });
}
export function reportHtmlUrl(deployment: string, windowStart: number): string {
  return `${mlforge('monitors/report')}${queryString({ deployment, window_start: windowStart, format: 'html' })}`;
}
export function listAlerts(q: { deployment?: string; state?: string }, signal?: AbortSignal) {
  return request<{ alerts?: Alert[] }>(mlforge('alerts/list'), { query: { ...q, max_results: 1000 }, signal });
}

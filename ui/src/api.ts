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

export async function request<T>(
  url: string,
  options: { method?: string; query?: Query; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url + queryString(options.query), {
      method: options.method ?? 'GET',
      headers: options.body !== undefined ? { 'Content-Type': 'application/json' } : undefined,
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
      signal: options.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', `Cannot reach the server: ${(e as Error).message}`);
  }
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

// The whole history of one metric, page by page (a run may log 100,000+ points).
export async function getMetricHistory(runId: string, key: string, signal?: AbortSignal): Promise<Metric[]> {
  const out: Metric[] = [];
  let token: string | undefined;
  do {
    const page = await request<{ metrics?: Metric[]; next_page_token?: string }>(mlflow('metrics/get-history'), {
      query: { run_id: runId, metric_key: key, max_results: 25000, page_token: token },
      signal,
    });
    out.push(...(page.metrics ?? []));
    token = page.next_page_token;
  } while (token && out.length < 1_000_000);
  return out;
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
  const out: ModelVersion[] = [];
  let token: string | undefined;
  do {
    const page = await request<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
      mlflow('model-versions/search'),
      { query: { filter: `name='${name.replace(/'/g, "\\'")}'`, max_results: 1000, page_token: token }, signal },
    );
    out.push(...(page.model_versions ?? []));
    token = page.next_page_token;
  } while (token);
  return out.sort((a, b) => Number(b.version) - Number(a.version));
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

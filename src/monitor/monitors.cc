// Live monitors' value types: configuration (validation, JSON), window
// results and the metric points they yield, and window performance.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "monitor/live_internal.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {

std::string_view ReferenceKindName(ReferenceKind kind) {
  switch (kind) {
    case ReferenceKind::kModelVersion:
      return "model_version";
    case ReferenceKind::kDataset:
      return "dataset";
    case ReferenceKind::kUploaded:
      return "uploaded";
  }
  return "uploaded";
}

std::string MonitorConfig::ReferenceKey() const {
  switch (reference_kind) {
    case ReferenceKind::kModelVersion:
      return fmt::format("model:{}/{}", reference_model, reference_version);
    case ReferenceKind::kDataset:
      return "dataset:" + reference_dataset;
    case ReferenceKind::kUploaded:
      break;
  }
  return "monitor:" + deployment;
}

Status ValidateMonitorConfig(const MonitorConfig& c) {
  if (c.deployment.empty()) return InvalidArgument("Missing value for 'deployment'");
  if (c.deployment.size() > 64) {
    return InvalidArgument("'deployment' must be at most 64 characters");
  }
  // Deployment names are serving's (a URL segment) and name raw log files.
  for (char ch : c.deployment) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
    if (!ok) {
      return InvalidArgument(fmt::format(
          "Invalid value '{}' for 'deployment': use letters, digits, '_', '-' and '.'",
          c.deployment));
    }
  }
  if (c.deployment.front() == '.' || c.deployment.front() == '-') {
    return InvalidArgument(fmt::format(
        "Invalid value '{}' for 'deployment': must start with a letter, digit or '_'",
        c.deployment));
  }
  if (c.window_seconds < kMinWindowSeconds || c.window_seconds > kMaxWindowSeconds) {
    return InvalidArgument(fmt::format("'window_seconds' must be between {} and {}",
                                       kMinWindowSeconds, kMaxWindowSeconds));
  }
  if (!(c.sample_rate >= 0 && c.sample_rate <= 1)) {
    return InvalidArgument("'sample_rate' must be between 0 and 1");
  }
  switch (c.reference_kind) {
    case ReferenceKind::kModelVersion:
      if (c.reference_model.empty()) return InvalidArgument("Missing value for 'reference.model_name'");
      if (c.reference_version < 1) return InvalidArgument("'reference.version' must be >= 1");
      break;
    case ReferenceKind::kDataset:
      if (c.reference_dataset.empty()) return InvalidArgument("Missing value for 'reference.dataset_id'");
      if (c.reference_dataset.size() > 128) return InvalidArgument("'reference.dataset_id' is too long");
      break;
    case ReferenceKind::kUploaded:
      break;
  }
  if (c.drift.threshold && !(std::isfinite(*c.drift.threshold) && *c.drift.threshold >= 0)) {
    return InvalidArgument("'drift.threshold' must be a finite number >= 0");
  }
  if (!(c.drift.drift_share > 0 && c.drift.drift_share <= 1)) {
    return InvalidArgument("'drift.drift_share' must be in (0, 1]");
  }
  return Status::Ok();
}

void WriteMonitorConfig(json::Writer& w, const MonitorConfig& c) {
  w.StartObject()
      .Field("deployment", c.deployment)
      .Field("window_seconds", c.window_seconds)
      .Field("sample_rate", c.sample_rate);
  w.Key("reference").StartObject().Field("kind", ReferenceKindName(c.reference_kind));
  if (c.reference_kind == ReferenceKind::kModelVersion) {
    w.Field("model_name", c.reference_model).Field("version", std::to_string(c.reference_version));
  } else if (c.reference_kind == ReferenceKind::kDataset) {
    w.Field("dataset_id", c.reference_dataset);
  }
  w.Field("key", c.ReferenceKey()).EndObject();
  w.Key("drift")
      .StartObject()
      .Field("method", c.drift.method == DriftMethod::kAuto ? std::string_view("auto")
                                                            : DriftMethodName(c.drift.method));
  if (c.drift.threshold) w.Field("threshold", *c.drift.threshold);
  w.Field("correction", CorrectionName(c.drift.correction))
      .Field("drift_share", c.drift.drift_share);
  w.Key("columns").StartArray();
  for (const std::string& col : c.drift.columns) w.String(col);
  w.EndArray().EndObject();
  w.Field("enabled", c.enabled)
      .Field("raw_log", c.raw_log)
      .Field("creation_timestamp", c.creation_timestamp)
      .Field("last_updated_timestamp", c.last_updated_timestamp)
      .EndObject();
}

namespace {

Status BadType(std::string_view field, std::string_view want) {
  return InvalidArgument(fmt::format("Invalid value for '{}': expected {}", field, want));
}

Result<std::string> StringField(const json::Value& v, std::string_view field) {
  if (!v.is_string()) return Err(BadType(field, "a string"));
  return v.as_string();
}

Result<double> NumberField(const json::Value& v, std::string_view field) {
  if (!v.is_number()) return Err(BadType(field, "a number"));
  return v.as_double();
}

// JSON integers or decimal strings (MLflow sends versions as strings).
Result<int64_t> IntField(const json::Value& v, std::string_view field) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_number() && std::floor(v.as_double()) == v.as_double() &&
      std::fabs(v.as_double()) < 9e15) {
    return static_cast<int64_t>(v.as_double());
  }
  if (v.is_string() && !v.as_string().empty() && v.as_string().size() < 19 &&
      std::all_of(v.as_string().begin(), v.as_string().end(),
                  [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return std::stoll(v.as_string());
  }
  return Err(BadType(field, "an integer"));
}

Result<bool> BoolField(const json::Value& v, std::string_view field) {
  if (!v.is_bool()) return Err(BadType(field, "true or false"));
  return v.as_bool();
}

}  // namespace

Result<MonitorConfig> ParseMonitorConfig(const json::Value& value, const MonitorConfig& base) {
  if (!value.is_object()) return Err(BadType("monitor", "an object"));
  MonitorConfig c = base;
  if (const json::Value* v = value.Find("deployment"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(c.deployment, StringField(*v, "deployment"));
  }
  if (const json::Value* v = value.Find("window_seconds"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(c.window_seconds, IntField(*v, "window_seconds"));
  }
  if (const json::Value* v = value.Find("sample_rate"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(c.sample_rate, NumberField(*v, "sample_rate"));
  }
  if (const json::Value* v = value.Find("enabled"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(c.enabled, BoolField(*v, "enabled"));
  }
  if (const json::Value* v = value.Find("raw_log"); v && !v->is_null()) {
    ASSIGN_OR_RETURN(c.raw_log, BoolField(*v, "raw_log"));
  }
  if (const json::Value* v = value.Find("creation_timestamp"); v && v->is_number()) {
    c.creation_timestamp = v->as_int64();
  }
  if (const json::Value* v = value.Find("last_updated_timestamp"); v && v->is_number()) {
    c.last_updated_timestamp = v->as_int64();
  }
  if (const json::Value* ref = value.Find("reference"); ref && !ref->is_null()) {
    if (!ref->is_object()) return Err(BadType("reference", "an object"));
    const json::Value* kind = ref->Find("kind");
    std::string k;
    if (kind != nullptr && !kind->is_null()) {
      ASSIGN_OR_RETURN(k, StringField(*kind, "reference.kind"));
    } else if (ref->Find("model_name") != nullptr) {
      k = "model_version";
    } else if (ref->Find("dataset_id") != nullptr) {
      k = "dataset";
    } else {
      k = "uploaded";
    }
    if (k == "model_version") {
      c.reference_kind = ReferenceKind::kModelVersion;
      const json::Value* m = ref->Find("model_name");
      const json::Value* ver = ref->Find("version");
      if (m == nullptr) return Err(InvalidArgument("Missing value for 'reference.model_name'"));
      if (ver == nullptr) return Err(InvalidArgument("Missing value for 'reference.version'"));
      ASSIGN_OR_RETURN(c.reference_model, StringField(*m, "reference.model_name"));
      ASSIGN_OR_RETURN(c.reference_version, IntField(*ver, "reference.version"));
    } else if (k == "dataset") {
      c.reference_kind = ReferenceKind::kDataset;
      const json::Value* d = ref->Find("dataset_id");
      if (d == nullptr) return Err(InvalidArgument("Missing value for 'reference.dataset_id'"));
      ASSIGN_OR_RETURN(c.reference_dataset, StringField(*d, "reference.dataset_id"));
    } else if (k == "uploaded") {
      c.reference_kind = ReferenceKind::kUploaded;
    } else {
      return Err(InvalidArgument(fmt::format(
          "Invalid value '{}' for 'reference.kind': use model_version, dataset or uploaded", k)));
    }
  }
  if (const json::Value* d = value.Find("drift"); d && !d->is_null()) {
    if (!d->is_object()) return Err(BadType("drift", "an object"));
    if (const json::Value* v = d->Find("method"); v && !v->is_null()) {
      ASSIGN_OR_RETURN(std::string m, StringField(*v, "drift.method"));
      if (m == "auto") {
        c.drift.method = DriftMethod::kAuto;
      } else {
        auto parsed = ParseDriftMethod(m);
        if (!parsed) return Err(InvalidArgument("Invalid value for 'drift.method': " + parsed.error().message()));
        c.drift.method = *parsed;
      }
    }
    if (const json::Value* v = d->Find("threshold"); v) {
      if (v->is_null()) {
        c.drift.threshold.reset();
      } else {
        ASSIGN_OR_RETURN(c.drift.threshold, NumberField(*v, "drift.threshold"));
      }
    }
    if (const json::Value* v = d->Find("correction"); v && !v->is_null()) {
      ASSIGN_OR_RETURN(std::string m, StringField(*v, "drift.correction"));
      auto parsed = ParseCorrection(m);
      if (!parsed) return Err(InvalidArgument("Invalid value for 'drift.correction': " + parsed.error().message()));
      c.drift.correction = *parsed;
    }
    if (const json::Value* v = d->Find("drift_share"); v && !v->is_null()) {
      ASSIGN_OR_RETURN(c.drift.drift_share, NumberField(*v, "drift.drift_share"));
    }
    if (const json::Value* v = d->Find("columns"); v && !v->is_null()) {
      if (!v->is_array()) return Err(BadType("drift.columns", "an array of strings"));
      c.drift.columns.clear();
      for (const json::Value& item : v->items()) {
        ASSIGN_OR_RETURN(std::string col, StringField(item, "drift.columns"));
        c.drift.columns.push_back(std::move(col));
      }
    }
  }
  RETURN_IF_ERROR(ValidateMonitorConfig(c));
  return c;
}

void WriteWindowResult(json::Writer& w, const WindowResult& r) {
  w.StartObject()
      .Field("deployment", r.deployment)
      .Field("window_start", r.window_start_ms)
      .Field("window_end", r.window_end_ms)
      .Key("rows")
      .Uint(r.rows)
      .Field("compared", r.compared);
  if (!r.message.empty()) w.Field("message", r.message);
  w.Field("drift_share", r.drift_share).Field("dataset_drift", r.dataset_drift);
  w.Key("drifted_features").StartArray();
  for (const std::string& f : r.drifted_features) w.String(f);
  w.EndArray();
  w.Key("features").Raw(r.features_json.empty() ? "[]" : r.features_json);
  w.Key("health")
      .StartObject()
      .Key("requests")
      .Uint(r.health.requests)
      .Key("errors")
      .Uint(r.health.errors)
      .Field("requests_per_s", r.health.requests_per_s)
      .Field("error_rate", r.health.error_rate)
      .Field("latency_p50_ms", r.health.latency_p50_ms)
      .Field("latency_p95_ms", r.health.latency_p95_ms)
      .Field("latency_p99_ms", r.health.latency_p99_ms)
      .Field("memory_bytes", r.health.memory_bytes)
      .EndObject();
  w.Key("performance").StartObject();
  for (const auto& [name, value] : r.performance) w.Field(name, value);
  w.EndObject().Key("labelled_rows").Uint(r.labelled_rows).EndObject();
}

namespace {

// Numbers as the writer wrote them: NaN and infinities are strings.
double NumberOr(const json::Value* v, double fallback = kNaN) {
  if (v == nullptr) return fallback;
  if (v->is_number()) return v->as_double();
  if (v->is_string()) {
    if (v->as_string() == "NaN") return kNaN;
    if (v->as_string() == "Infinity") return HUGE_VAL;
    if (v->as_string() == "-Infinity") return -HUGE_VAL;
  }
  return fallback;
}

}  // namespace

Result<WindowResult> ParseWindowResult(std::string_view text) {
  auto parsed = json::Parse(text);
  if (!parsed || !parsed->is_object()) return Err(Internal("Unreadable stored window result"));
  const json::Value& v = *parsed;
  WindowResult r;
  if (const json::Value* f = v.Find("deployment"); f && f->is_string()) r.deployment = f->as_string();
  r.window_start_ms = static_cast<int64_t>(NumberOr(v.Find("window_start"), 0));
  r.window_end_ms = static_cast<int64_t>(NumberOr(v.Find("window_end"), 0));
  r.rows = static_cast<uint64_t>(NumberOr(v.Find("rows"), 0));
  if (const json::Value* f = v.Find("compared"); f && f->is_bool()) r.compared = f->as_bool();
  if (const json::Value* f = v.Find("message"); f && f->is_string()) r.message = f->as_string();
  r.drift_share = NumberOr(v.Find("drift_share"), 0);
  if (const json::Value* f = v.Find("dataset_drift"); f && f->is_bool()) r.dataset_drift = f->as_bool();
  if (const json::Value* f = v.Find("drifted_features"); f && f->is_array()) {
    for (const json::Value& item : f->items()) {
      if (item.is_string()) r.drifted_features.push_back(item.as_string());
    }
  }
  if (const json::Value* f = v.Find("features"); f && f->is_array()) {
    json::Writer w;
    w.Value(*f);
    r.features_json = w.Take();
  }
  if (const json::Value* h = v.Find("health"); h && h->is_object()) {
    r.health.requests = static_cast<uint64_t>(NumberOr(h->Find("requests"), 0));
    r.health.errors = static_cast<uint64_t>(NumberOr(h->Find("errors"), 0));
    r.health.requests_per_s = NumberOr(h->Find("requests_per_s"), 0);
    r.health.error_rate = NumberOr(h->Find("error_rate"), 0);
    r.health.latency_p50_ms = NumberOr(h->Find("latency_p50_ms"));
    r.health.latency_p95_ms = NumberOr(h->Find("latency_p95_ms"));
    r.health.latency_p99_ms = NumberOr(h->Find("latency_p99_ms"));
    r.health.memory_bytes = NumberOr(h->Find("memory_bytes"), 0);
  }
  if (const json::Value* p = v.Find("performance"); p && p->is_object()) {
    for (const auto& [key, value] : p->members()) r.performance.emplace_back(key, NumberOr(&value));
  }
  r.labelled_rows = static_cast<uint64_t>(NumberOr(v.Find("labelled_rows"), 0));
  return r;
}

std::vector<MetricPoint> WindowMetricPoints(const WindowResult& r) {
  std::vector<MetricPoint> points;
  auto add = [&](std::string metric, double value) {
    if (std::isnan(value)) return;
    points.push_back(MetricPoint{.deployment = r.deployment,
                                 .window_start_ms = r.window_start_ms,
                                 .window_end_ms = r.window_end_ms,
                                 .metric = std::move(metric),
                                 .value = value});
  };
  add("rows", static_cast<double>(r.rows));
  add("requests_per_s", r.health.requests_per_s);
  add("error_rate", r.health.error_rate);
  add("latency_p50_ms", r.health.latency_p50_ms);
  add("latency_p99_ms", r.health.latency_p99_ms);
  add("memory_bytes", r.health.memory_bytes);
  if (r.compared) {
    add("drift_share", r.drift_share);
    add("dataset_drift", r.dataset_drift ? 1 : 0);
    auto features = json::Parse(r.features_json);
    if (features && features->is_array()) {
      for (const json::Value& f : features->items()) {
        const json::Value* col = f.Find("column");
        if (col == nullptr || !col->is_string()) continue;
        const std::string& c = col->as_string();
        const json::Value* tested = f.Find("tested");
        if (tested != nullptr && tested->is_bool() && tested->as_bool()) {
          const json::Value* drifted = f.Find("drifted");
          add("feature_drift." + c, drifted != nullptr && drifted->is_bool() && drifted->as_bool());
          add("drift_score." + c, NumberOr(f.Find("score")));
          add("p_value." + c, NumberOr(f.Find("p_value")));
        }
        add("missing_rate." + c, NumberOr(f.Find("missing_rate")));
        add("out_of_range_rate." + c, NumberOr(f.Find("out_of_range_rate")));
        add("unseen_rate." + c, NumberOr(f.Find("unseen_rate")));
      }
    }
  }
  for (const auto& [name, value] : r.performance) add(name, value);
  return points;
}

std::vector<std::pair<std::string, double>> WindowPerformance(std::span<const LabelledRow> rows) {
  std::vector<std::pair<std::string, double>> out;
  if (rows.empty()) return out;
  const bool binary = std::all_of(rows.begin(), rows.end(),
                                  [](const LabelledRow& r) { return r.label == 0 || r.label == 1; });
  std::vector<NamedValue> values;
  if (binary) {
    ClassificationMetrics m("1", Averaging::kBinary);
    for (const LabelledRow& r : rows) {
      const std::string_view label = r.label == 1 ? "1" : "0";
      const std::string_view predicted = r.prediction >= 0.5 ? "1" : "0";
      if (r.prediction >= 0 && r.prediction <= 1) {
        m.Add(label, predicted, r.prediction);
      } else {
        m.Add(label, predicted);
      }
    }
    values = m.Values();
  } else {
    RegressionMetrics m;
    for (const LabelledRow& r : rows) m.Add(r.label, r.prediction);
    values = m.Values();
  }
  for (NamedValue& v : values) {
    if (!std::isnan(v.value)) out.emplace_back(std::move(v.name), v.value);
  }
  Adwin adwin;
  PageHinkley page_hinkley;
  Ddm ddm;
  bool adwin_changed = false, ph_changed = false, ddm_changed = false;
  for (const LabelledRow& r : rows) {
    const double error = std::fabs(r.prediction - r.label);
    adwin_changed = adwin.Update(error) || adwin_changed;
    ph_changed = page_hinkley.Update(error) || ph_changed;
    if (binary) ddm_changed = ddm.Update((r.prediction >= 0.5) != (r.label == 1)) || ddm_changed;
  }
  out.emplace_back("change.adwin", adwin_changed ? 1 : 0);
  out.emplace_back("change.page_hinkley", ph_changed ? 1 : 0);
  if (binary) out.emplace_back("change.ddm", ddm_changed ? 1 : 0);
  return out;
}

}  // namespace mlforge::monitor

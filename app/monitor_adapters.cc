#include "app/monitor_adapters.h"

#include <fmt/core.h>

#include <algorithm>
#include <memory>

#include "data/data.h"
#include "registry/registry.h"
#include "tracking/tracking.h"

namespace mlforge::app {

namespace {

// The feature-name list of the signature this thread captured last, shared by
// its requests. Checked by content, not by address: a signature freed and
// another allocated in its place must not inherit its names.
const std::shared_ptr<const std::vector<std::string>>& SharedNames(
    const serving::ModelSignature& signature) {
  thread_local std::shared_ptr<const std::vector<std::string>> names;
  const std::vector<serving::ColumnSpec>& inputs = signature.inputs;
  const bool same = names && names->size() == inputs.size() &&
                    std::equal(inputs.begin(), inputs.end(), names->begin(),
                               [](const serving::ColumnSpec& c, const std::string& n) {
                                 return c.name == n;
                               });
  if (!same) {
    auto fresh = std::make_shared<std::vector<std::string>>();
    fresh->reserve(inputs.size());
    for (const serving::ColumnSpec& c : inputs) fresh->push_back(c.name);
    names = std::move(fresh);
  }
  return names;
}

}  // namespace

void MonitorPredictionSink::OnPrediction(const serving::CapturedPrediction& p) {
  using Sampling = monitor::LiveMonitor::Sampling;
  const Sampling decision = monitor_.Decide(p.deployment, p.request_id);
  if (decision == Sampling::kOff) return;
  // Refilled in place: the queue hands back an older request's buffers, so
  // steady capture neither allocates nor frees here.
  thread_local monitor::CapturedRequest r;
  r.deployment.assign(p.deployment);
  r.timestamp_ms = p.timestamp_ms;
  r.latency_ms = p.latency_ms;
  r.error = p.error;
  r.sampled = decision == Sampling::kSample && !p.error && p.features != nullptr &&
              p.outputs != nullptr && p.signature != nullptr;
  if (r.sampled) {
    r.request_id.assign(p.request_id);
    r.feature_names = SharedNames(*p.signature);
    r.rows = p.features->rows;
    r.features.assign(p.features->values.begin(), p.features->values.end());
    r.output_names.assign(p.outputs->output_names.begin(), p.outputs->output_names.end());
    r.outputs.assign(p.outputs->values.begin(), p.outputs->values.end());
  } else {
    r.request_id.clear();
    r.feature_names.reset();
    r.rows = 0;
    r.features.clear();
    r.output_names.clear();
    r.outputs.clear();
  }
  monitor_.Capture(r);
}

Result<monitor::DatasetProfile> TrainingDataReferences::ProfileDataset(
    std::string_view version_id) {
  ASSIGN_OR_RETURN(std::vector<data::VersionInfo> versions,
                   datasets_.FindVersionsByDigest(version_id));
  if (versions.empty()) {
    return Err(NotFound(fmt::format("No dataset version '{}'", version_id)));
  }
  // Every CSV file of the version, profiled on the first one's bins so the
  // profiles merge into one.
  std::optional<monitor::DatasetProfile> profile;
  std::string token;
  do {
    ASSIGN_OR_RETURN(data::ManifestPage page,
                     datasets_.GetManifest(versions.front().version_id, 1000, token));
    for (const data::ManifestEntry& e : page.entries) {
      if (!e.path.ends_with(".csv")) continue;
      ASSIGN_OR_RETURN(std::filesystem::path file, datasets_.ObjectPath(e.sha256));
      auto table = monitor::ReadCsv(file);
      if (!table) {
        return Err(InvalidArgument(fmt::format("{}: {}", e.path, table.error().message())));
      }
      if (!profile) {
        profile = monitor::ProfileTable(*table);
      } else {
        monitor::DatasetProfile more = monitor::ProfileTable(*table, {}, &*profile);
        if (Status s = profile->Merge(more); !s.ok()) {
          return Err(InvalidArgument(fmt::format("{}: {}", e.path, s.message())));
        }
      }
    }
    token = page.next_page_token;
  } while (!token.empty());
  if (!profile) {
    return Err(InvalidArgument(fmt::format("Dataset version '{}' has no CSV file", version_id)));
  }
  return *profile;
}

Result<monitor::DatasetProfile> TrainingDataReferences::ProfileModelVersion(std::string_view model,
                                                                           int64_t version) {
  ASSIGN_OR_RETURN(registry::ModelVersion mv,
                   registry_.GetModelVersion(model, std::to_string(version)));
  if (!mv.run_id || mv.run_id->empty()) {
    return Err(InvalidArgument(
        fmt::format("Model version {}/{} has no run, so no training dataset", model, version)));
  }
  ASSIGN_OR_RETURN(tracking::Run run, tracking_.GetRun(*mv.run_id));
  const tracking::DatasetInput* chosen = nullptr;
  for (const tracking::DatasetInput& in : run.inputs) {
    for (const tracking::Tag& t : in.tags) {
      if (t.key == "mlflow.data.context" && t.value == "training" && chosen == nullptr) chosen = &in;
    }
  }
  if (chosen == nullptr && !run.inputs.empty()) chosen = &run.inputs.front();
  if (chosen == nullptr) {
    return Err(InvalidArgument(fmt::format(
        "The run of model version {}/{} logged no dataset input", model, version)));
  }
  return ProfileDataset(chosen->dataset.digest);
}

}  // namespace mlforge::app

#include "tracking/validation.h"

#include <charconv>
#include <cmath>
#include <string>

namespace mlforge::tracking {

std::string Clip(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...";
}

namespace {

bool IsKeyChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  // MLflow allows \w (which in Python 3 includes Unicode letters), '.', '-',
  // ' ', '/'. Bytes >= 0x80 belong to UTF-8 sequences of non-ASCII letters.
  return std::isalnum(u) || c == '_' || c == '.' || c == '-' || c == ' ' || c == '/' || u >= 0x80;
}

// MLflow treats keys as file names in places; a key whose normal form is
// different ("a/../b", "./a", "a//b", "/a") would alias another key.
bool IsUniqueAsPath(std::string_view key) {
  if (key.empty()) return true;
  if (key.front() == '/') return false;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view seg = key.substr(start, end - start);
    if (seg == "." || seg == "..") return false;
    if (seg.empty() && end != key.size()) return false;  // "a//b"
    if (seg.empty() && end == key.size() && start != 0) return false;  // trailing '/'
    start = end + 1;
  }
  return true;
}

}  // namespace

Status ValidateEntityKey(std::string_view kind, std::string_view key) {
  if (key.empty()) {
    return InvalidArgument("Invalid " + std::string(kind) + " name: ''. Names must be non-empty.");
  }
  for (char c : key) {
    if (!IsKeyChar(c)) {
      return InvalidArgument("Invalid " + std::string(kind) + " name: '" + Clip(key) +
                             "'. Names may only contain alphanumerics, underscores (_), dashes "
                             "(-), periods (.), spaces ( ), and slashes (/).");
    }
  }
  if (!IsUniqueAsPath(key)) {
    return InvalidArgument("Invalid " + std::string(kind) + " name: '" + Clip(key) +
                           "'. Names may be treated as files in certain cases, and must not "
                           "resolve to other names when treated as such.");
  }
  if (CodePoints(key) > kMaxEntityKeyLength) {
    return InvalidArgument(std::string(kind == "parameter" ? "Param key" : kind == "tag" ? "Tag key" : "Metric name") +
                           " '" + Clip(key, 250) + "' had length " + std::to_string(CodePoints(key)) +
                           ", which exceeded length limit of " +
                           std::to_string(kMaxEntityKeyLength));
  }
  return Status::Ok();
}

Status ValidateTagKey(std::string_view key) { return ValidateEntityKey("tag", key); }

size_t CodePoints(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

namespace {
void TruncateToCodePoints(std::string& s, size_t limit) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == limit) {
      s.resize(i);
      return;
    }
  }
}
}  // namespace

Status ValidateParam(Param& param) {
  RETURN_IF_ERROR(ValidateEntityKey("parameter", param.key));
  TruncateToCodePoints(param.value, kMaxParamValueLength);
  return Status::Ok();
}

Status ValidateTag(Tag& tag) {
  RETURN_IF_ERROR(ValidateEntityKey("tag", tag.key));
  TruncateToCodePoints(tag.value, kMaxTagValueLength);
  return Status::Ok();
}

Status ValidateExperimentTag(const Tag& tag) {
  if (tag.key.empty()) return InvalidArgument("Missing value for required parameter 'key'.");
  if (CodePoints(tag.key) > kMaxEntityKeyLength) {
    return InvalidArgument("Tag key '" + Clip(tag.key, 250) + "' had length " +
                           std::to_string(CodePoints(tag.key)) +
                           ", which exceeded length limit of " + std::to_string(kMaxEntityKeyLength));
  }
  if (CodePoints(tag.value) > kMaxTagValueLength) {
    return InvalidArgument("Tag value '" + Clip(tag.value, 250) + "' had length " +
                           std::to_string(CodePoints(tag.value)) +
                           ", which exceeded length limit of " + std::to_string(kMaxTagValueLength));
  }
  return Status::Ok();
}

Status ValidateMetric(const Metric& metric) {
  RETURN_IF_ERROR(ValidateEntityKey("metric", metric.key));
  if (metric.timestamp < 0) {
    return InvalidArgument("Got invalid timestamp " + std::to_string(metric.timestamp) +
                           " for metric '" + Clip(metric.key) +
                           "'. Timestamp must be a nonnegative long (64-bit integer) ");
  }
  return Status::Ok();
}

Status ValidateRunId(std::string_view run_id) {
  // MLflow: ^[a-zA-Z0-9][\w\-]{0,255}$
  bool ok = !run_id.empty() && run_id.size() <= 256 && std::isalnum(static_cast<unsigned char>(run_id[0]));
  for (char c : run_id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) ok = false;
  }
  if (!ok) return InvalidArgument("Invalid run ID: '" + Clip(run_id) + "'");
  return Status::Ok();
}

Status ValidateExperimentName(std::string_view name) {
  if (name.empty()) {
    return InvalidArgument("Invalid experiment name: ''. Expects a non-empty string.");
  }
  if (CodePoints(name) > kMaxExperimentNameLength) {
    return InvalidArgument("Experiment name '" + Clip(name) + "' had length " +
                           std::to_string(CodePoints(name)) + ", which exceeded length limit of " +
                           std::to_string(kMaxExperimentNameLength));
  }
  return Status::Ok();
}

Status ValidateBatchLimits(std::span<const Metric> metrics, std::span<const Param> params,
                           std::span<const Tag> tags) {
  auto limit = [](size_t n, int max, std::string_view entity) -> Status {
    if (n <= static_cast<size_t>(max)) return Status::Ok();
    std::string e(entity);
    return InvalidArgument("A batch logging request can contain at most " + std::to_string(max) +
                           " " + e + ". Got " + std::to_string(n) + " " + e +
                           ". Please split up " + e + " across multiple requests and try again.");
  };
  RETURN_IF_ERROR(limit(metrics.size(), kMaxMetricsPerBatch, "metrics"));
  RETURN_IF_ERROR(limit(params.size(), kMaxParamsTagsPerBatch, "params"));
  RETURN_IF_ERROR(limit(tags.size(), kMaxParamsTagsPerBatch, "tags"));
  RETURN_IF_ERROR(limit(metrics.size() + params.size() + tags.size(), kMaxEntitiesPerBatch,
                        "metrics, params, and tags"));
  // As MLflow: a param key may appear once per batch.
  for (size_t i = 0; i < params.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (params[j].key == params[i].key) {
        return InvalidArgument("Duplicate parameter keys have been submitted: ['" +
                               Clip(params[i].key) +
                               "']. Please ensure the request contains only one param value per "
                               "param key.");
      }
    }
  }
  return Status::Ok();
}

Status ValidateMaxResults(int max_results, int limit) {
  if (max_results < 1 || max_results > limit) {
    return InvalidArgument("Invalid value " + std::to_string(max_results) +
                           " for parameter 'max_results' supplied. It must be a positive integer "
                           "at most " + std::to_string(limit) + ".");
  }
  return Status::Ok();
}

Result<int64_t> ParseExperimentId(std::string_view experiment_id) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(experiment_id.data(),
                                   experiment_id.data() + experiment_id.size(), id);
  if (ec != std::errc() || end != experiment_id.data() + experiment_id.size() || id < 0) {
    // MLflow's SQL store simply finds no such experiment.
    return Err(NotFound("No Experiment with id=" + Clip(experiment_id) + " exists"));
  }
  return id;
}

}  // namespace mlforge::tracking

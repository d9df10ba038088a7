// Validation and JSON of deployments' routes and config (serving.h).
#include <fmt/core.h>

#include <cmath>
#include <set>
#include <string>
#include <tuple>

#include "base/json.h"
#include "serving/serving.h"

namespace mlforge::serving {
namespace {

constexpr size_t kMaxModelNameLength = 256;  // the registry's limit
constexpr size_t kMaxAliasLength = 255;
constexpr int kMaxBatchRows = 65'536;
constexpr int64_t kMaxWaitUs = 1'000'000;
constexpr int kMaxShadowQueue = 100'000;
constexpr int kMaxShadowSamples = 10'000;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

Status Invalid(std::string message) { return InvalidArgument(std::move(message)); }

Result<int64_t> IntMember(const json::Value& v, std::string_view field) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_number()) {
    const double d = v.as_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
      return static_cast<int64_t>(d);
    }
  }
  if (v.is_string() && !v.as_string().empty() && v.as_string().size() < 19) {
    int64_t n = 0;
    bool ok = true;
    for (char c : v.as_string()) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      n = n * 10 + (c - '0');
    }
    if (ok) return n;
  }
  return Err(Invalid(fmt::format("'{}' must be an integer", field)));
}

}  // namespace

std::string_view RouteRoleName(RouteRole role) {
  switch (role) {
    case RouteRole::kPrimary:
      return "primary";
    case RouteRole::kChallenger:
      return "challenger";
    case RouteRole::kShadow:
      return "shadow";
  }
  return "primary";
}

Result<RouteRole> ParseRouteRole(std::string_view name) {
  for (RouteRole r : {RouteRole::kPrimary, RouteRole::kChallenger, RouteRole::kShadow}) {
    if (RouteRoleName(r) == name) return r;
  }
  return Err(Invalid(
      fmt::format("Invalid route role '{}': expected primary, challenger or shadow", name)));
}

std::string RouteSpec::Ref() const {
  return alias.empty() ? fmt::format("{}/{}", model_name, version)
                       : fmt::format("{}@{}", model_name, alias);
}

Status ValidateDeploymentName(std::string_view name) {
  if (name.empty()) return Invalid("Deployment name must not be empty");
  if (name.size() > kMaxDeploymentNameLength) {
    return Invalid(
        fmt::format("Deployment name is longer than {} characters", kMaxDeploymentNameLength));
  }
  // The name is a URL path segment (/v2/models/<name>/infer): keep it plain.
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Invalid(
          fmt::format("Invalid deployment name '{}': use letters, digits, '_', '-' and '.'", name));
    }
  }
  if (name.front() == '.' || name.front() == '-') {
    return Invalid(
        fmt::format("Invalid deployment name '{}': must start with a letter, digit "
                    "or '_'",
                    name));
  }
  return Status::Ok();
}

Status ValidateRoutes(const std::vector<RouteSpec>& routes) {
  if (routes.empty()) return Invalid("A deployment needs at least one route");
  if (routes.size() > kMaxRoutes) {
    return Invalid(fmt::format("A deployment has at most {} routes", kMaxRoutes));
  }
  double total = 0;
  std::set<std::tuple<std::string, std::string, int64_t, RouteRole>> seen;
  for (size_t i = 0; i < routes.size(); ++i) {
    const RouteSpec& r = routes[i];
    const std::string where = fmt::format("routes[{}]", i);
    if (r.model_name.empty()) return Invalid(where + ".model_name must not be empty");
    if (r.model_name.size() > kMaxModelNameLength) {
      return Invalid(
          fmt::format("{}.model_name is longer than {} characters", where, kMaxModelNameLength));
    }
    if (r.alias.empty() == (r.version == 0)) {
      return Invalid(where + " needs exactly one of 'alias' and 'version'");
    }
    if (!r.alias.empty()) {
      if (r.alias.size() > kMaxAliasLength) {
        return Invalid(
            fmt::format("{}.alias is longer than {} characters", where, kMaxAliasLength));
      }
      for (char c : r.alias) {
        if (!IsNameChar(c) || c == '.') {
          return Invalid(fmt::format("Invalid {}.alias '{}': use letters, digits, '_' and '-'",
                                     where, r.alias));
        }
      }
    }
    if (r.version < 0) return Invalid(where + ".version must be a positive integer");
    if (!std::isfinite(r.weight) || r.weight < 0) {
      return Invalid(where + ".weight must be a number >= 0");
    }
    if (r.role != RouteRole::kShadow) total += r.weight;
    if (!seen.emplace(r.model_name, r.alias, r.version, r.role).second) {
      return Invalid(
          fmt::format("{} repeats route '{}' with role {}", where, r.Ref(), RouteRoleName(r.role)));
    }
  }
  if (total <= 0) {
    return Invalid("At least one primary or challenger route needs a weight > 0");
  }
  return Status::Ok();
}

Status ValidateConfig(const DeploymentConfig& c) {
  if (c.max_batch_rows < 1 || c.max_batch_rows > kMaxBatchRows) {
    return Invalid(fmt::format("config.max_batch_rows must be between 1 and {}", kMaxBatchRows));
  }
  if (c.max_wait_us < 0 || c.max_wait_us > kMaxWaitUs) {
    return Invalid(fmt::format("config.max_wait_us must be between 0 and {}", kMaxWaitUs));
  }
  if (c.shadow_queue_size < 1 || c.shadow_queue_size > kMaxShadowQueue) {
    return Invalid(
        fmt::format("config.shadow_queue_size must be between 1 and {}", kMaxShadowQueue));
  }
  if (c.shadow_samples < 0 || c.shadow_samples > kMaxShadowSamples) {
    return Invalid(
        fmt::format("config.shadow_samples must be between 0 and {}", kMaxShadowSamples));
  }
  return Status::Ok();
}

void WriteRoutes(json::Writer& w, const std::vector<RouteSpec>& routes) {
  w.StartArray();
  for (const RouteSpec& r : routes) {
    w.StartObject().Field("model_name", r.model_name);
    if (!r.alias.empty()) {
      w.Field("alias", r.alias);
    } else {
      w.Field("version", std::to_string(r.version));
    }
    w.Field("weight", r.weight).Field("role", RouteRoleName(r.role)).EndObject();
  }
  w.EndArray();
}

void WriteConfig(json::Writer& w, const DeploymentConfig& c) {
  w.StartObject()
      .Field("max_batch_rows", c.max_batch_rows)
      .Field("max_wait_us", c.max_wait_us)
      .Field("shadow_queue_size", c.shadow_queue_size)
      .Field("shadow_samples", c.shadow_samples)
      .EndObject();
}

Result<std::vector<RouteSpec>> ParseRoutes(const json::Value& value) {
  if (!value.is_array()) return Err(Invalid("'routes' must be a list of route objects"));
  std::vector<RouteSpec> routes;
  for (size_t i = 0; i < value.items().size(); ++i) {
    const json::Value& item = value.items()[i];
    const std::string where = fmt::format("routes[{}]", i);
    if (!item.is_object()) return Err(Invalid(where + " must be an object"));
    RouteSpec r;
    for (const auto& [key, v] : item.members()) {
      const std::string field = where + "." + key;
      if (key == "model_name") {
        if (!v.is_string()) return Err(Invalid(field + " must be a string"));
        r.model_name = v.as_string();
      } else if (key == "alias") {
        if (!v.is_string()) return Err(Invalid(field + " must be a string"));
        r.alias = v.as_string();
      } else if (key == "version") {
        ASSIGN_OR_RETURN(r.version, IntMember(v, field));
        if (r.version < 1) return Err(Invalid(field + " must be a positive integer"));
      } else if (key == "weight") {
        if (!v.is_number()) return Err(Invalid(field + " must be a number"));
        r.weight = v.as_double();
      } else if (key == "role") {
        if (!v.is_string()) return Err(Invalid(field + " must be a string"));
        ASSIGN_OR_RETURN(r.role, ParseRouteRole(v.as_string()));
      } else {
        return Err(Invalid(fmt::format("Unknown field '{}'", field)));
      }
    }
    // A lone primary route needs no weight.
    if (item.Find("weight") == nullptr && r.role != RouteRole::kShadow) r.weight = 1;
    routes.push_back(std::move(r));
  }
  RETURN_IF_ERROR(ValidateRoutes(routes));
  return routes;
}

Result<DeploymentConfig> ParseConfig(const json::Value& value, const DeploymentConfig& base) {
  if (!value.is_object()) return Err(Invalid("'config' must be an object"));
  DeploymentConfig c = base;
  for (const auto& [key, v] : value.members()) {
    const std::string field = "config." + key;
    if (key == "max_batch_rows" || key == "shadow_queue_size" || key == "shadow_samples") {
      ASSIGN_OR_RETURN(int64_t n, IntMember(v, field));
      if (n < 0 || n > 1'000'000'000) return Err(Invalid(field + " is out of range"));
      (key == "max_batch_rows"      ? c.max_batch_rows
       : key == "shadow_queue_size" ? c.shadow_queue_size
                                    : c.shadow_samples) = static_cast<int>(n);
    } else if (key == "max_wait_us") {
      ASSIGN_OR_RETURN(c.max_wait_us, IntMember(v, field));
    } else {
      return Err(Invalid(fmt::format("Unknown field '{}'", field)));
    }
  }
  RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

}  // namespace mlforge::serving

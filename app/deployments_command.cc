#include "app/deployments_command.h"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "app/server_client.h"
#include "base/json.h"
#include "http/http.h"
#include "serving/serving.h"

namespace mlforge::app {
namespace {

constexpr std::string_view kApi = "/api/2.0/mlforge/deployments";

struct DeploymentsArgs {
  CLI::App* create = nullptr;
  CLI::App* get = nullptr;
  CLI::App* list = nullptr;
  CLI::App* set_routes = nullptr;
  CLI::App* rollback = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* events = nullptr;
  std::string name;
  std::vector<std::string> routes;
  std::vector<std::string> shadows;
  std::optional<int> max_batch_rows;
  std::optional<int64_t> max_wait_us;
  std::optional<std::string> description;
  std::optional<int64_t> to_revision;
  std::string remote;
  bool json = false;
};

DeploymentsArgs& Args() {
  static DeploymentsArgs args;
  return args;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "mlforge deployments: %s\n", s.message().c_str());
  return 1;
}

// MODEL@ALIAS or MODEL/VERSION, then optional ":WEIGHT" and ":ROLE"
// (primary or challenger), e.g. fraud@champion:90, fraud/7:10:challenger.
Result<serving::RouteSpec> ParseRouteFlag(std::string text, bool shadow) {
  serving::RouteSpec r;
  r.role = shadow ? serving::RouteRole::kShadow : serving::RouteRole::kPrimary;
  r.weight = shadow ? 0 : 1;
  const std::string original = text;
  // Optional suffixes, right to left.
  for (int i = 0; i < 2 && !shadow; ++i) {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) break;
    const std::string tail = text.substr(colon + 1);
    if (auto role = serving::ParseRouteRole(tail); role && *role != serving::RouteRole::kShadow) {
      r.role = *role;
    } else {
      char* end = nullptr;
      const double w = std::strtod(tail.c_str(), &end);
      if (tail.empty() || end != tail.c_str() + tail.size()) {
        return Err(InvalidArgument(
            fmt::format("Route '{}': '{}' is neither a weight nor a role (primary, challenger)",
                        original, tail)));
      }
      r.weight = w;
    }
    text.resize(colon);
  }
  const size_t at = text.rfind('@');
  const size_t slash = text.rfind('/');
  if (at != std::string::npos && (slash == std::string::npos || at > slash)) {
    r.model_name = text.substr(0, at);
    r.alias = text.substr(at + 1);
  } else if (slash != std::string::npos) {
    r.model_name = text.substr(0, slash);
    const std::string v = text.substr(slash + 1);
    char* end = nullptr;
    r.version = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || end != v.c_str() + v.size() || r.version < 1) {
      return Err(
          InvalidArgument(fmt::format("Route '{}': '{}' is not a version number", original, v)));
    }
  } else {
    return Err(InvalidArgument(fmt::format(
        "Route '{}': expected MODEL@ALIAS or MODEL/VERSION, then :WEIGHT and :ROLE", original)));
  }
  return r;
}

Result<std::vector<serving::RouteSpec>> RoutesFromFlags(const DeploymentsArgs& a) {
  std::vector<serving::RouteSpec> routes;
  for (const std::string& text : a.routes) {
    ASSIGN_OR_RETURN(serving::RouteSpec r, ParseRouteFlag(text, false));
    routes.push_back(std::move(r));
  }
  for (const std::string& text : a.shadows) {
    ASSIGN_OR_RETURN(serving::RouteSpec r, ParseRouteFlag(text, true));
    routes.push_back(std::move(r));
  }
  RETURN_IF_ERROR(serving::ValidateRoutes(routes));
  return routes;
}

void WriteConfigFlags(json::Writer& w, const DeploymentsArgs& a) {
  if (!a.max_batch_rows && !a.max_wait_us) return;
  w.Key("config").StartObject();
  if (a.max_batch_rows) w.Field("max_batch_rows", *a.max_batch_rows);
  if (a.max_wait_us) w.Field("max_wait_us", *a.max_wait_us);
  w.EndObject();
}

const json::Value& Member(const json::Value& v, std::string_view key) {
  static const json::Value kNull;
  const json::Value* f = v.Find(key);
  return f ? *f : kNull;
}

std::string RouteRef(const json::Value& route) {
  const std::string alias = StrOf(route, "alias");
  return StrOf(route, "model_name") + (alias.empty() ? "/" + StrOf(route, "version") : "@" + alias);
}

void PrintDeployment(const json::Value& d) {
  const json::Value& status = Member(d, "status");
  std::printf("deployment %s  revision %lld", StrOf(d, "name").c_str(),
              static_cast<long long>(IntOf(d, "revision")));
  if (status.is_object()) {
    std::printf("  %s (serving revision %lld)", StrOf(status, "state").c_str(),
                static_cast<long long>(IntOf(status, "serving_revision")));
  }
  std::printf("\n");
  if (!StrOf(d, "description").empty()) std::printf("  %s\n", StrOf(d, "description").c_str());
  const json::Value& served = Member(status, "routes");
  for (const json::Value& route : Member(d, "routes").items()) {
    const std::string ref = RouteRef(route);
    std::string version = "-";
    for (const json::Value& s : served.items()) {
      if (StrOf(s, "ref") == ref && StrOf(s, "role") == StrOf(route, "role")) {
        version = StrOf(s, "version");
      }
    }
    const json::Value& weight = Member(route, "weight");
    std::printf("  %-10s %-32s weight %-6g -> version %s\n", StrOf(route, "role").c_str(),
                ref.c_str(), weight.is_number() ? weight.as_double() : 0.0, version.c_str());
  }
  const json::Value& config = Member(d, "config");
  std::printf("  batching: max_batch_rows %lld, max_wait_us %lld\n",
              static_cast<long long>(IntOf(config, "max_batch_rows")),
              static_cast<long long>(IntOf(config, "max_wait_us")));
  if (!StrOf(status, "message").empty()) std::printf("  ! %s\n", StrOf(status, "message").c_str());
}

void PrintEvents(const json::Value& v) {
  for (const json::Value& e : Member(v, "events").items()) {
    std::string routes;
    for (const json::Value& r : Member(Member(e, "after"), "routes").items()) {
      routes += (routes.empty() ? "" : ", ") + RouteRef(r);
    }
    std::printf("%s  revision %-4lld %-9s by %-12s %s\n", StrOf(e, "event_id").c_str(),
                static_cast<long long>(IntOf(e, "revision")), StrOf(e, "action").c_str(),
                StrOf(e, "user").c_str(), routes.c_str());
  }
}

int Run() {
  const DeploymentsArgs& a = Args();
  auto server = ServerFromFlagOrEnv(a.remote, "--remote");
  if (!server) return Fail(server.error());
  const std::string p(kApi);
  const std::string q = "?name=" + http::PercentEncode(a.name);
  Result<json::Value> answer = Err(Internal("no verb"));
  bool is_list = false;
  bool is_events = false;
  if (a.create != nullptr && a.create->parsed()) {
    auto routes = RoutesFromFlags(a);
    if (!routes) return Fail(routes.error());
    json::Writer w;
    w.StartObject().Field("name", a.name).Key("routes");
    serving::WriteRoutes(w, *routes);
    WriteConfigFlags(w, a);
    if (a.description) w.Field("description", *a.description);
    answer = SendJson(*server, http::Method::kPost, p + "/create", w.EndObject().str());
  } else if (a.set_routes != nullptr && a.set_routes->parsed()) {
    json::Writer w;
    w.StartObject().Field("name", a.name);
    if (!a.routes.empty() || !a.shadows.empty()) {
      auto routes = RoutesFromFlags(a);
      if (!routes) return Fail(routes.error());
      w.Key("routes");
      serving::WriteRoutes(w, *routes);
    }
    WriteConfigFlags(w, a);
    if (a.description) w.Field("description", *a.description);
    answer = SendJson(*server, http::Method::kPost, p + "/update", w.EndObject().str());
  } else if (a.rollback != nullptr && a.rollback->parsed()) {
    json::Writer w;
    w.StartObject().Field("name", a.name);
    if (a.to_revision) w.Field("to_revision", *a.to_revision);
    answer = SendJson(*server, http::Method::kPost, p + "/rollback", w.EndObject().str());
  } else if (a.remove != nullptr && a.remove->parsed()) {
    json::Writer w;
    w.StartObject().Field("name", a.name).EndObject();
    answer = SendJson(*server, http::Method::kDelete, p + "/delete", w.str());
    if (answer && !a.json) {
      std::printf("deleted deployment %s\n", a.name.c_str());
      return 0;
    }
  } else if (a.get != nullptr && a.get->parsed()) {
    answer = GetJson(*server, p + "/get" + q);
  } else if (a.list != nullptr && a.list->parsed()) {
    answer = GetJson(*server, p + "/list");
    is_list = true;
  } else if (a.events != nullptr && a.events->parsed()) {
    answer = GetJson(*server, p + "/events" + q + "&max_results=1000");
    is_events = true;
  }
  if (!answer) return Fail(answer.error());
  if (a.json) {
    std::printf("%s\n", json::Serialize(*answer).c_str());
  } else if (is_list) {
    for (const json::Value& d : Member(*answer, "deployments").items()) PrintDeployment(d);
  } else if (is_events) {
    PrintEvents(*answer);
  } else {
    PrintDeployment(Member(*answer, "deployment"));
  }
  return 0;
}

void CommonFlags(CLI::App* verb, bool with_name) {
  DeploymentsArgs& a = Args();
  if (with_name) verb->add_option("name", a.name, "Deployment name")->required();
  verb->add_option("--remote,-r", a.remote,
                   "Server URL (default: $MLFORGE_TRACKING_URI or $MLFLOW_TRACKING_URI)");
  verb->add_flag("--json", a.json, "Print the API's JSON");
}

void RouteFlags(CLI::App* verb) {
  DeploymentsArgs& a = Args();
  verb->add_option("--route", a.routes,
                   "A traffic route: MODEL@ALIAS or MODEL/VERSION, then :WEIGHT and :ROLE "
                   "(primary, challenger), e.g. fraud@champion:90");
  verb->add_option("--shadow", a.shadows,
                   "A shadow route (MODEL@ALIAS or MODEL/VERSION): mirrored traffic, answers "
                   "recorded, never returned");
  verb->add_option("--max-batch-rows", a.max_batch_rows, "Largest prediction batch, rows");
  verb->add_option("--max-wait-us", a.max_wait_us,
                   "Longest wait for a batch to fill, microseconds (0: never wait)");
  verb->add_option("--description", a.description, "Free text");
}

}  // namespace

void AddDeploymentsCommand(CLI::App& app) {
  DeploymentsArgs& a = Args();
  CLI::App* cmd = app.add_subcommand(
      "deployments", "Manage deployments: named endpoints routing traffic to model versions");
  cmd->require_subcommand(1);
  a.create = cmd->add_subcommand("create", "Create a deployment");
  CommonFlags(a.create, true);
  RouteFlags(a.create);
  a.get = cmd->add_subcommand("get", "Show a deployment and what it serves");
  CommonFlags(a.get, true);
  a.list = cmd->add_subcommand("list", "List deployments");
  CommonFlags(a.list, false);
  a.set_routes = cmd->add_subcommand("set-routes", "Replace a deployment's routes (and settings)");
  CommonFlags(a.set_routes, true);
  RouteFlags(a.set_routes);
  a.rollback = cmd->add_subcommand(
      "rollback", "Re-apply an earlier revision's routes (default: the one before the current)");
  CommonFlags(a.rollback, true);
  a.rollback->add_option("--to-revision", a.to_revision, "The revision to go back to");
  a.remove = cmd->add_subcommand("delete", "Delete a deployment (its history stays)");
  CommonFlags(a.remove, true);
  a.events = cmd->add_subcommand("events", "A deployment's history of changes");
  CommonFlags(a.events, true);
}

bool RunDeploymentsCommand(int* exit_code) {
  const DeploymentsArgs& a = Args();
  for (CLI::App* verb : {a.create, a.get, a.list, a.set_routes, a.rollback, a.remove, a.events}) {
    if (verb != nullptr && verb->parsed()) {
      *exit_code = Run();
      return true;
    }
  }
  return false;
}

}  // namespace mlforge::app

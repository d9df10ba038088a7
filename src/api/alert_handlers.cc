// The alerts API (docs/monitoring.md, "Alerts"): rules CRUD, alerts and the
// webhook delivery log under /api/2.0/mlforge/alerts/. MLflow-style errors.
#include <fmt/core.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/api.h"
#include "api/handlers.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "base/json.h"
#include "http/http.h"
#include "monitor/monitor.h"

namespace mlforge::api {
namespace {

using monitor::AlertManager;
using monitor::AlertRule;

constexpr std::string_view kPrefix = "/api/2.0/mlforge/alerts";

void WriteRule(json::Writer& w, const AlertRule& r) {
  w.StartObject()
      .Field("id", r.id)
      .Field("name", r.name)
      .Field("deployment", r.deployment)
      .Field("metric", r.metric)
      .Field("op", monitor::CompareOpName(r.op))
      .Field("threshold", r.threshold)
      .Field("for_windows", r.for_windows);
  w.Key("webhooks").StartArray();
  for (const std::string& u : r.webhooks) w.String(u);
  w.EndArray()
      .Field("enabled", r.enabled)
      .Field("creation_timestamp", r.creation_timestamp)
      .Field("last_updated_timestamp", r.last_updated_timestamp)
      .EndObject();
}

void RespondRule(const AlertRule& r, http::Response& response) {
  json::Writer w;
  w.StartObject().Key("rule");
  WriteRule(w, r);
  response.SetJson(w.EndObject().Take());
}

Result<std::optional<bool>> OptionalFlag(const RequestMessage& m, std::string_view name) {
  const json::Value* v = m.Find(name);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) return Err(InvalidValue(*v, name));
  return std::optional<bool>(v->as_bool());
}

Result<std::optional<monitor::CompareOp>> OptionalOp(const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::optional<std::string> op, m.OptionalString("op"));
  if (!op) return std::optional<monitor::CompareOp>();
  ASSIGN_OR_RETURN(monitor::CompareOp parsed, monitor::ParseCompareOp(*op, "op"));
  return std::optional<monitor::CompareOp>(parsed);
}

Result<std::optional<int>> OptionalForWindows(const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::optional<int32_t> n, m.OptionalInt32("for_windows"));
  if (!n) return std::optional<int>();
  return std::optional<int>(*n);
}

Result<std::optional<std::vector<std::string>>> OptionalWebhooks(const RequestMessage& m) {
  if (!m.Has("webhooks")) return std::optional<std::vector<std::string>>();
  ASSIGN_OR_RETURN(std::vector<std::string> urls, m.StringList("webhooks"));
  return std::optional<std::vector<std::string>>(std::move(urls));
}

Result<int> MaxResults(const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::optional<int32_t> n, m.OptionalInt32("max_results"));
  return n.value_or(100);
}

// DELETE bodies are dropped by some proxies: the query works too.
Result<RequestMessage> BodyOrQuery(const http::Request& request) {
  if (request.body.empty() && !request.query_params.empty()) {
    return RequestMessage::FromQuery(request.query_params);
  }
  return RequestMessage::Decode(request);
}

Status CreateRule(AlertManager& alerts, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  AlertRule rule;
  ASSIGN_OR_RETURN(rule.name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(rule.metric, m.RequiredString("metric"));
  ASSIGN_OR_RETURN(rule.deployment, m.StringOr("deployment"));
  ASSIGN_OR_RETURN(std::optional<monitor::CompareOp> op, OptionalOp(m));
  if (!op) return MissingValue("op");
  rule.op = *op;
  ASSIGN_OR_RETURN(rule.threshold, m.RequiredDouble("threshold"));
  ASSIGN_OR_RETURN(std::optional<int> for_windows, OptionalForWindows(m));
  rule.for_windows = for_windows.value_or(1);
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> webhooks, OptionalWebhooks(m));
  if (webhooks) rule.webhooks = std::move(*webhooks);
  ASSIGN_OR_RETURN(std::optional<bool> enabled, OptionalFlag(m, "enabled"));
  rule.enabled = enabled.value_or(true);
  ASSIGN_OR_RETURN(AlertRule created, alerts.CreateRule(rule));
  RespondRule(created, response);
  return Status::Ok();
}

Status GetRule(AlertManager& alerts, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string id, RequiredQueryParam(request, "id"));
  ASSIGN_OR_RETURN(AlertRule rule, alerts.GetRule(id));
  RespondRule(rule, response);
  return Status::Ok();
}

Status ListRules(AlertManager& alerts, const http::Request&, http::Response& response) {
  ASSIGN_OR_RETURN(std::vector<AlertRule> rules, alerts.ListRules());
  json::Writer w;
  w.StartObject().Key("rules").StartArray();
  for (const AlertRule& r : rules) WriteRule(w, r);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status UpdateRule(AlertManager& alerts, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  monitor::AlertRuleUpdate u;
  ASSIGN_OR_RETURN(u.id, m.RequiredString("id"));
  ASSIGN_OR_RETURN(u.name, m.OptionalString("name"));
  ASSIGN_OR_RETURN(u.deployment, m.OptionalString("deployment"));
  ASSIGN_OR_RETURN(u.metric, m.OptionalString("metric"));
  ASSIGN_OR_RETURN(u.op, OptionalOp(m));
  ASSIGN_OR_RETURN(u.threshold, m.OptionalDouble("threshold"));
  ASSIGN_OR_RETURN(u.for_windows, OptionalForWindows(m));
  ASSIGN_OR_RETURN(u.webhooks, OptionalWebhooks(m));
  ASSIGN_OR_RETURN(u.enabled, OptionalFlag(m, "enabled"));
  ASSIGN_OR_RETURN(AlertRule rule, alerts.UpdateRule(u));
  RespondRule(rule, response);
  return Status::Ok();
}

Status DeleteRule(AlertManager& alerts, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, BodyOrQuery(request));
  ASSIGN_OR_RETURN(std::string id, m.RequiredString("id"));
  RETURN_IF_ERROR(alerts.DeleteRule(id));
  response.SetJson(std::string(kEmptyResponse));
  return Status::Ok();
}

Status ListAlerts(AlertManager& alerts, const http::Request& request, http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  monitor::AlertFilter f;
  ASSIGN_OR_RETURN(f.deployment, m.StringOr("deployment"));
  ASSIGN_OR_RETURN(f.rule_id, m.StringOr("rule_id"));
  ASSIGN_OR_RETURN(std::string state, m.StringOr("state"));
  if (!state.empty()) {
    ASSIGN_OR_RETURN(f.state, monitor::ParseAlertState(state));
  }
  ASSIGN_OR_RETURN(f.max_results, MaxResults(m));
  ASSIGN_OR_RETURN(std::vector<monitor::Alert> list, alerts.ListAlerts(f));
  json::Writer w;
  w.StartObject().Key("alerts").StartArray();
  for (const monitor::Alert& a : list) monitor::WriteAlertJson(w, a);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status ListDeliveries(AlertManager& alerts, const http::Request& request,
                      http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  monitor::DeliveryFilter f;
  ASSIGN_OR_RETURN(std::optional<int64_t> alert_id, m.OptionalInt64("alert_id"));
  f.alert_id = alert_id.value_or(0);
  ASSIGN_OR_RETURN(f.rule_id, m.StringOr("rule_id"));
  ASSIGN_OR_RETURN(f.max_results, MaxResults(m));
  ASSIGN_OR_RETURN(std::vector<monitor::DeliveryAttempt> list, alerts.ListDeliveries(f));
  json::Writer w;
  w.StartObject().Key("deliveries").StartArray();
  for (const monitor::DeliveryAttempt& d : list) {
    w.StartObject()
        .Field("id", std::to_string(d.id))
        .Field("alert_id", std::to_string(d.alert_id))
        .Field("rule_id", d.rule_id)
        .Field("url", d.url)
        .Field("event", monitor::AlertStateName(d.event))
        .Field("attempt", d.attempt)
        .Field("status_code", d.status_code)
        .Field("success", d.success)
        .Field("final", d.final)
        .Field("timestamp", d.timestamp_ms);
    if (!d.error.empty()) w.Field("error", d.error);
    w.EndObject();
  }
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

}  // namespace

void RegisterAlertRoutes(http::Router& router, const AlertContext& context) {
  const std::string p(kPrefix);
  auto alerts = std::ref(*context.alerts);
  router.AddBlocking(http::Method::kPost, p + "/rules/create",
                     WithStatusErrors(alerts, CreateRule));
  router.AddBlocking(http::Method::kGet, p + "/rules/get", WithStatusErrors(alerts, GetRule));
  router.AddBlocking(http::Method::kGet, p + "/rules/list", WithStatusErrors(alerts, ListRules));
  router.AddBlocking(http::Method::kPost, p + "/rules/update",
                     WithStatusErrors(alerts, UpdateRule));
  router.AddBlocking(http::Method::kDelete, p + "/rules/delete",
                     WithStatusErrors(alerts, DeleteRule));
  router.AddBlocking(http::Method::kGet, p + "/list", WithStatusErrors(alerts, ListAlerts));
  router.AddBlocking(http::Method::kGet, p + "/deliveries",
                     WithStatusErrors(alerts, ListDeliveries));
}

}  // namespace mlforge::api

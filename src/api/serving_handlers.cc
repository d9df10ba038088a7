// Serving endpoints (docs/serving.md): the deployments REST API, Open
// Inference Protocol v2, MLflow's scoring protocol, and /metrics.
//
// Inference handlers are asynchronous: they decode the body on the worker
// that read it, hand the rows to the chosen version's batcher and return;
// the batch thread encodes the answer and sends it. Nothing on that path
// touches the database, the disk or a lock held by slow work.
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "api/api.h"
#include "api/handlers.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "base/json.h"
#include "base/metrics.h"
#include "http/http.h"
#include "serving/codec.h"
#include "serving/serving.h"

namespace mlforge::api {
namespace {

using serving::Deployment;
using serving::DeploymentStatus;
using serving::ServingEngine;

constexpr std::string_view kPrefix = "/api/2.0/mlforge/deployments";
constexpr std::string_view kRouteKeyHeader = "x-mlforge-route-key";
constexpr std::string_view kModelNameHeader = "X-Mlforge-Model-Name";
constexpr std::string_view kModelVersionHeader = "X-Mlforge-Model-Version";
constexpr std::string_view kDeploymentHeader = "X-Mlforge-Deployment";

// ------------------------------------------------------------ helpers

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The media type of a Content-Type value, without parameters or spaces.
std::string_view MediaType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return media;
}

Result<std::optional<int64_t>> VersionParam(const http::Request& request) {
  const std::string* v = request.PathParam("version");
  if (v == nullptr) return std::optional<int64_t>();
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < 1) {
    return Err(InvalidArgument(fmt::format("Invalid model version '{}': expected a number", *v)));
  }
  return std::optional<int64_t>(n);
}

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kResourceDoesNotExist:
      return 404;
    case ErrorCode::kTemporarilyUnavailable:
      return 503;
    default:
      return ErrorCodeHttpStatus(s.code());
  }
}

// OIP errors: {"error": "..."} with a 4xx (5xx only for our own failures).
http::Response OipError(const Status& s) {
  http::Response response;
  response.status = HttpStatusFor(s);
  std::string body = "{\"error\":";
  json::AppendQuoted(body, s.message());
  body += '}';
  response.body = std::move(body);
  return response;
}

http::Response MlflowError(const Status& s) {
  http::Response response;
  response.SetError(HttpStatusFor(s), ErrorCodeName(s.code()), s.message());
  return response;
}

void AddServedHeaders(http::Response& response, const std::string& deployment,
                      const std::string& model, const std::string& version) {
  response.headers.reserve(3);
  response.headers.emplace_back(kDeploymentHeader, deployment);
  response.headers.emplace_back(kModelNameHeader, model);
  response.headers.emplace_back(kModelVersionHeader, version);
}

// ------------------------------------------------------------ inference

enum class Protocol { kOip, kMlflow };

// Routes, decodes and queues one request; the batch thread answers.
void Infer(ServingEngine& engine, Protocol protocol, std::string_view deployment,
           http::Request& request, http::Responder responder) {
  auto fail = [&](const Status& s) {
    responder.Send(protocol == Protocol::kOip ? OipError(s) : MlflowError(s));
  };
  std::optional<int64_t> pinned;
  if (protocol == Protocol::kOip) {
    auto version = VersionParam(request);
    if (!version) return fail(version.error());
    pinned = *version;
  }
  auto routed = engine.Route(deployment, pinned, request.Header(kRouteKeyHeader));
  if (!routed) return fail(routed.error());
  const std::string_view content_type = request.Header("content-type");
  const std::string_view media = MediaType(content_type);
  if (protocol == Protocol::kOip && !media.empty() &&
      !EqualsIgnoreCase(media, "application/json")) {
    routed->Reject();
    return fail(InvalidArgument(fmt::format(
        "Unsupported Content-Type '{}': infer requests are application/json", content_type)));
  }
  if (protocol == Protocol::kMlflow && !EqualsIgnoreCase(media, "application/json") &&
      !EqualsIgnoreCase(media, "text/csv")) {
    routed->Reject();
    http::Response response;
    response.SetError(415, "BAD_REQUEST",
                      fmt::format("Content-Type '{}' is not supported: use application/json or "
                                  "text/csv",
                                  content_type));
    return responder.Send(std::move(response));
  }

  serving::FeatureBatch features;
  bool has_id = false;
  std::string id;
  if (protocol == Protocol::kOip) {
    auto decoded = serving::DecodeInferRequest(request.body, routed->signature());
    if (!decoded) {
      routed->Reject();
      return fail(decoded.error());
    }
    features = std::move(decoded->features);
    has_id = decoded->has_id;
    id = std::move(decoded->id);
  } else {
    auto decoded =
        serving::DecodeInvocationsRequest(content_type, request.body, routed->signature());
    if (!decoded) {
      routed->Reject();
      return fail(decoded.error());
    }
    features = std::move(*decoded);
  }

  std::string version = std::to_string(routed->version());
  std::string model = routed->model_name();
  std::string name = routed->deployment();
  routed->Predict(std::move(features), request.request_id,
                  [protocol, responder = std::move(responder), has_id, id = std::move(id),
                   version = std::move(version), model = std::move(model), name = std::move(name)](
                      const Result<serving::PredictionBatch>& predicted) mutable {
                    if (!predicted) {
                      responder.Send(protocol == Protocol::kOip ? OipError(predicted.error())
                                                                : MlflowError(predicted.error()));
                      return;
                    }
                    http::Response response;
                    response.body.reserve(128 + predicted->values.size() * 20);
                    if (protocol == Protocol::kOip) {
                      serving::InferResponseHeader header;
                      header.model_name = name;
                      header.model_version = version;
                      header.id = has_id ? &id : nullptr;
                      serving::AppendInferResponse(header, *predicted, &response.body);
                    } else {
                      serving::AppendInvocationsResponse(*predicted, &response.body);
                    }
                    AddServedHeaders(response, name, model, version);
                    responder.Send(std::move(response));
                  });
}

std::string Platform(std::string_view flavor) {
  if (flavor.starts_with("mlforge.")) flavor.remove_prefix(8);
  std::string out = "mlforge_";
  for (char c : flavor) out += c == '.' ? '_' : c;
  return out;
}

void ModelMetadata(ServingEngine& engine, http::Request& request, http::Response& response) {
  const std::string& name = *request.PathParam("name");
  auto version = VersionParam(request);
  if (!version) {
    response = OipError(version.error());
    return;
  }
  auto info = engine.Describe(name, *version);
  if (!info) {
    response = OipError(info.error());
    return;
  }
  std::vector<std::string> versions;
  for (const serving::ServedRoute& r : info->routes) {
    std::string v = std::to_string(r.version);
    if (std::find(versions.begin(), versions.end(), v) == versions.end()) versions.push_back(v);
  }
  serving::AppendInferModelMetadata(name, versions, Platform(info->flavor), info->signature,
                                    &response.body);
}

void ModelReady(ServingEngine& engine, http::Request& request, http::Response& response) {
  const std::string& name = *request.PathParam("name");
  auto version = VersionParam(request);
  if (!version) {
    response = OipError(version.error());
    return;
  }
  if (!engine.GetStatus(name)) {
    response = OipError(NotFound(fmt::format("Deployment '{}' not found", name)));
    return;
  }
  const bool ready = engine.IsReady(name, *version);
  json::Writer w;
  w.StartObject().Field("name", name).Field("ready", ready).EndObject();
  response.SetJson(w.Take(), ready ? 200 : 503);
}

// ------------------------------------------------------------ deployments API

std::string RequestUserOr(const http::Request& request) {
  std::string user = RequestUser(request);
  return user.empty() ? serving::Actor{}.user : user;
}

void WriteStatus(json::Writer& w, const DeploymentStatus& s) {
  w.Key("status").StartObject().Field("state", serving::DeploymentStateName(s.state));
  w.Field("serving_revision", s.serving_revision);
  if (!s.message.empty()) w.Field("message", s.message);
  w.Field("last_change_timestamp", s.last_change_timestamp);
  w.Key("routes").StartArray();
  for (const serving::ServedRoute& r : s.routes) {
    w.StartObject()
        .Field("model_name", r.spec.model_name)
        .Field("ref", r.spec.Ref())
        .Field("role", serving::RouteRoleName(r.spec.role))
        .Field("weight", r.spec.weight)
        .Field("version", std::to_string(r.version))
        .EndObject();
  }
  w.EndArray().EndObject();
}

void WriteDeployment(json::Writer& w, const Deployment& d, const ServingEngine* engine) {
  w.StartObject()
      .Field("name", d.name)
      .Field("description", d.description)
      .Field("revision", d.revision)
      .Field("creation_timestamp", d.creation_timestamp)
      .Field("last_updated_timestamp", d.last_updated_timestamp);
  w.Key("routes");
  serving::WriteRoutes(w, d.routes);
  w.Key("config");
  serving::WriteConfig(w, d.config);
  if (engine != nullptr) {
    if (auto status = engine->GetStatus(d.name)) WriteStatus(w, *status);
  }
  w.EndObject();
}

void RespondDeployment(const ServingContext& ctx, const Deployment& d, http::Response& response) {
  json::Writer w;
  w.StartObject().Key("deployment");
  WriteDeployment(w, d, ctx.engine);
  response.SetJson(w.EndObject().Take());
}

// A change through this server's API is applied before the call returns.
void ApplyNow(const ServingContext& ctx) {
  if (ctx.engine != nullptr) ctx.engine->Refresh();
}

Result<std::string> NameOf(const RequestMessage& m) { return m.RequiredString("name"); }

Status Create(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  serving::CreateDeploymentRequest req;
  ASSIGN_OR_RETURN(req.name, NameOf(m));
  const json::Value* routes = m.Find("routes");
  if (routes == nullptr) return MissingValue("routes");
  ASSIGN_OR_RETURN(req.routes, serving::ParseRoutes(*routes));
  if (const json::Value* config = m.Find("config")) {
    ASSIGN_OR_RETURN(req.config, serving::ParseConfig(*config));
  }
  ASSIGN_OR_RETURN(req.description, m.StringOr("description"));
  ASSIGN_OR_RETURN(Deployment d,
                   ctx.deployments->Create(serving::Actor{RequestUserOr(request)}, req));
  ApplyNow(ctx);
  RespondDeployment(ctx, d, response);
  return Status::Ok();
}

Status Get(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "name"));
  ASSIGN_OR_RETURN(Deployment d, ctx.deployments->Get(name));
  RespondDeployment(ctx, d, response);
  return Status::Ok();
}

Status List(const ServingContext& ctx, const http::Request&, http::Response& response) {
  ASSIGN_OR_RETURN(std::vector<Deployment> all, ctx.deployments->List());
  json::Writer w;
  w.StartObject().Key("deployments").StartArray();
  for (const Deployment& d : all) WriteDeployment(w, d, ctx.engine);
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status Update(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  serving::UpdateDeploymentRequest req;
  ASSIGN_OR_RETURN(req.name, NameOf(m));
  if (const json::Value* routes = m.Find("routes")) {
    ASSIGN_OR_RETURN(req.routes, serving::ParseRoutes(*routes));
  }
  if (const json::Value* config = m.Find("config")) {
    ASSIGN_OR_RETURN(Deployment current, ctx.deployments->Get(req.name));
    ASSIGN_OR_RETURN(req.config, serving::ParseConfig(*config, current.config));
  }
  ASSIGN_OR_RETURN(req.description, m.OptionalString("description"));
  ASSIGN_OR_RETURN(req.expected_revision, m.OptionalInt64("expected_revision"));
  ASSIGN_OR_RETURN(Deployment d,
                   ctx.deployments->Update(serving::Actor{RequestUserOr(request)}, req));
  ApplyNow(ctx);
  RespondDeployment(ctx, d, response);
  return Status::Ok();
}

Status Rollback(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
  ASSIGN_OR_RETURN(std::string name, NameOf(m));
  ASSIGN_OR_RETURN(std::optional<int64_t> to, m.OptionalInt64("to_revision"));
  ASSIGN_OR_RETURN(Deployment d,
                   ctx.deployments->Rollback(serving::Actor{RequestUserOr(request)}, name, to));
  ApplyNow(ctx);
  RespondDeployment(ctx, d, response);
  return Status::Ok();
}

Status Delete(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  std::string name;
  if (const std::string* q = request.QueryParam("name"); q != nullptr && request.body.empty()) {
    name = *q;  // DELETE bodies are dropped by some proxies: the query works too
  } else {
    ASSIGN_OR_RETURN(RequestMessage m, RequestMessage::Decode(request));
    ASSIGN_OR_RETURN(name, NameOf(m));
  }
  RETURN_IF_ERROR(ctx.deployments->Delete(serving::Actor{RequestUserOr(request)}, name));
  ApplyNow(ctx);
  response.SetJson(std::string(kEmptyResponse));
  return Status::Ok();
}

Status Events(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "name"));
  ASSIGN_OR_RETURN(std::optional<int64_t> max, m.OptionalInt64("max_results"));
  if (max && (*max < 1 || *max > serving::kEventsMax)) {
    return InvalidArgument(
        fmt::format("max_results must be between 1 and {}", serving::kEventsMax));
  }
  ASSIGN_OR_RETURN(std::string token, m.StringOr("page_token"));
  ASSIGN_OR_RETURN(serving::DeploymentEventPage page,
                   ctx.deployments->ListEvents(
                       name, max ? static_cast<int>(*max) : serving::kEventsDefault, token));
  json::Writer w;
  w.StartObject().Key("events").StartArray();
  for (const serving::DeploymentEvent& e : page.events) {
    w.StartObject()
        .Field("event_id", std::to_string(e.event_id))
        .Field("timestamp", e.timestamp)
        .Field("user", e.user)
        .Field("action", e.action)
        .Field("name", e.name)
        .Field("revision", e.revision);
    if (!e.before_json.empty()) w.Key("before").Raw(e.before_json);
    if (!e.after_json.empty()) w.Key("after").Raw(e.after_json);
    w.EndObject();
  }
  w.EndArray();
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  response.SetJson(w.EndObject().Take());
  return Status::Ok();
}

void WriteValues(json::Writer& w, std::string_view key, const std::vector<double>& values) {
  w.Key(key).StartArray();
  for (double v : values) w.Double(v);
  w.EndArray();
}

Status Shadow(const ServingContext& ctx, const http::Request& request, http::Response& response) {
  ASSIGN_OR_RETURN(std::string name, RequiredQueryParam(request, "name"));
  if (ctx.engine == nullptr) {
    return Status(ErrorCode::kNotImplemented, "This server does not serve models");
  }
  auto stats = ctx.engine->Shadow(name);
  if (!stats) {
    RETURN_IF_ERROR(StatusOf(ctx.deployments->Get(name)));  // 404 for unknown names
    stats = serving::ShadowStats{};
  }
  json::Writer w;
  w.StartObject()
      .Field("name", name)
      .Key("mirrored")
      .Uint(stats->mirrored)
      .Key("dropped")
      .Uint(stats->dropped)
      .Key("errors")
      .Uint(stats->errors);
  w.Key("samples").StartArray();
  for (const serving::ShadowSample& s : stats->samples) {
    w.StartObject()
        .Field("timestamp", s.timestamp)
        .Field("request_id", s.request_id)
        .Field("rows", s.rows);
    w.Key("primary")
        .StartObject()
        .Field("model_name", s.primary_model)
        .Field("version", std::to_string(s.primary_version));
    w.Key("output_names").StartArray();
    for (const std::string& n : s.output_names) w.String(n);
    w.EndArray();
    WriteValues(w, "values", s.primary_values);
    w.EndObject();
    w.Key("shadows").StartArray();
    for (const serving::ShadowOutput& o : s.shadows) {
      w.StartObject()
          .Field("model_name", o.model_name)
          .Field("version", std::to_string(o.version))
          .Field("latency_ms", o.latency_ms);
      if (o.error.empty()) {
        WriteValues(w, "values", o.values);
      } else {
        w.Field("error", o.error);
      }
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  response.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

}  // namespace

void RegisterDeploymentRoutes(http::Router& router, const ServingContext& context) {
  const std::string p(kPrefix);
  router.AddBlocking(http::Method::kPost, p + "/create", WithStatusErrors(context, Create));
  router.AddBlocking(http::Method::kGet, p + "/get", WithStatusErrors(context, Get));
  router.AddBlocking(http::Method::kGet, p + "/list", WithStatusErrors(context, List));
  router.AddBlocking(http::Method::kPost, p + "/update", WithStatusErrors(context, Update));
  router.AddBlocking(http::Method::kPost, p + "/rollback", WithStatusErrors(context, Rollback));
  router.AddBlocking(http::Method::kDelete, p + "/delete", WithStatusErrors(context, Delete));
  router.AddBlocking(http::Method::kGet, p + "/events", WithStatusErrors(context, Events));
  router.AddBlocking(http::Method::kGet, p + "/shadow", WithStatusErrors(context, Shadow));
}

void RegisterInferenceRoutes(http::Router& router, const ServingContext& context) {
  ServingEngine* engine = context.engine;
  auto oip_infer = [engine](http::Request& request, http::Responder responder) {
    Infer(*engine, Protocol::kOip, *request.PathParam("name"), request, std::move(responder));
  };
  router.AddAsync(http::Method::kPost, "/v2/models/{name}/infer", oip_infer);
  router.AddAsync(http::Method::kPost, "/v2/models/{name}/versions/{version}/infer", oip_infer);
  router.AddAsync(http::Method::kPost, "/deployments/{name}/invocations",
                  [engine](http::Request& request, http::Responder responder) {
                    Infer(*engine, Protocol::kMlflow, *request.PathParam("name"), request,
                          std::move(responder));
                  });

  router.Add(http::Method::kGet, "/v2/health/live",
             [](http::Request&, http::Response& response) { response.SetJson("{\"live\":true}"); });
  router.Add(
      http::Method::kGet, "/v2/health/ready", [engine](http::Request&, http::Response& response) {
        const bool ready = engine->AllReady();
        response.SetJson(ready ? "{\"ready\":true}" : "{\"ready\":false}", ready ? 200 : 503);
      });
  router.Add(http::Method::kGet, "/v2",
             [version = context.version](http::Request&, http::Response& response) {
               json::Writer w;
               w.StartObject().Field("name", "mlforge").Field("version", version);
               w.Key("extensions").StartArray().EndArray();
               response.SetJson(w.EndObject().Take());
             });
  auto metadata = [engine](http::Request& request, http::Response& response) {
    ModelMetadata(*engine, request, response);
  };
  router.Add(http::Method::kGet, "/v2/models/{name}", metadata);
  router.Add(http::Method::kGet, "/v2/models/{name}/versions/{version}", metadata);
  auto ready = [engine](http::Request& request, http::Response& response) {
    ModelReady(*engine, request, response);
  };
  router.Add(http::Method::kGet, "/v2/models/{name}/ready", ready);
  router.Add(http::Method::kGet, "/v2/models/{name}/versions/{version}/ready", ready);
}

void RegisterScoringServerRoutes(http::Router& router, const ServingContext& context,
                                 std::string deployment) {
  ServingEngine* engine = context.engine;
  router.AddAsync(http::Method::kPost, "/invocations",
                  [engine, deployment](http::Request& request, http::Responder responder) {
                    Infer(*engine, Protocol::kMlflow, deployment, request, std::move(responder));
                  });
  // MLflow's scoring server: 200 once the model is loaded, else 503.
  auto ping = [engine, deployment](http::Request&, http::Response& response) {
    const bool ready = engine->IsReady(deployment, std::nullopt);
    response.status = ready ? 200 : 503;
    response.content_type = "application/json";
    response.body = "\n";
  };
  router.Add(http::Method::kGet, "/ping", ping);
  router.Add(http::Method::kGet, "/health", ping);
  router.Add(http::Method::kGet, "/version",
             [version = context.version](http::Request&, http::Response& response) {
               response.content_type = "text/plain";
               response.body = version;
             });
}

void RegisterMetricsRoute(http::Router& router, metrics::Registry& registry) {
  router.Add(http::Method::kGet, "/metrics", [&registry](http::Request&, http::Response& response) {
    response.content_type = std::string(metrics::Registry::kContentType);
    response.body = registry.Render();
  });
}

}  // namespace mlforge::api

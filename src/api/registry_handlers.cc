// MLflow model-registry REST handlers: decode (mlflow_request.h), call the
// RegistryService, encode MLflow 2.12's JSON shapes. Field checks follow the
// schemas of MLflow's server/handlers.py; what a call means is the
// RegistryService's. Also mlforge's own audit-log route
// /api/2.0/mlforge/registry/events and /model-versions/get-artifact.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "api/handlers.h"
#include "api/mlflow_json.h"
#include "api/mlflow_request.h"
#include "base/page_token.h"
#include "blob/blob.h"
#include "http/http.h"
#include "registry/registry.h"

namespace mlforge::api {
namespace {

using registry::Actor;
using registry::ModelVersion;
using registry::RegisteredModel;

// A registry handler: the decoded request and who sent it in, JSON out.
using RegistryHandler = Result<std::string> (*)(registry::RegistryService&, const RequestMessage&,
                                                const Actor&);

// ---------------------------------------------------------------- encoding

void WriteTags(json::Writer& w, const std::vector<registry::Tag>& tags) {
  if (tags.empty()) return;
  w.Key("tags").StartArray();
  for (const registry::Tag& t : tags) {
    w.StartObject().Field("key", t.key).Field("value", t.value).EndObject();
  }
  w.EndArray();
}

// MLflow's ModelVersion.to_proto(): description, run_id and run_link only
// when set (a created version has them, "" included); user_id never;
// status_message only when non-empty (never, here).
void WriteModelVersion(json::Writer& w, const ModelVersion& mv) {
  w.StartObject();
  w.Field("name", mv.name);
  w.Field("version", std::to_string(mv.version));
  w.Field("creation_timestamp", mv.creation_timestamp);
  w.Field("last_updated_timestamp", mv.last_updated_timestamp);
  w.Field("current_stage", mv.current_stage);
  if (mv.description) w.Field("description", *mv.description);
  w.Field("source", mv.source);
  if (mv.run_id) w.Field("run_id", *mv.run_id);
  w.Field("status", mv.status);
  WriteTags(w, mv.tags);
  if (mv.run_link) w.Field("run_link", *mv.run_link);
  if (!mv.aliases.empty()) {
    w.Key("aliases").StartArray();
    for (const std::string& a : mv.aliases) w.String(a);
    w.EndArray();
  }
  w.EndObject();
}

// MLflow's RegisteredModel.to_proto(): description only when non-empty.
void WriteRegisteredModel(json::Writer& w, const RegisteredModel& m) {
  w.StartObject();
  w.Field("name", m.name);
  w.Field("creation_timestamp", m.creation_timestamp);
  if (m.last_updated_timestamp) w.Field("last_updated_timestamp", m.last_updated_timestamp);
  if (!m.description.empty()) w.Field("description", m.description);
  if (!m.latest_versions.empty()) {
    w.Key("latest_versions").StartArray();
    for (const ModelVersion& mv : m.latest_versions) WriteModelVersion(w, mv);
    w.EndArray();
  }
  WriteTags(w, m.tags);
  if (!m.aliases.empty()) {
    w.Key("aliases").StartArray();
    for (const registry::Alias& a : m.aliases) {
      w.StartObject()
          .Field("alias", a.alias)
          .Field("version", std::to_string(a.version))
          .EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

std::string ModelResponse(const RegisteredModel& m) {
  json::Writer w;
  w.StartObject().Key("registered_model");
  WriteRegisteredModel(w, m);
  w.EndObject();
  return w.Take();
}

std::string VersionResponse(const ModelVersion& mv) {
  json::Writer w;
  w.StartObject().Key("model_version");
  WriteModelVersion(w, mv);
  w.EndObject();
  return w.Take();
}

std::string Empty() { return std::string(kEmptyResponse); }

// ---------------------------------------------------------------- decoding

Result<std::vector<registry::Tag>> DecodeTags(const RequestMessage& m) {
  ASSIGN_OR_RETURN(std::vector<const json::Value*> items, m.ObjectList("tags"));
  std::vector<registry::Tag> out;
  for (size_t i = 0; i < items.size(); ++i) {
    NestedMessage nm(*items[i], "tags[" + std::to_string(i) + "].");
    registry::Tag t;
    ASSIGN_OR_RETURN(t.key, nm.StringOr("key"));
    ASSIGN_OR_RETURN(t.value, nm.StringOr("value"));
    out.push_back(std::move(t));
  }
  return out;
}

// max_results as MLflow's handlers check it: int-like and at most `limit`
// (MLflow lets 0 and negatives through to odd results; they are refused here).
Result<int> DecodeMaxResults(const RequestMessage& m, int fallback, int limit) {
  const json::Value* v = m.Find("max_results");
  if (v == nullptr) return fallback;
  ASSIGN_OR_RETURN(int64_t n, ToInt64Field(*v, "max_results"));
  if (n < 1 || n > limit) return Err(InvalidValue(*v, "max_results"));
  return static_cast<int>(n);
}

Result<registry::SearchRequest> DecodeSearch(const RequestMessage& m, int fallback, int limit) {
  registry::SearchRequest req;
  ASSIGN_OR_RETURN(req.filter, m.StringOr("filter"));
  ASSIGN_OR_RETURN(req.max_results, DecodeMaxResults(m, fallback, limit));
  ASSIGN_OR_RETURN(req.order_by, m.StringList("order_by"));
  ASSIGN_OR_RETURN(req.page_token, m.StringOr("page_token"));
  return req;
}

// proto bool: JSON true/false (also "true"/"false" from a query string).
Result<bool> OptionalBool(const RequestMessage& m, std::string_view name) {
  const json::Value* v = m.Find(name);
  if (v == nullptr) return false;
  if (v->is_bool()) return v->as_bool();
  if (v->is_string()) {
    std::string lower = v->as_string();
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "true") return true;
    if (lower == "false") return false;
  }
  return Err(InvalidValue(*v, name));
}

// Who is calling, for the audit log.
Actor ActorOf(const http::Request& request) {
  Actor actor;
  if (std::string user = RequestUser(request); !user.empty()) actor.user = std::move(user);
  return actor;
}

// ------------------------------------------------------ registered models

Result<std::string> CreateRegisteredModel(registry::RegistryService& reg, const RequestMessage& m,
                                          const Actor& actor) {
  registry::CreateRegisteredModelRequest req;
  ASSIGN_OR_RETURN(req.name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(req.tags, DecodeTags(m));
  ASSIGN_OR_RETURN(req.description, m.StringOr("description"));
  ASSIGN_OR_RETURN(RegisteredModel model, reg.CreateRegisteredModel(actor, req));
  return ModelResponse(model);
}

Result<std::string> GetRegisteredModel(registry::RegistryService& reg, const RequestMessage& m,
                                       const Actor&) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(RegisteredModel model, reg.GetRegisteredModel(name));
  return ModelResponse(model);
}

Result<std::string> RenameRegisteredModel(registry::RegistryService& reg, const RequestMessage& m,
                                          const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string new_name, m.RequiredString("new_name"));
  ASSIGN_OR_RETURN(RegisteredModel model, reg.RenameRegisteredModel(actor, name, new_name));
  return ModelResponse(model);
}

Result<std::string> UpdateRegisteredModel(registry::RegistryService& reg, const RequestMessage& m,
                                          const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::optional<std::string> description, m.OptionalString("description"));
  ASSIGN_OR_RETURN(RegisteredModel model, reg.UpdateRegisteredModel(actor, name, description));
  return ModelResponse(model);
}

Result<std::string> DeleteRegisteredModel(registry::RegistryService& reg, const RequestMessage& m,
                                          const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  RETURN_IF_ERROR(reg.DeleteRegisteredModel(actor, name));
  return Empty();
}

Result<std::string> SearchRegisteredModels(registry::RegistryService& reg, const RequestMessage& m,
                                           const Actor&) {
  ASSIGN_OR_RETURN(registry::SearchRequest req,
                   DecodeSearch(m, registry::kSearchModelsDefault, registry::kSearchModelsMax));
  ASSIGN_OR_RETURN(registry::RegisteredModelPage page, reg.SearchRegisteredModels(req));
  json::Writer w;
  w.StartObject();
  if (!page.models.empty()) {
    w.Key("registered_models").StartArray();
    for (const RegisteredModel& model : page.models) WriteRegisteredModel(w, model);
    w.EndArray();
  }
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  w.EndObject();
  return w.Take();
}

Result<std::string> GetLatestVersions(registry::RegistryService& reg, const RequestMessage& m,
                                      const Actor&) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::vector<std::string> stages, m.StringList("stages"));
  ASSIGN_OR_RETURN(std::vector<ModelVersion> versions, reg.GetLatestVersions(name, stages));
  json::Writer w;
  w.StartObject();
  if (!versions.empty()) {
    w.Key("model_versions").StartArray();
    for (const ModelVersion& mv : versions) WriteModelVersion(w, mv);
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

Result<std::string> SetRegisteredModelTag(registry::RegistryService& reg, const RequestMessage& m,
                                          const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  registry::Tag tag;
  ASSIGN_OR_RETURN(tag.key, m.RequiredString("key"));
  ASSIGN_OR_RETURN(tag.value, m.StringOr("value"));  // "" allowed, as MLflow's handler
  RETURN_IF_ERROR(reg.SetRegisteredModelTag(actor, name, tag));
  return Empty();
}

Result<std::string> DeleteRegisteredModelTag(registry::RegistryService& reg,
                                             const RequestMessage& m, const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string key, m.RequiredString("key"));
  RETURN_IF_ERROR(reg.DeleteRegisteredModelTag(actor, name, key));
  return Empty();
}

Result<std::string> SetAlias(registry::RegistryService& reg, const RequestMessage& m,
                             const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string alias, m.RequiredString("alias"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  RETURN_IF_ERROR(reg.SetAlias(actor, name, alias, version));
  return Empty();
}

Result<std::string> DeleteAlias(registry::RegistryService& reg, const RequestMessage& m,
                                const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string alias, m.RequiredString("alias"));
  RETURN_IF_ERROR(reg.DeleteAlias(actor, name, alias));
  return Empty();
}

Result<std::string> GetModelVersionByAlias(registry::RegistryService& reg, const RequestMessage& m,
                                           const Actor&) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string alias, m.RequiredString("alias"));
  ASSIGN_OR_RETURN(ModelVersion mv, reg.GetModelVersionByAlias(name, alias));
  return VersionResponse(mv);
}

// -------------------------------------------------------- model versions

Result<std::string> CreateModelVersion(registry::RegistryService& reg, const RequestMessage& m,
                                       const Actor& actor) {
  registry::CreateModelVersionRequest req;
  ASSIGN_OR_RETURN(req.name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(req.source, m.RequiredString("source"));
  ASSIGN_OR_RETURN(req.run_id, m.StringOr("run_id"));
  ASSIGN_OR_RETURN(req.tags, DecodeTags(m));
  ASSIGN_OR_RETURN(req.run_link, m.StringOr("run_link"));
  // MLflow's handler passes the proto default "" when absent, so created
  // versions always show a description.
  ASSIGN_OR_RETURN(std::string description, m.StringOr("description"));
  req.description = std::move(description);
  ASSIGN_OR_RETURN(ModelVersion mv, reg.CreateModelVersion(actor, req));
  return VersionResponse(mv);
}

Result<std::string> GetModelVersion(registry::RegistryService& reg, const RequestMessage& m,
                                    const Actor&) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  ASSIGN_OR_RETURN(ModelVersion mv, reg.GetModelVersion(name, version));
  return VersionResponse(mv);
}

Result<std::string> UpdateModelVersion(registry::RegistryService& reg, const RequestMessage& m,
                                       const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  ASSIGN_OR_RETURN(std::optional<std::string> description, m.OptionalString("description"));
  ASSIGN_OR_RETURN(ModelVersion mv, reg.UpdateModelVersion(actor, name, version, description));
  return VersionResponse(mv);
}

Result<std::string> DeleteModelVersion(registry::RegistryService& reg, const RequestMessage& m,
                                       const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  RETURN_IF_ERROR(reg.DeleteModelVersion(actor, name, version));
  return Empty();
}

Result<std::string> SearchModelVersions(registry::RegistryService& reg, const RequestMessage& m,
                                        const Actor&) {
  ASSIGN_OR_RETURN(registry::SearchRequest req,
                   DecodeSearch(m, registry::kSearchVersionsDefault, registry::kSearchVersionsMax));
  ASSIGN_OR_RETURN(registry::ModelVersionPage page, reg.SearchModelVersions(req));
  json::Writer w;
  w.StartObject();
  if (!page.versions.empty()) {
    w.Key("model_versions").StartArray();
    for (const ModelVersion& mv : page.versions) WriteModelVersion(w, mv);
    w.EndArray();
  }
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  w.EndObject();
  return w.Take();
}

Result<std::string> TransitionStage(registry::RegistryService& reg, const RequestMessage& m,
                                    const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  ASSIGN_OR_RETURN(std::string stage, m.RequiredString("stage"));
  ASSIGN_OR_RETURN(bool archive, OptionalBool(m, "archive_existing_versions"));
  ASSIGN_OR_RETURN(ModelVersion mv, reg.TransitionStage(actor, name, version, stage, archive));
  return VersionResponse(mv);
}

Result<std::string> SetModelVersionTag(registry::RegistryService& reg, const RequestMessage& m,
                                       const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  registry::Tag tag;
  ASSIGN_OR_RETURN(tag.key, m.RequiredString("key"));
  ASSIGN_OR_RETURN(tag.value, m.StringOr("value"));
  RETURN_IF_ERROR(reg.SetModelVersionTag(actor, name, version, tag));
  return Empty();
}

Result<std::string> DeleteModelVersionTag(registry::RegistryService& reg, const RequestMessage& m,
                                          const Actor& actor) {
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  ASSIGN_OR_RETURN(std::string key, m.RequiredString("key"));
  RETURN_IF_ERROR(reg.DeleteModelVersionTag(actor, name, version, key));
  return Empty();
}

Result<std::string> GetDownloadUri(registry::RegistryService& reg, const RequestMessage& m,
                                   const Actor&) {
  // MLflow checks nothing here; missing fields are reported like elsewhere.
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  ASSIGN_OR_RETURN(std::string uri, reg.GetDownloadUri(name, version));
  json::Writer w;
  w.StartObject().Field("artifact_uri", uri).EndObject();
  return w.Take();
}

// ------------------------------------------------------------- audit log

Result<std::string> ListEvents(registry::RegistryService& reg, const RequestMessage& m,
                               const Actor&) {
  registry::EventsRequest req;
  ASSIGN_OR_RETURN(req.name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::optional<std::string> version, m.OptionalString("version"));
  if (version) {
    ASSIGN_OR_RETURN(req.version, ToInt64Field(*m.Find("version"), "version"));
  }
  ASSIGN_OR_RETURN(req.max_results,
                   DecodeMaxResults(m, registry::kEventsDefault, registry::kEventsMax));
  ASSIGN_OR_RETURN(req.page_token, m.StringOr("page_token"));
  ASSIGN_OR_RETURN(registry::EventPage page, reg.ListEvents(req));
  json::Writer w;
  w.StartObject().Key("events").StartArray();
  for (const registry::Event& e : page.events) {
    w.StartObject();
    w.Field("event_id", std::to_string(e.event_id));
    w.Field("timestamp", e.timestamp);
    w.Field("user", e.user);
    w.Field("action", e.action);
    w.Field("name", e.name);
    if (e.version) w.Field("version", std::to_string(*e.version));
    if (!e.before_json.empty()) w.Key("before").Raw(e.before_json);
    if (!e.after_json.empty()) w.Key("after").Raw(e.after_json);
    w.EndObject();
  }
  w.EndArray();
  if (!page.next_page_token.empty()) w.Field("next_page_token", page.next_page_token);
  w.EndObject();
  return w.Take();
}

// ------------------------------------------------------------ get-artifact

// GET /model-versions/get-artifact?name=&version=&path=: a file of a
// version's pinned copy (MLflow's get_model_version_artifact_handler).
Status GetModelVersionArtifact(const MlflowContext& context, http::Request& request,
                               http::Response& response) {
  RequestMessage m = RequestMessage::FromQuery(request.query_params);
  ASSIGN_OR_RETURN(std::string name, m.RequiredString("name"));
  ASSIGN_OR_RETURN(std::string version, m.RequiredString("version"));
  ASSIGN_OR_RETURN(std::string raw_path, m.RequiredString("path"));
  ASSIGN_OR_RETURN(std::string path, blob::NormalizeRelativePath(raw_path));
  ASSIGN_OR_RETURN(ModelVersion mv, context.registry->GetModelVersion(name, version));
  if (!context.artifacts) {
    return Status(ErrorCode::kNotImplemented,
                  "Artifact downloads need the artifact store: the server runs with "
                  "--no-serve-artifacts.");
  }
  ASSIGN_OR_RETURN(std::filesystem::path file,
                   context.artifacts->Resolve(JoinArtifactPath(mv.storage_path, path)));
  SendArtifactFile(response, std::move(file), path);
  return Status::Ok();
}

struct Route {
  http::Method method;
  std::string_view path;  // after the API prefix
  RegistryHandler handler;
  std::vector<std::string> repeated;
  // Whether a success may change which version an alias, stage or name
  // resolves to (serving is told at once rather than at its next poll).
  bool moves_versions = false;
  // Whether a success registers a new version (monitoring is told).
  bool creates_version = false;
};

std::vector<Route> RegistryRoutes() {
  using http::Method;
  return {
      {Method::kPost, "/mlflow/registered-models/create", CreateRegisteredModel, {"tags"}},
      {Method::kGet, "/mlflow/registered-models/get", GetRegisteredModel, {}},
      {Method::kPost, "/mlflow/registered-models/rename", RenameRegisteredModel, {}, true},
      {Method::kPatch, "/mlflow/registered-models/update", UpdateRegisteredModel, {}},
      {Method::kDelete, "/mlflow/registered-models/delete", DeleteRegisteredModel, {}, true},
      {Method::kGet, "/mlflow/registered-models/search", SearchRegisteredModels, {"order_by"}},
      {Method::kPost,
       "/mlflow/registered-models/get-latest-versions",
       GetLatestVersions,
       {"stages"}},
      {Method::kGet,
       "/mlflow/registered-models/get-latest-versions",
       GetLatestVersions,
       {"stages"}},
      {Method::kPost, "/mlflow/registered-models/set-tag", SetRegisteredModelTag, {}},
      {Method::kDelete, "/mlflow/registered-models/delete-tag", DeleteRegisteredModelTag, {}},
      {Method::kPost, "/mlflow/registered-models/alias", SetAlias, {}, true},
      {Method::kDelete, "/mlflow/registered-models/alias", DeleteAlias, {}, true},
      {Method::kGet, "/mlflow/registered-models/alias", GetModelVersionByAlias, {}},
      {Method::kPost, "/mlflow/model-versions/create", CreateModelVersion, {"tags"}, false, true},
      {Method::kGet, "/mlflow/model-versions/get", GetModelVersion, {}},
      {Method::kPatch, "/mlflow/model-versions/update", UpdateModelVersion, {}},
      {Method::kDelete, "/mlflow/model-versions/delete", DeleteModelVersion, {}, true},
      {Method::kGet, "/mlflow/model-versions/search", SearchModelVersions, {"order_by"}},
      {Method::kPost, "/mlflow/model-versions/transition-stage", TransitionStage, {}, true},
      {Method::kPost, "/mlflow/model-versions/set-tag", SetModelVersionTag, {}},
      {Method::kDelete, "/mlflow/model-versions/delete-tag", DeleteModelVersionTag, {}},
      {Method::kGet, "/mlflow/model-versions/get-download-uri", GetDownloadUri, {}},
      // mlforge's own: the append-only audit log.
      {Method::kGet, "/mlforge/registry/events", ListEvents, {}},
  };
}

// Tells `created` which version a model-versions/create answer holds.
void AnnounceCreatedVersion(const std::string& body,
                            const std::function<void(const std::string&, int64_t)>& created) {
  auto v = json::Parse(body);
  const json::Value* mv = v ? v->Find("model_version") : nullptr;
  const json::Value* name = mv ? mv->Find("name") : nullptr;
  const json::Value* version = mv ? mv->Find("version") : nullptr;
  if (name == nullptr || !name->is_string() || version == nullptr || !version->is_string()) return;
  int64_t number = 0;
  const std::string& text = version->as_string();
  if (std::from_chars(text.data(), text.data() + text.size(), number).ec != std::errc()) return;
  created(name->as_string(), number);
}

}  // namespace

bool IsRegistryArtifactPath(std::string_view normalized_path) {
  return normalized_path == registry::kArtifactPrefix ||
         (normalized_path.starts_with(registry::kArtifactPrefix) &&
          normalized_path.size() > registry::kArtifactPrefix.size() &&
          normalized_path[registry::kArtifactPrefix.size()] == '/');
}

void RegisterRegistryRoutes(http::Router& router, const MlflowContext& context) {
  if (context.registry == nullptr) return;
  registry::RegistryService* reg = context.registry;
  for (Route& route : RegistryRoutes()) {
    std::function<void()> notify;
    if (route.moves_versions) notify = context.on_versions_moved;
    std::function<void(const std::string&, int64_t)> created;
    if (route.creates_version) created = context.on_version_created;
    auto handler = [reg, fn = route.handler, repeated = route.repeated, notify, created](
                       http::Request& request, http::Response& response) {
      auto message = RequestMessage::Decode(request, repeated);
      if (!message) return SetStatusError(response, message.error());
      Result<std::string> body = fn(*reg, *message, ActorOf(request));
      if (!body) return SetStatusError(response, body.error());
      if (notify) notify();
      if (created) AnnounceCreatedVersion(*body, created);
      response.SetJson(std::move(*body));
    };
    for (std::string_view prefix : {kApiPrefix, kAjaxPrefix}) {
      router.AddBlocking(route.method, std::string(prefix) + std::string(route.path), handler);
    }
  }
  router.AddBlocking(http::Method::kGet, "/model-versions/get-artifact",
                     [context](http::Request& request, http::Response& response) {
                       Status s = GetModelVersionArtifact(context, request, response);
                       if (!s.ok()) SetStatusError(response, s);
                     });
}

}  // namespace mlforge::api

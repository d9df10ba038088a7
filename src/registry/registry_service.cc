// RegistryService over the sql layer (tables: schema.cc), the tracking
// service (runs named by sources) and the artifact store (pinned files).
// Semantics follow MLflow 2.12's SqlAlchemyStore for the model registry;
// differences are listed in docs/registry.md.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/page_token.h"
#include "blob/blob.h"
#include "registry/mlmodel.h"
#include "registry/model_uri.h"
#include "registry/registry.h"
#include "registry/schema.h"
#include "registry/validation.h"
#include "sql/sql.h"
#include "tracking/search_filter.h"
#include "tracking/tracking.h"

namespace mlforge::registry {
namespace {

using tracking::BindParams;
using tracking::SqlFragment;
using tracking::SqlValue;

constexpr std::string_view kVersionColumns =
    "v.version, v.creation_time, v.last_updated_time, v.description, v.current_stage, v.source, "
    "v.run_id, v.run_link, v.status, v.storage_path";
constexpr int kVersionColumnCount = 10;

struct ModelRow {
  int64_t id = 0;
  std::string name;
  int64_t creation_time = 0;
  int64_t last_updated_time = 0;
  std::string description;
};

Status ModelNotFound(std::string_view name) {
  return NotFound("Registered Model with name=" + std::string(name) + " not found");
}

Status VersionNotFound(std::string_view name, int64_t version) {
  return NotFound("Model Version (name=" + std::string(name) +
                  ", version=" + std::to_string(version) + ") not found");
}

std::optional<std::string> OptionalText(const sql::Row& r, int col) {
  if (r.IsNull(col)) return std::nullopt;
  return std::string(r.GetText(col));
}

// Reads kVersionColumns starting at column `first`.
void ReadVersionRow(const sql::Row& r, int first, ModelVersion& mv) {
  mv.version = r.GetInt(first);
  mv.creation_timestamp = r.GetInt(first + 1);
  mv.last_updated_timestamp = r.GetInt(first + 2);
  mv.description = OptionalText(r, first + 3);
  mv.current_stage = std::string(r.GetText(first + 4));
  mv.source = std::string(r.GetText(first + 5));
  mv.run_id = OptionalText(r, first + 6);
  mv.run_link = OptionalText(r, first + 7);
  mv.status = std::string(r.GetText(first + 8));
  mv.storage_path = std::string(r.GetText(first + 9));
}

std::string StoragePath(int64_t model_id, int64_t version) {
  return std::string(kArtifactPrefix) + "/" + std::to_string(model_id) + "/" +
         std::to_string(version);
}

std::string ModelFolder(int64_t model_id) {
  return std::string(kArtifactPrefix) + "/" + std::to_string(model_id);
}

// ---------------------------------------------------------------- snapshots
// The audit log's before/after states: small JSON objects.

void WriteTagsObject(json::Writer& w, const std::vector<Tag>& tags) {
  w.Key("tags").StartObject();
  for (const Tag& t : tags) w.Field(t.key, t.value);
  w.EndObject();
}

std::string ModelSnapshot(const RegisteredModel& m) {
  json::Writer w;
  w.StartObject().Field("name", m.name).Field("description", m.description);
  WriteTagsObject(w, m.tags);
  w.Key("aliases").StartObject();
  for (const Alias& a : m.aliases) w.Field(a.alias, std::to_string(a.version));
  w.EndObject().EndObject();
  return w.Take();
}

std::string VersionSnapshot(const ModelVersion& mv) {
  json::Writer w;
  w.StartObject().Field("version", std::to_string(mv.version));
  w.Field("current_stage", mv.current_stage);
  w.Key("description");
  mv.description ? w.String(*mv.description) : w.Null();
  w.Field("source", mv.source);
  w.Key("run_id");
  mv.run_id ? w.String(*mv.run_id) : w.Null();
  w.Field("storage_path", mv.storage_path);
  WriteTagsObject(w, mv.tags);
  w.Key("aliases").StartArray();
  for (const std::string& a : mv.aliases) w.String(a);
  w.EndArray().EndObject();
  return w.Take();
}

std::string OneField(std::string_view key, const std::optional<std::string>& value) {
  json::Writer w;
  w.StartObject().Key(key);
  value ? w.String(*value) : w.Null();
  w.EndObject();
  return w.Take();
}

std::string TagSnapshot(const Tag& tag) {
  json::Writer w;
  w.StartObject().Field("key", tag.key).Field("value", tag.value).EndObject();
  return w.Take();
}

std::string AliasSnapshot(std::string_view alias, int64_t version) {
  json::Writer w;
  w.StartObject().Field("alias", alias).Field("version", std::to_string(version)).EndObject();
  return w.Take();
}

// Parameters of a fragment followed by extra ones, as one owned list.
std::vector<SqlValue> ConcatParams(std::initializer_list<const SqlFragment*> fragments,
                                   std::initializer_list<SqlValue> extra = {}) {
  std::vector<SqlValue> out;
  for (const SqlFragment* f : fragments) out.insert(out.end(), f->params.begin(), f->params.end());
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

class RegistryServiceImpl final : public RegistryService {
 public:
  RegistryServiceImpl(sql::Database& db, const Clock& clock, tracking::TrackingService& tracking,
                      blob::ArtifactStore* artifacts)
      : db_(db), clock_(clock), tracking_(tracking), artifacts_(artifacts) {}

  // ------------------------------------------------------ registered models

  Result<RegisteredModel> CreateRegisteredModel(const Actor& actor,
                                                const CreateRegisteredModelRequest& req) override {
    RETURN_IF_ERROR(ValidateModelName(req.name));
    RETURN_IF_ERROR(ValidateDescription(req.description));
    for (const Tag& t : req.tags) RETURN_IF_ERROR(ValidateTag("Registered model", t));
    const int64_t now = clock_.NowMillis();
    RegisteredModel model;
    Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      int64_t id = 0;
      RETURN_IF_ERROR(c.Query(
          "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
          "VALUES (?, ?, ?, ?) RETURNING model_id",
          {req.name, now, now, req.description}, [&](const sql::Row& r) { id = r.GetInt(0); }));
      // Later duplicates of a key win, as MLflow's dict.
      std::map<std::string, std::string> tags;
      for (const Tag& t : req.tags) tags[t.key] = t.value;
      for (const auto& [key, value] : tags) {
        RETURN_IF_ERROR(StatusOf(
            c.Execute("INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)",
                      {id, key, value})));
      }
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, req.name));
      ASSIGN_OR_RETURN(model, LoadModel(c, row));
      return AppendEvent(c, id, req.name, std::nullopt, "create_registered_model", actor, "",
                         ModelSnapshot(model));
    });
    if (s.code() == ErrorCode::kResourceAlreadyExists) {
      return Err(AlreadyExists("Registered Model (name=" + req.name + ") already exists."));
    }
    RETURN_IF_ERROR(s);
    return model;
  }

  Result<RegisteredModel> GetRegisteredModel(std::string_view name) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RegisteredModel model;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(model, LoadModel(c, row));
      return Status::Ok();
    }));
    return model;
  }

  Result<RegisteredModel> RenameRegisteredModel(const Actor& actor, std::string_view name,
                                                std::string_view new_name) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RETURN_IF_ERROR(ValidateModelName(new_name));
    const int64_t now = clock_.NowMillis();
    RegisteredModel model;
    Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE model_id = ?",
          {new_name, now, row.id})));
      // MLflow touches every version of a renamed model.
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE model_versions SET last_updated_time = ? WHERE model_id = ?", {now, row.id})));
      row.name = std::string(new_name);
      row.last_updated_time = now;
      ASSIGN_OR_RETURN(model, LoadModel(c, row));
      return AppendEvent(c, row.id, new_name, std::nullopt, "rename_registered_model", actor,
                         OneField("name", std::string(name)),
                         OneField("name", std::string(new_name)));
    });
    if (s.code() == ErrorCode::kResourceAlreadyExists) {
      return Err(
          AlreadyExists("Registered Model (name=" + std::string(new_name) + ") already exists."));
    }
    RETURN_IF_ERROR(s);
    return model;
  }

  Result<RegisteredModel> UpdateRegisteredModel(
      const Actor& actor, std::string_view name,
      const std::optional<std::string>& description) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    const std::string text = description.value_or("");
    RETURN_IF_ERROR(ValidateDescription(text));
    const int64_t now = clock_.NowMillis();
    RegisteredModel model;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE registered_models SET description = ?, last_updated_time = ? WHERE model_id = ?",
          {text, now, row.id})));
      std::string before = OneField("description", row.description);
      row.description = text;
      row.last_updated_time = now;
      ASSIGN_OR_RETURN(model, LoadModel(c, row));
      return AppendEvent(c, row.id, row.name, std::nullopt, "update_registered_model", actor,
                         before, OneField("description", text));
    }));
    return model;
  }

  Status DeleteRegisteredModel(const Actor& actor, std::string_view name) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    int64_t model_id = 0;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      model_id = row.id;
      ASSIGN_OR_RETURN(RegisteredModel model, LoadModel(c, row));
      for (std::string_view table : {"model_version_tags", "registered_model_aliases",
                                     "model_versions", "registered_model_tags"}) {
        RETURN_IF_ERROR(StatusOf(
            c.Execute("DELETE FROM " + std::string(table) + " WHERE model_id = ?", {row.id})));
      }
      RETURN_IF_ERROR(
          StatusOf(c.Execute("DELETE FROM registered_models WHERE model_id = ?", {row.id})));
      return AppendEvent(c, row.id, row.name, std::nullopt, "delete_registered_model", actor,
                         ModelSnapshot(model), "");
    }));
    DropPinnedFiles(ModelFolder(model_id));
    return Status::Ok();
  }

  Result<RegisteredModelPage> SearchRegisteredModels(const SearchRequest& req) override {
    const int max_results = req.max_results > 0 ? req.max_results : kSearchModelsDefault;
    if (max_results > kSearchModelsMax) {
      return Err(InvalidArgument(
          "Invalid value for request parameter max_results. It must be at most " +
          std::to_string(kSearchModelsMax) + ", but got value " + std::to_string(max_results)));
    }
    ASSIGN_OR_RETURN(SqlFragment where,
                     tracking::CompileRegisteredModelFilter(req.filter, db_.backend()));
    ASSIGN_OR_RETURN(SqlFragment order,
                     tracking::CompileRegisteredModelOrderBy(req.order_by, db_.backend()));
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(req.page_token));
    std::string sql =
        "SELECT m.model_id, m.name, m.creation_time, m.last_updated_time, m.description "
        "FROM registered_models m";
    if (!where.sql.empty()) sql += " WHERE " + where.sql;
    sql += " ORDER BY " + order.sql + " LIMIT ? OFFSET ?";
    std::vector<SqlValue> values =
        ConcatParams({&where, &order}, {int64_t{max_results} + 1, offset});
    std::vector<sql::Param> params = BindParams(values);
    RegisteredModelPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      page.models.clear();
      std::vector<ModelRow> rows;
      RETURN_IF_ERROR(
          c.Query(sql, params, [&](const sql::Row& r) { rows.push_back(ReadModel(r)); }));
      if (rows.size() > static_cast<size_t>(max_results)) {
        rows.resize(max_results);
        page.next_page_token = EncodePageToken(offset + max_results);
      }
      for (const ModelRow& row : rows) {
        ASSIGN_OR_RETURN(RegisteredModel m, LoadModel(c, row));
        page.models.push_back(std::move(m));
      }
      return Status::Ok();
    }));
    return page;
  }

  Result<std::vector<ModelVersion>> GetLatestVersions(
      std::string_view name, std::span<const std::string> stages) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    std::set<std::string> wanted;
    for (const std::string& s : stages) {
      ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(s));
      wanted.insert(std::move(canonical));
    }
    std::vector<ModelVersion> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(std::vector<ModelVersion> latest, LatestVersions(c, row));
      out.clear();
      for (ModelVersion& mv : latest) {
        if (wanted.empty() || wanted.contains(mv.current_stage)) out.push_back(std::move(mv));
      }
      return Status::Ok();
    }));
    return out;
  }

  Status SetRegisteredModelTag(const Actor& actor, std::string_view name, const Tag& tag) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RETURN_IF_ERROR(ValidateTag("Registered model", tag));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(std::optional<std::string> before,
                       TagValue(c, "registered_model_tags", row.id, std::nullopt, tag.key));
      RETURN_IF_ERROR(StatusOf(
          c.Execute("INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                    {row.id, tag.key, tag.value})));
      return AppendEvent(c, row.id, row.name, std::nullopt, "set_registered_model_tag", actor,
                         before ? TagSnapshot({tag.key, *before}) : "", TagSnapshot(tag));
    });
  }

  Status DeleteRegisteredModelTag(const Actor& actor, std::string_view name,
                                  std::string_view key) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RETURN_IF_ERROR(ValidateTagKey(key));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(std::optional<std::string> before,
                       TagValue(c, "registered_model_tags", row.id, std::nullopt, key));
      if (!before) return Status::Ok();  // nothing changes, nothing to log
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?", {row.id, key})));
      return AppendEvent(c, row.id, row.name, std::nullopt, "delete_registered_model_tag", actor,
                         TagSnapshot({std::string(key), *before}), "");
    });
  }

  // --------------------------------------------------------------- aliases

  Status SetAlias(const Actor& actor, std::string_view name, std::string_view alias,
                  std::string_view version) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RETURN_IF_ERROR(ValidateAlias(alias));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(c, row, number));
      (void)mv;
      ASSIGN_OR_RETURN(std::optional<int64_t> before, AliasVersion(c, row.id, alias));
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "INSERT INTO registered_model_aliases (model_id, alias, version) VALUES (?, ?, ?) "
          "ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version",
          {row.id, alias, number})));
      return AppendEvent(c, row.id, row.name, number, "set_alias", actor,
                         before ? AliasSnapshot(alias, *before) : "", AliasSnapshot(alias, number));
    });
  }

  Status DeleteAlias(const Actor& actor, std::string_view name, std::string_view alias) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RETURN_IF_ERROR(ValidateAlias(alias));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(std::optional<int64_t> before, AliasVersion(c, row.id, alias));
      if (!before) return Status::Ok();
      RETURN_IF_ERROR(StatusOf(
          c.Execute("DELETE FROM registered_model_aliases WHERE model_id = ? AND alias = ?",
                    {row.id, alias})));
      return AppendEvent(c, row.id, row.name, *before, "delete_alias", actor,
                         AliasSnapshot(alias, *before), "");
    });
  }

  Result<ModelVersion> GetModelVersionByAlias(std::string_view name,
                                              std::string_view alias) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    RETURN_IF_ERROR(ValidateAlias(alias));
    ModelVersion mv;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, RequireModel(c, name));
      ASSIGN_OR_RETURN(std::optional<int64_t> version, AliasVersion(c, row.id, alias));
      if (!version) {
        // MLflow's code for a missing alias.
        return InvalidArgument("Registered model alias " + std::string(alias) + " not found.");
      }
      ASSIGN_OR_RETURN(mv, LoadVersion(c, row, *version));
      return Status::Ok();
    }));
    return mv;
  }

  // -------------------------------------------------------- model versions

  Result<ModelVersion> CreateModelVersion(const Actor& actor,
                                          const CreateModelVersionRequest& req) override {
    RETURN_IF_ERROR(ValidateModelName(req.name));
    if (req.description) RETURN_IF_ERROR(ValidateDescription(*req.description));
    for (const Tag& t : req.tags) RETURN_IF_ERROR(ValidateTag("Model version", t));
    ASSIGN_OR_RETURN(VersionSource source, ParseVersionSource(req.source));
    if (artifacts_ == nullptr) {
      return Err(Status(ErrorCode::kNotImplemented,
                        "Registering model versions needs the artifact store: the server runs "
                        "with --no-serve-artifacts."));
    }
    std::string run_id = req.run_id;
    ASSIGN_OR_RETURN(std::string source_path, SourcePath(req.source, source, run_id));
    if (!run_id.empty()) {
      // The run must exist (MLflow does not check; a version naming a
      // missing run would break lineage). GetRun runs its own transaction.
      ASSIGN_OR_RETURN(tracking::Run run, tracking_.GetRun(run_id));
      (void)run;
    }
    const int64_t now = clock_.NowMillis();
    ModelVersion mv;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      // One statement takes the number: concurrent creates are serialized
      // on the model's row, and a deleted number is never handed out again.
      int64_t model_id = 0;
      int64_t version = 0;
      bool found = false;
      RETURN_IF_ERROR(c.Query(
          "UPDATE registered_models SET next_version = next_version + 1, last_updated_time = ? "
          "WHERE name = ? RETURNING model_id, next_version - 1",
          {now, req.name}, [&](const sql::Row& r) {
            found = true;
            model_id = r.GetInt(0);
            version = r.GetInt(1);
          }));
      if (!found) return ModelNotFound(req.name);
      mv = ModelVersion{};
      mv.name = req.name;
      mv.version = version;
      mv.creation_timestamp = now;
      mv.last_updated_timestamp = now;
      mv.description = req.description;
      mv.current_stage = std::string(kStageNone);
      mv.source = req.source;
      mv.run_id = run_id;
      mv.run_link = req.run_link;
      mv.storage_path = StoragePath(model_id, version);
      // Pinned inside the transaction, so a version row never exists
      // without its files; a failure below removes the copy again.
      RETURN_IF_ERROR(PinFiles(req.source, source_path, mv.storage_path));
      Status inserted = InsertVersion(c, model_id, mv, req.tags);
      if (inserted.ok()) {
        inserted = AppendEvent(c, model_id, req.name, version, "create_model_version", actor, "",
                               VersionSnapshot(mv));
      }
      if (!inserted.ok()) DropPinnedFiles(mv.storage_path);
      return inserted;
    }));
    return mv;
  }

  Result<ModelVersion> GetModelVersion(std::string_view name, std::string_view version) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    ModelVersion mv;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, FindModelOrVersionNotFound(c, name, number));
      ASSIGN_OR_RETURN(mv, LoadVersion(c, row, number));
      return Status::Ok();
    }));
    return mv;
  }

  Result<ModelVersion> UpdateModelVersion(const Actor& actor, std::string_view name,
                                          std::string_view version,
                                          const std::optional<std::string>& description) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    if (description) RETURN_IF_ERROR(ValidateDescription(*description));
    const int64_t now = clock_.NowMillis();
    ModelVersion mv;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, FindModelOrVersionNotFound(c, name, number));
      ASSIGN_OR_RETURN(mv, LoadVersion(c, row, number));
      std::string before = OneField("description", mv.description);
      RETURN_IF_ERROR(StatusOf(
          c.Execute("UPDATE model_versions SET description = ?, last_updated_time = ? "
                    "WHERE model_id = ? AND version = ?",
                    {description ? sql::Param(std::string_view(*description)) : sql::Param(nullptr),
                     now, row.id, number})));
      mv.description = description;
      mv.last_updated_timestamp = now;
      return AppendEvent(c, row.id, row.name, number, "update_model_version", actor, before,
                         OneField("description", description));
    }));
    return mv;
  }

  Status DeleteModelVersion(const Actor& actor, std::string_view name,
                            std::string_view version) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    const int64_t now = clock_.NowMillis();
    std::string storage_path;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, FindModelOrVersionNotFound(c, name, number));
      ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(c, row, number));
      storage_path = mv.storage_path;
      for (std::string_view table :
           {"model_version_tags", "registered_model_aliases", "model_versions"}) {
        RETURN_IF_ERROR(StatusOf(
            c.Execute("DELETE FROM " + std::string(table) + " WHERE model_id = ? AND version = ?",
                      {row.id, number})));
      }
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE registered_models SET last_updated_time = ? WHERE model_id = ?", {now, row.id})));
      return AppendEvent(c, row.id, row.name, number, "delete_model_version", actor,
                         VersionSnapshot(mv), "");
    }));
    DropPinnedFiles(storage_path);
    return Status::Ok();
  }

  Result<ModelVersionPage> SearchModelVersions(const SearchRequest& req) override {
    const int max_results = req.max_results > 0 ? req.max_results : kSearchVersionsDefault;
    if (max_results > kSearchVersionsMax) {
      return Err(InvalidArgument(
          "Invalid value for request parameter max_results. It must be at most " +
          std::to_string(kSearchVersionsMax) + ", but got value " + std::to_string(max_results)));
    }
    ASSIGN_OR_RETURN(SqlFragment where,
                     tracking::CompileModelVersionFilter(req.filter, db_.backend()));
    ASSIGN_OR_RETURN(SqlFragment order,
                     tracking::CompileModelVersionOrderBy(req.order_by, db_.backend()));
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(req.page_token));
    // The page, then the tags and aliases of exactly that page (the same
    // query as a subquery), so a page costs three statements.
    std::string page_sql =
        "FROM model_versions v JOIN registered_models m ON m.model_id = v.model_id";
    if (!where.sql.empty()) page_sql += " WHERE " + where.sql;
    page_sql += " ORDER BY " + order.sql + " LIMIT ? OFFSET ?";
    const std::string versions_sql =
        "SELECT m.model_id, m.name, " + std::string(kVersionColumns) + " " + page_sql;
    const std::string tags_sql =
        "SELECT t.model_id, t.version, t.key, t.value FROM model_version_tags t JOIN "
        "(SELECT v.model_id, v.version " +
        page_sql + ") p ON p.model_id = t.model_id AND p.version = t.version ORDER BY t.key";
    const std::string aliases_sql =
        "SELECT a.model_id, a.version, a.alias FROM registered_model_aliases a JOIN "
        "(SELECT v.model_id, v.version " +
        page_sql + ") p ON p.model_id = a.model_id AND p.version = a.version ORDER BY a.alias";
    std::vector<SqlValue> values =
        ConcatParams({&where, &order}, {int64_t{max_results} + 1, offset});
    std::vector<sql::Param> params = BindParams(values);
    ModelVersionPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      page = ModelVersionPage{};
      std::map<std::pair<int64_t, int64_t>, size_t> index;
      RETURN_IF_ERROR(c.Query(versions_sql, params, [&](const sql::Row& r) {
        ModelVersion mv;
        mv.name = std::string(r.GetText(1));
        ReadVersionRow(r, 2, mv);
        index[{r.GetInt(0), mv.version}] = page.versions.size();
        page.versions.push_back(std::move(mv));
      }));
      RETURN_IF_ERROR(c.Query(tags_sql, params, [&](const sql::Row& r) {
        auto it = index.find({r.GetInt(0), r.GetInt(1)});
        if (it != index.end()) {
          page.versions[it->second].tags.push_back(
              Tag{std::string(r.GetText(2)), std::string(r.GetText(3))});
        }
      }));
      RETURN_IF_ERROR(c.Query(aliases_sql, params, [&](const sql::Row& r) {
        auto it = index.find({r.GetInt(0), r.GetInt(1)});
        if (it != index.end()) page.versions[it->second].aliases.emplace_back(r.GetText(2));
      }));
      return Status::Ok();
    }));
    if (page.versions.size() > static_cast<size_t>(max_results)) {
      page.versions.resize(max_results);
      page.next_page_token = EncodePageToken(offset + max_results);
    }
    return page;
  }

  Result<ModelVersion> TransitionStage(const Actor& actor, std::string_view name,
                                       std::string_view version, std::string_view stage,
                                       bool archive_existing_versions) override {
    ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(stage));
    const bool active = canonical == kStageStaging || canonical == kStageProduction;
    if (archive_existing_versions && !active) {
      return Err(InvalidArgument(
          "Model version transition cannot archive existing model versions because '" +
          std::string(stage) +
          "' is not an Active stage. Valid stages are ['Staging', "
          "'Production']"));
    }
    RETURN_IF_ERROR(ValidateModelName(name));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    const int64_t now = clock_.NowMillis();
    ModelVersion mv;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, FindModelOrVersionNotFound(c, name, number));
      ASSIGN_OR_RETURN(mv, LoadVersion(c, row, number));
      if (archive_existing_versions) {
        std::vector<int64_t> others;
        RETURN_IF_ERROR(
            c.Query("SELECT version FROM model_versions WHERE model_id = ? AND version <> ? AND "
                    "current_stage = ? ORDER BY version",
                    {row.id, number, canonical},
                    [&](const sql::Row& r) { others.push_back(r.GetInt(0)); }));
        for (int64_t other : others) {
          RETURN_IF_ERROR(StatusOf(
              c.Execute("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                        "WHERE model_id = ? AND version = ?",
                        {kStageArchived, now, row.id, other})));
          RETURN_IF_ERROR(AppendEvent(c, row.id, row.name, other, "transition_stage", actor,
                                      OneField("current_stage", canonical),
                                      OneField("current_stage", std::string(kStageArchived))));
        }
      }
      RETURN_IF_ERROR(
          StatusOf(c.Execute("UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
                             "WHERE model_id = ? AND version = ?",
                             {canonical, now, row.id, number})));
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE registered_models SET last_updated_time = ? WHERE model_id = ?", {now, row.id})));
      std::string before = OneField("current_stage", mv.current_stage);
      mv.current_stage = canonical;
      mv.last_updated_timestamp = now;
      return AppendEvent(c, row.id, row.name, number, "transition_stage", actor, before,
                         OneField("current_stage", canonical));
    }));
    return mv;
  }

  Status SetModelVersionTag(const Actor& actor, std::string_view name, std::string_view version,
                            const Tag& tag) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    RETURN_IF_ERROR(ValidateTag("Model version", tag));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, FindModelOrVersionNotFound(c, name, number));
      ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(c, row, number));
      (void)mv;
      ASSIGN_OR_RETURN(std::optional<std::string> before,
                       TagValue(c, "model_version_tags", row.id, number, tag.key));
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?) "
          "ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value",
          {row.id, number, tag.key, tag.value})));
      return AppendEvent(c, row.id, row.name, number, "set_model_version_tag", actor,
                         before ? TagSnapshot({tag.key, *before}) : "", TagSnapshot(tag));
    });
  }

  Status DeleteModelVersionTag(const Actor& actor, std::string_view name, std::string_view version,
                               std::string_view key) override {
    RETURN_IF_ERROR(ValidateModelName(name));
    ASSIGN_OR_RETURN(int64_t number, ParseVersion(version));
    RETURN_IF_ERROR(ValidateTagKey(key));
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(ModelRow row, FindModelOrVersionNotFound(c, name, number));
      ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(c, row, number));
      (void)mv;
      ASSIGN_OR_RETURN(std::optional<std::string> before,
                       TagValue(c, "model_version_tags", row.id, number, key));
      if (!before) return Status::Ok();
      RETURN_IF_ERROR(StatusOf(
          c.Execute("DELETE FROM model_version_tags WHERE model_id = ? AND version = ? AND key = ?",
                    {row.id, number, key})));
      return AppendEvent(c, row.id, row.name, number, "delete_model_version_tag", actor,
                         TagSnapshot({std::string(key), *before}), "");
    });
  }

  Result<std::string> GetDownloadUri(std::string_view name, std::string_view version) override {
    ASSIGN_OR_RETURN(ModelVersion mv, GetModelVersion(name, version));
    return "mlflow-artifacts:/" + mv.storage_path;
  }

  Result<ModelVersion> Resolve(std::string_view models_uri) override {
    ASSIGN_OR_RETURN(ModelsUri uri, ParseModelsUri(models_uri));
    if (uri.version) return GetModelVersion(uri.name, std::to_string(*uri.version));
    if (!uri.alias.empty()) return GetModelVersionByAlias(uri.name, uri.alias);
    std::vector<std::string> stages;
    if (!uri.stage.empty()) stages.push_back(uri.stage);
    ASSIGN_OR_RETURN(std::vector<ModelVersion> latest, GetLatestVersions(uri.name, stages));
    if (latest.empty()) {
      std::string where = uri.stage.empty() ? "" : " and stage '" + uri.stage + "'";
      return Err(NotFound("No versions of model with name '" + uri.name + "'" + where + " found"));
    }
    return *std::max_element(
        latest.begin(), latest.end(),
        [](const ModelVersion& a, const ModelVersion& b) { return a.version < b.version; });
  }

  Result<EventPage> ListEvents(const EventsRequest& req) override {
    RETURN_IF_ERROR(ValidateModelName(req.name));
    if (req.max_results < 1 || req.max_results > kEventsMax) {
      return Err(InvalidArgument("max_results must be between 1 and " + std::to_string(kEventsMax) +
                                 ", got " + std::to_string(req.max_results)));
    }
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(req.page_token));
    std::string sql =
        "SELECT event_id, timestamp, user_id, action, model_name, version, before_json, "
        "after_json FROM registry_events WHERE model_id IN "
        "(SELECT model_id FROM registry_events WHERE model_name = ?)";
    std::vector<sql::Param> params = {std::string_view(req.name)};
    if (req.version) {
      sql += " AND version = ?";
      params.emplace_back(*req.version);
    }
    sql += " ORDER BY event_id LIMIT ? OFFSET ?";
    params.emplace_back(int64_t{req.max_results} + 1);
    params.emplace_back(offset);
    EventPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      page = EventPage{};
      bool known = false;
      RETURN_IF_ERROR(c.Query("SELECT 1 FROM registry_events WHERE model_name = ? LIMIT 1",
                              {req.name}, [&](const sql::Row&) { known = true; }));
      if (!known) {
        return NotFound("No registered model was ever named '" + req.name + "'");
      }
      return c.Query(sql, params, [&](const sql::Row& r) {
        Event e;
        e.event_id = r.GetInt(0);
        e.timestamp = r.GetInt(1);
        e.user = std::string(r.GetText(2));
        e.action = std::string(r.GetText(3));
        e.name = std::string(r.GetText(4));
        if (!r.IsNull(5)) e.version = r.GetInt(5);
        e.before_json = std::string(r.GetText(6));
        e.after_json = std::string(r.GetText(7));
        page.events.push_back(std::move(e));
      });
    }));
    if (page.events.size() > static_cast<size_t>(req.max_results)) {
      page.events.resize(req.max_results);
      page.next_page_token = EncodePageToken(offset + req.max_results);
    }
    return page;
  }

 private:
  static ModelRow ReadModel(const sql::Row& r) {
    return ModelRow{r.GetInt(0), std::string(r.GetText(1)), r.GetInt(2), r.GetInt(3),
                    std::string(r.GetText(4))};
  }

  static Result<std::optional<ModelRow>> FindModel(sql::Connection& c, std::string_view name) {
    std::optional<ModelRow> row;
    RETURN_IF_ERROR(
        c.Query("SELECT model_id, name, creation_time, last_updated_time, description "
                "FROM registered_models WHERE name = ?",
                {name}, [&](const sql::Row& r) { row = ReadModel(r); }));
    return row;
  }

  static Result<ModelRow> RequireModel(sql::Connection& c, std::string_view name) {
    ASSIGN_OR_RETURN(std::optional<ModelRow> row, FindModel(c, name));
    if (!row) return Err(ModelNotFound(name));
    return std::move(*row);
  }

  // MLflow reports a version of a missing model as a missing version.
  static Result<ModelRow> FindModelOrVersionNotFound(sql::Connection& c, std::string_view name,
                                                     int64_t version) {
    ASSIGN_OR_RETURN(std::optional<ModelRow> row, FindModel(c, name));
    if (!row) return Err(VersionNotFound(name, version));
    return std::move(*row);
  }

  static Result<ModelVersion> LoadVersion(sql::Connection& c, const ModelRow& model,
                                          int64_t version) {
    std::optional<ModelVersion> mv;
    RETURN_IF_ERROR(c.Query("SELECT " + std::string(kVersionColumns) +
                                " FROM model_versions v WHERE v.model_id = ? AND v.version = ?",
                            {model.id, version}, [&](const sql::Row& r) {
                              mv.emplace();
                              ReadVersionRow(r, 0, *mv);
                            }));
    if (!mv) return Err(VersionNotFound(model.name, version));
    mv->name = model.name;
    RETURN_IF_ERROR(c.Query(
        "SELECT key, value FROM model_version_tags WHERE model_id = ? AND version = ? ORDER BY key",
        {model.id, version}, [&](const sql::Row& r) {
          mv->tags.push_back(Tag{std::string(r.GetText(0)), std::string(r.GetText(1))});
        }));
    RETURN_IF_ERROR(c.Query(
        "SELECT alias FROM registered_model_aliases WHERE model_id = ? AND version = ? "
        "ORDER BY alias",
        {model.id, version}, [&](const sql::Row& r) { mv->aliases.emplace_back(r.GetText(0)); }));
    return std::move(*mv);
  }

  // The newest version of each stage, stages in the order of their oldest
  // version (the order MLflow's entity builds them in).
  static Result<std::vector<ModelVersion>> LatestVersions(sql::Connection& c,
                                                          const ModelRow& model) {
    std::vector<std::pair<std::string, int64_t>> newest;  // stage -> version, first-seen order
    RETURN_IF_ERROR(c.Query(
        "SELECT current_stage, version FROM model_versions WHERE model_id = ? ORDER BY version",
        {model.id}, [&](const sql::Row& r) {
          std::string stage(r.GetText(0));
          auto it = std::find_if(newest.begin(), newest.end(),
                                 [&](const auto& e) { return e.first == stage; });
          if (it == newest.end()) {
            newest.emplace_back(std::move(stage), r.GetInt(1));
          } else {
            it->second = r.GetInt(1);
          }
        }));
    std::vector<ModelVersion> out;
    for (const auto& [stage, version] : newest) {
      ASSIGN_OR_RETURN(ModelVersion mv, LoadVersion(c, model, version));
      out.push_back(std::move(mv));
    }
    return out;
  }

  static Result<RegisteredModel> LoadModel(sql::Connection& c, const ModelRow& row) {
    RegisteredModel m;
    m.name = row.name;
    m.creation_timestamp = row.creation_time;
    m.last_updated_timestamp = row.last_updated_time;
    m.description = row.description;
    RETURN_IF_ERROR(
        c.Query("SELECT key, value FROM registered_model_tags WHERE model_id = ? ORDER BY key",
                {row.id}, [&](const sql::Row& r) {
                  m.tags.push_back(Tag{std::string(r.GetText(0)), std::string(r.GetText(1))});
                }));
    RETURN_IF_ERROR(c.Query(
        "SELECT alias, version FROM registered_model_aliases WHERE model_id = ? ORDER BY alias",
        {row.id}, [&](const sql::Row& r) {
          m.aliases.push_back(Alias{std::string(r.GetText(0)), r.GetInt(1)});
        }));
    ASSIGN_OR_RETURN(m.latest_versions, LatestVersions(c, row));
    return m;
  }

  // A tag's value; `version` unset for registered-model tags.
  static Result<std::optional<std::string>> TagValue(sql::Connection& c, std::string_view table,
                                                     int64_t model_id,
                                                     std::optional<int64_t> version,
                                                     std::string_view key) {
    std::optional<std::string> value;
    auto read = [&](const sql::Row& r) { value = std::string(r.GetText(0)); };
    if (version) {
      RETURN_IF_ERROR(c.Query("SELECT value FROM " + std::string(table) +
                                  " WHERE model_id = ? AND version = ? AND key = ?",
                              {model_id, *version, key}, read));
    } else {
      RETURN_IF_ERROR(
          c.Query("SELECT value FROM " + std::string(table) + " WHERE model_id = ? AND key = ?",
                  {model_id, key}, read));
    }
    return value;
  }

  static Result<std::optional<int64_t>> AliasVersion(sql::Connection& c, int64_t model_id,
                                                     std::string_view alias) {
    std::optional<int64_t> version;
    RETURN_IF_ERROR(
        c.Query("SELECT version FROM registered_model_aliases WHERE model_id = ? AND alias = ?",
                {model_id, alias}, [&](const sql::Row& r) { version = r.GetInt(0); }));
    return version;
  }

  static Status InsertVersion(sql::Connection& c, int64_t model_id, ModelVersion& mv,
                              const std::vector<Tag>& tags) {
    auto optional = [](const std::optional<std::string>& s) {
      return s ? sql::Param(std::string_view(*s)) : sql::Param(nullptr);
    };
    RETURN_IF_ERROR(StatusOf(c.Execute(
        "INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, "
        "description, current_stage, source, run_id, run_link, status, storage_path) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {model_id, mv.version, mv.creation_timestamp, mv.last_updated_timestamp,
         optional(mv.description), mv.current_stage, mv.source, optional(mv.run_id),
         optional(mv.run_link), mv.status, mv.storage_path})));
    std::map<std::string, std::string> by_key;  // later duplicates win, as MLflow's dict
    for (const Tag& t : tags) by_key[t.key] = t.value;
    for (const auto& [key, value] : by_key) {
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?)",
          {model_id, mv.version, key, value})));
      mv.tags.push_back(Tag{key, value});
    }
    return Status::Ok();
  }

  Status AppendEvent(sql::Connection& c, int64_t model_id, std::string_view name,
                     std::optional<int64_t> version, std::string_view action, const Actor& actor,
                     std::string_view before, std::string_view after) {
    return StatusOf(c.Execute(
        "INSERT INTO registry_events (model_id, model_name, version, action, user_id, timestamp, "
        "before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {model_id, name, version ? sql::Param(*version) : sql::Param(nullptr), action,
         std::string_view(actor.user), clock_.NowMillis(), before, after}));
  }

  // The store path a source names. Fills run_id from a runs:/ source.
  Result<std::string> SourcePath(std::string_view raw, const VersionSource& source,
                                 std::string& run_id) {
    switch (source.kind) {
      case VersionSource::Kind::kRun: {
        if (!run_id.empty() && run_id != source.run_id) {
          return Err(InvalidArgument("Invalid model version source: '" + std::string(raw) +
                                     "' names run '" + source.run_id + "' but run_id is '" +
                                     run_id + "'."));
        }
        run_id = source.run_id;
        ASSIGN_OR_RETURN(tracking::Run run, tracking_.GetRun(source.run_id));
        auto root = ArtifactsUriPath(run.info.artifact_uri, /*allow_empty=*/true);
        if (!root) {
          return Err(InvalidArgument("Invalid model version source: '" + std::string(raw) +
                                     "'. The run's artifacts are not stored by this server."));
        }
        if (root->empty()) return source.path;
        return source.path.empty() ? *root : *root + "/" + source.path;
      }
      case VersionSource::Kind::kArtifacts:
        return source.path;
      case VersionSource::Kind::kModel: {
        ASSIGN_OR_RETURN(ModelVersion referenced, Resolve(raw));
        return referenced.storage_path;
      }
    }
    return Err(Internal("unknown source kind"));
  }

  // Copies the source tree to `dest` and checks the copy's MLmodel file:
  // what is validated is exactly what is kept.
  Status PinFiles(std::string_view raw_source, const std::string& source_path,
                  const std::string& dest) {
    DropPinnedFiles(dest);  // leftovers of a failed attempt with this number
    auto copied = artifacts_->CopyTree(source_path, dest);
    if (!copied) {
      if (copied.error().code() == ErrorCode::kResourceDoesNotExist) {
        return InvalidArgument("Invalid model version source: '" + std::string(raw_source) +
                               "'. No artifacts are stored there.");
      }
      if (copied.error().code() == ErrorCode::kInvalidParameterValue) {
        return InvalidArgument("Invalid model version source: '" + std::string(raw_source) + "'. " +
                               copied.error().message());
      }
      return copied.error();
    }
    Status checked = CheckMLmodel(raw_source, dest);
    if (!checked.ok()) DropPinnedFiles(dest);
    return checked;
  }

  Status CheckMLmodel(std::string_view raw_source, const std::string& dir) {
    auto file = artifacts_->OpenForRead(dir + "/MLmodel");
    if (!file) {
      return InvalidArgument("Invalid model version source: '" + std::string(raw_source) +
                             "'. It has no MLmodel file: the registry keeps MLflow model "
                             "packages (a directory with an MLmodel file, as log_model writes).");
    }
    if (file->size() > static_cast<int64_t>(kMaxMLmodelBytes)) {
      return InvalidArgument("Invalid MLmodel file: larger than " +
                             std::to_string(kMaxMLmodelBytes) + " bytes");
    }
    ASSIGN_OR_RETURN(std::string text, artifacts_->Read(dir + "/MLmodel"));
    return ValidateMLmodel(text);
  }

  // Best effort: pinned files of a deleted version are only names; the
  // blobs stay until garbage collection (docs/blob.md).
  void DropPinnedFiles(const std::string& path) {
    if (artifacts_ == nullptr || path.empty()) return;
    Status s = artifacts_->Delete(path);
    (void)s;
  }

  sql::Database& db_;
  const Clock& clock_;
  tracking::TrackingService& tracking_;
  blob::ArtifactStore* const artifacts_;
};

}  // namespace

Result<std::unique_ptr<RegistryService>> RegistryService::Open(sql::Database& db,
                                                               const Clock& clock,
                                                               tracking::TrackingService& tracking,
                                                               blob::ArtifactStore* artifacts) {
  RETURN_IF_ERROR(db.Migrate("registry", RegistryMigrations()));
  return std::unique_ptr<RegistryService>(new RegistryServiceImpl(db, clock, tracking, artifacts));
}

}  // namespace mlforge::registry

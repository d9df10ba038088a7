// DeploymentStore on src/sql (component "serving"); layout in docs/serving.md.
#include <fmt/core.h>

#include <string>
#include <type_traits>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/page_token.h"
#include "serving/serving.h"
#include "sql/sql.h"

namespace mlforge::serving {
namespace {

// A deployment is one row: routes and config as JSON (they are always read
// and written whole), `revision` counting changes. deployment_events is
// append-only: the code has no UPDATE or DELETE for it. deployment_id is
// never reused, so the history of a deleted and re-created name stays apart.
// clang-format off
#define MLFORGE_SERVING_V1(SERIAL_PK)                                     \
  "CREATE TABLE deployments ("                                            \
  "  deployment_id " SERIAL_PK ","                                        \
  "  name TEXT NOT NULL UNIQUE,"                                          \
  "  description TEXT NOT NULL DEFAULT '',"                               \
  "  creation_time BIGINT NOT NULL,"                                      \
  "  last_updated_time BIGINT NOT NULL,"                                  \
  "  revision BIGINT NOT NULL,"                                           \
  "  routes_json TEXT NOT NULL,"                                          \
  "  config_json TEXT NOT NULL);"                                         \
  "CREATE TABLE deployment_events ("                                      \
  "  event_id " SERIAL_PK ","                                             \
  "  deployment_id BIGINT NOT NULL,"                                      \
  "  deployment_name TEXT NOT NULL,"                                      \
  "  revision BIGINT NOT NULL,"                                           \
  "  action TEXT NOT NULL,"                                               \
  "  user_id TEXT NOT NULL,"                                              \
  "  timestamp BIGINT NOT NULL,"                                          \
  "  before_json TEXT NOT NULL,"                                          \
  "  after_json TEXT NOT NULL);"                                          \
  "CREATE INDEX deployment_events_by_name ON deployment_events (deployment_name);" \
  "CREATE INDEX deployment_events_by_id ON deployment_events (deployment_id, revision);"
// clang-format on

constexpr std::string_view kV1Sqlite = MLFORGE_SERVING_V1("INTEGER PRIMARY KEY AUTOINCREMENT");
constexpr std::string_view kV1Postgres = MLFORGE_SERVING_V1("BIGSERIAL PRIMARY KEY");
#undef MLFORGE_SERVING_V1

constexpr sql::Migration kMigrations[] = {
    {.version = 1, .name = "deployments", .sql = {}, .sqlite = kV1Sqlite, .postgres = kV1Postgres},
};

// Updates check the revision they read; one that lost a race is recomputed.
constexpr int kUpdateAttempts = 8;

constexpr std::string_view kSelectColumns =
    "SELECT deployment_id, name, description, creation_time, last_updated_time, revision, "
    "routes_json, config_json FROM deployments";

struct Row {
  int64_t id = 0;
  Deployment d;
};

std::string RoutesJson(const std::vector<RouteSpec>& routes) {
  json::Writer w;
  WriteRoutes(w, routes);
  return w.Take();
}

std::string ConfigJson(const DeploymentConfig& config) {
  json::Writer w;
  WriteConfig(w, config);
  return w.Take();
}

// The state an event records: {"revision", "routes", "config", "description"}.
std::string StateJson(const Deployment& d) {
  json::Writer w;
  w.StartObject().Field("revision", d.revision).Key("routes");
  WriteRoutes(w, d.routes);
  w.Key("config");
  WriteConfig(w, d.config);
  w.Field("description", d.description).EndObject();
  return w.Take();
}

// Stored JSON was written by this code; a row that does not parse is a
// damaged database, reported as an internal error.
Result<Row> ReadRow(const sql::Row& r) {
  Row row;
  row.id = r.GetInt(0);
  row.d.name = std::string(r.GetText(1));
  row.d.description = std::string(r.GetText(2));
  row.d.creation_timestamp = r.GetInt(3);
  row.d.last_updated_timestamp = r.GetInt(4);
  row.d.revision = r.GetInt(5);
  auto routes = json::Parse(r.GetText(6));
  auto config = json::Parse(r.GetText(7));
  if (!routes || !config) {
    return Err(Internal(fmt::format("Deployment '{}' has unreadable stored JSON", row.d.name)));
  }
  auto parsed_routes = ParseRoutes(*routes);
  auto parsed_config = ParseConfig(*config);
  if (!parsed_routes || !parsed_config) {
    return Err(Internal(
        fmt::format("Deployment '{}' has invalid stored routes or config: {}", row.d.name,
                    (!parsed_routes ? parsed_routes.error() : parsed_config.error()).message())));
  }
  row.d.routes = std::move(*parsed_routes);
  row.d.config = *parsed_config;
  return row;
}

class DeploymentStoreImpl final : public DeploymentStore {
 public:
  DeploymentStoreImpl(sql::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<Deployment> Create(const Actor& actor, const CreateDeploymentRequest& req) override {
    RETURN_IF_ERROR(ValidateDeploymentName(req.name));
    RETURN_IF_ERROR(ValidateRoutes(req.routes));
    RETURN_IF_ERROR(ValidateConfig(req.config));
    Deployment d;
    d.name = req.name;
    d.description = req.description;
    d.routes = req.routes;
    d.config = req.config;
    d.revision = 1;
    d.creation_timestamp = d.last_updated_timestamp = clock_.NowMillis();
    const std::string routes = RoutesJson(d.routes);
    const std::string config = ConfigJson(d.config);
    const std::string after = StateJson(d);
    Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      int64_t id = 0;
      RETURN_IF_ERROR(
          c.Query("INSERT INTO deployments (name, description, creation_time, last_updated_time, "
                  "revision, routes_json, config_json) VALUES (?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (name) DO NOTHING RETURNING deployment_id",
                  {d.name, d.description, d.creation_timestamp, d.last_updated_timestamp,
                   d.revision, routes, config},
                  [&](const sql::Row& r) { id = r.GetInt(0); }));
      if (id == 0) return AlreadyExists(fmt::format("Deployment '{}' already exists", d.name));
      return AppendEvent(c, id, d.name, d.revision, "create", actor, "", after,
                         d.creation_timestamp);
    });
    RETURN_IF_ERROR(s);
    return d;
  }

  Result<Deployment> Get(std::string_view name) override {
    std::optional<Row> row;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(row, Find(c, name));
      return Status::Ok();
    }));
    if (!row) return Err(NotFound(fmt::format("Deployment '{}' not found", name)));
    return std::move(row->d);
  }

  Result<std::vector<Deployment>> List() override {
    std::vector<Deployment> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      out.clear();
      Status bad;
      RETURN_IF_ERROR(
          c.Query(std::string(kSelectColumns) + " ORDER BY name", {}, [&](const sql::Row& r) {
            auto row = ReadRow(r);
            if (!row) {
              if (bad.ok()) bad = row.error();
              return;
            }
            out.push_back(std::move(row->d));
          }));
      return bad;
    }));
    return out;
  }

  Result<Deployment> Update(const Actor& actor, const UpdateDeploymentRequest& req) override {
    RETURN_IF_ERROR(ValidateDeploymentName(req.name));
    if (req.routes) RETURN_IF_ERROR(ValidateRoutes(*req.routes));
    if (req.config) RETURN_IF_ERROR(ValidateConfig(*req.config));
    if (!req.routes && !req.config && !req.description) {
      return Err(InvalidArgument("Nothing to update: give routes, config or description"));
    }
    return Change(actor, req.name, "update", [&](const Deployment& current) -> Result<Deployment> {
      if (req.expected_revision && *req.expected_revision != current.revision) {
        return Err(
            InvalidState(fmt::format("Deployment '{}' is at revision {}, not {}", current.name,
                                     current.revision, *req.expected_revision)));
      }
      Deployment next = current;
      if (req.routes) next.routes = *req.routes;
      if (req.config) next.config = *req.config;
      if (req.description) next.description = *req.description;
      return next;
    });
  }

  Result<Deployment> Rollback(const Actor& actor, std::string_view name,
                              std::optional<int64_t> to_revision) override {
    RETURN_IF_ERROR(ValidateDeploymentName(name));
    if (to_revision && *to_revision < 1) {
      return Err(InvalidArgument("to_revision must be a positive integer"));
    }
    return Change(
        actor, name, "rollback",
        [&](const Deployment& current, sql::Connection& c, int64_t id) -> Result<Deployment> {
          const int64_t target = to_revision.value_or(current.revision - 1);
          if (target < 1) {
            return Err(InvalidState(fmt::format(
                "Deployment '{}' is at its first revision: nothing to roll back to", name)));
          }
          if (target >= current.revision) {
            return Err(InvalidArgument(fmt::format(
                "to_revision must be below the current revision {}", current.revision)));
          }
          std::string state;
          RETURN_IF_ERROR(c.Query(
              "SELECT after_json FROM deployment_events WHERE deployment_id = ? AND revision = ? "
              "AND after_json <> '' ORDER BY event_id DESC LIMIT 1",
              {id, target}, [&](const sql::Row& r) { state = std::string(r.GetText(0)); }));
          if (state.empty()) {
            return Err(NotFound(fmt::format("Deployment '{}' has no revision {}", name, target)));
          }
          auto parsed = json::Parse(state);
          if (!parsed || parsed->Find("routes") == nullptr || parsed->Find("config") == nullptr) {
            return Err(Internal(fmt::format("Revision {} of '{}' is unreadable", target, name)));
          }
          Deployment next = current;
          ASSIGN_OR_RETURN(next.routes, ParseRoutes(*parsed->Find("routes")));
          ASSIGN_OR_RETURN(next.config, ParseConfig(*parsed->Find("config")));
          return next;
        });
  }

  Status Delete(const Actor& actor, std::string_view name) override {
    RETURN_IF_ERROR(ValidateDeploymentName(name));
    const int64_t now = clock_.NowMillis();
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(std::optional<Row> row, Find(c, name, /*for_update=*/true));
      if (!row) return NotFound(fmt::format("Deployment '{}' not found", name));
      ASSIGN_OR_RETURN(int64_t n,
                       c.Execute("DELETE FROM deployments WHERE deployment_id = ?", {row->id}));
      if (n != 1) return Unavailable("Deployment changed concurrently; retry");
      return AppendEvent(c, row->id, row->d.name, row->d.revision, "delete", actor,
                         StateJson(row->d), "", now);
    });
  }

  Result<DeploymentEventPage> ListEvents(std::string_view name, int max_results,
                                         std::string_view page_token) override {
    RETURN_IF_ERROR(ValidateDeploymentName(name));
    if (max_results < 1 || max_results > kEventsMax) {
      return Err(InvalidArgument(fmt::format("max_results must be between 1 and {}", kEventsMax)));
    }
    ASSIGN_OR_RETURN(int64_t offset, DecodePageToken(page_token));
    DeploymentEventPage page;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      page = DeploymentEventPage{};
      return c.Query(
          "SELECT event_id, timestamp, user_id, action, deployment_name, revision, before_json, "
          "after_json FROM deployment_events WHERE deployment_id IN "
          "(SELECT deployment_id FROM deployment_events WHERE deployment_name = ?) "
          "ORDER BY event_id LIMIT ? OFFSET ?",
          {name, int64_t{max_results} + 1, offset}, [&](const sql::Row& r) {
            DeploymentEvent e;
            e.event_id = r.GetInt(0);
            e.timestamp = r.GetInt(1);
            e.user = std::string(r.GetText(2));
            e.action = std::string(r.GetText(3));
            e.name = std::string(r.GetText(4));
            e.revision = r.GetInt(5);
            e.before_json = std::string(r.GetText(6));
            e.after_json = std::string(r.GetText(7));
            page.events.push_back(std::move(e));
          });
    }));
    if (page.events.empty() && offset == 0) {
      return Err(NotFound(fmt::format("No deployment was ever named '{}'", name)));
    }
    if (page.events.size() > static_cast<size_t>(max_results)) {
      page.events.resize(static_cast<size_t>(max_results));
      page.next_page_token = EncodePageToken(offset + max_results);
    }
    return page;
  }

 private:
  // for_update: PostgreSQL writers run in parallel (READ COMMITTED), so a
  // read-modify-write locks the row; SQLite serializes writers already.
  static Result<std::optional<Row>> Find(sql::Connection& c, std::string_view name,
                                         bool for_update = false) {
    std::optional<Row> row;
    Status bad;
    std::string sql = std::string(kSelectColumns) + " WHERE name = ?";
    if (for_update && c.backend() == sql::Backend::kPostgres) sql += " FOR UPDATE";
    RETURN_IF_ERROR(c.Query(sql, {name}, [&](const sql::Row& r) {
      auto read = ReadRow(r);
      if (read) {
        row = std::move(*read);
      } else {
        bad = read.error();
      }
    }));
    RETURN_IF_ERROR(bad);
    return row;
  }

  Status AppendEvent(sql::Connection& c, int64_t id, std::string_view name, int64_t revision,
                     std::string_view action, const Actor& actor, std::string_view before,
                     std::string_view after, int64_t now) {
    return StatusOf(c.Execute(
        "INSERT INTO deployment_events (deployment_id, deployment_name, revision, action, user_id, "
        "timestamp, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {id, name, revision, action, std::string_view(actor.user), now, before, after}));
  }

  // Read-modify-write of one deployment as a new revision. `next` computes
  // the new state from the current one; the write only lands if nobody
  // changed the row meanwhile (revision check), else it is recomputed.
  template <typename Next>
  Result<Deployment> Change(const Actor& actor, std::string_view name, std::string_view action,
                            Next&& next) {
    for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
      Deployment result;
      bool raced = false;
      Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
        raced = false;
        ASSIGN_OR_RETURN(std::optional<Row> row, Find(c, name, /*for_update=*/true));
        if (!row) return NotFound(fmt::format("Deployment '{}' not found", name));
        Result<Deployment> computed;
        if constexpr (std::is_invocable_v<Next, const Deployment&>) {
          computed = next(row->d);
        } else {
          computed = next(row->d, c, row->id);
        }
        if (!computed) return computed.error();
        Deployment d = std::move(*computed);
        d.revision = row->d.revision + 1;
        d.last_updated_timestamp = clock_.NowMillis();
        ASSIGN_OR_RETURN(
            int64_t n,
            c.Execute("UPDATE deployments SET description = ?, last_updated_time = ?, "
                      "revision = ?, routes_json = ?, config_json = ? "
                      "WHERE deployment_id = ? AND revision = ?",
                      {std::string_view(d.description), d.last_updated_timestamp, d.revision,
                       RoutesJson(d.routes), ConfigJson(d.config), row->id, row->d.revision}));
        if (n != 1) {
          raced = true;
          return Unavailable("Deployment changed concurrently");
        }
        RETURN_IF_ERROR(AppendEvent(c, row->id, d.name, d.revision, action, actor,
                                    StateJson(row->d), StateJson(d), d.last_updated_timestamp));
        result = std::move(d);
        return Status::Ok();
      });
      if (s.ok()) return result;
      if (!raced) return Err(std::move(s));
    }
    return Err(Unavailable(fmt::format("Deployment '{}' is being changed by others; retry", name)));
  }

  sql::Database& db_;
  const Clock& clock_;
};

}  // namespace

Status ApplyServingMigrations(sql::Database& db) { return db.Migrate("serving", kMigrations); }

Result<std::unique_ptr<DeploymentStore>> DeploymentStore::Open(sql::Database& db,
                                                               const Clock& clock) {
  RETURN_IF_ERROR(ApplyServingMigrations(db));
  return std::unique_ptr<DeploymentStore>(std::make_unique<DeploymentStoreImpl>(db, clock));
}

}  // namespace mlforge::serving

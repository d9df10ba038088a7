// MLflow's search grammar for runs and experiments (filter strings and
// order_by entries, as in MLflow 2.12's SearchUtils / SearchExperimentsUtils),
// compiled to parameterized SQL for SQLite and PostgreSQL. Private to the
// tracking subsystem.
//
// Contract: the SQL text of every fragment is built from our own constants
// only. User-supplied keys and values never appear in it; they travel as
// bound parameters in SqlFragment::params, in placeholder order ('?').
//
// Grammar and semantics (details in search_filter.cc):
//   filter     := "" | comparison ( AND comparison )*          (AND: any case)
//   comparison := identifier comparator value
//   identifier := prefix "." key | attribute
//   key        := bare-key (letters, digits, '_', '.') | `quoted` | "quoted"
//   comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
//   value      := number | 'string' | "string" | ( 'string' [, 'string']* )
//   order_by   := identifier [ASC | DESC]
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "sql/sql.h"

namespace mlforge::tracking {

// An owned bound value; see BindParams for the views the sql layer takes.
using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

// A piece of SQL with '?' placeholders and the values bound to them, in order.
struct SqlFragment {
  std::string sql;
  std::vector<SqlValue> params;
};

// Converts owned values to sql::Param views (valid while `values` lives and
// is not modified).
std::vector<sql::Param> BindParams(const std::vector<SqlValue>& values);

// A runs search as SQL pieces, for
//   SELECT ... FROM runs r <joins> WHERE <caller's conditions> [AND <where>]
//   ORDER BY <order_by>
// with parameters bound in that order: joins, then the caller's, then where,
// then order_by.
struct RunSearchSql {
  // " LEFT JOIN ..." clauses, one per (metric|param|tag, key) that the filter
  // or order_by names; each adds at most one row per run. May be empty.
  SqlFragment joins;
  // A parenthesized boolean expression to AND with the caller's own
  // conditions; empty for an empty/blank filter.
  SqlFragment where;
  // Body of ORDER BY (without the keywords): the user's keys, then the
  // tie-breakers "r.start_time DESC" (unless start_time was a user key) and
  // "r.run_uuid ASC". Never empty. Metrics sort real values first, then NaN,
  // then missing; params, tags and attributes sort missing last; both in
  // either direction.
  SqlFragment order_by;
};

// Compiles a runs filter and order_by (the runs table aliased "r").
// Errors: kInvalidParameterValue, naming the position in the input.
Result<RunSearchSql> CompileRunSearch(std::string_view filter,
                                      std::span<const std::string> order_by,
                                      sql::Backend backend);

// Experiments filter; the experiments table must be aliased "e".
Result<SqlFragment> CompileExperimentFilter(std::string_view filter, sql::Backend backend);

// Experiments ORDER BY body for alias "e". Empty order_by: MLflow's default
// "creation_time DESC, experiment_id ASC". Otherwise the user's keys, then
// "experiment_id DESC" as tie-breaker (MLflow's) unless experiment_id was given.
Result<SqlFragment> CompileExperimentOrderBy(std::span<const std::string> order_by,
                                             sql::Backend backend);

// The model registry's grammar (MLflow 2.12's SearchModelUtils,
// SearchModelVersionUtils and its SQL store). It lives here to share the
// parser; the tables are the registry's (src/registry/schema.cc).

// Registered models aliased "m" (registered_models; tags in
// registered_model_tags(model_id, key, value)): `name` and `tags.<key>`, each
// with = != LIKE ILIKE; prefixes: none, attribute, tag, tags.
Result<SqlFragment> CompileRegisteredModelFilter(std::string_view filter, sql::Backend backend);
// ORDER BY body for "m": name, timestamp (= last_updated_timestamp),
// creation_timestamp, then "m.name ASC" unless name was given.
Result<SqlFragment> CompileRegisteredModelOrderBy(std::span<const std::string> order_by,
                                                  sql::Backend backend);
// Model versions aliased "v" (model_versions; tags in
// model_version_tags(model_id, version, key, value)) joined with their model
// "m": `name`, `run_id` (also IN), `source_path` (= != LIKE ILIKE),
// `version_number` (numeric comparators) and `tags.<key>`.
Result<SqlFragment> CompileModelVersionFilter(std::string_view filter, sql::Backend backend);
// ORDER BY body: name, version_number, creation_timestamp,
// last_updated_timestamp; empty = MLflow's default "last_updated_timestamp
// DESC, name ASC, version_number DESC"; tie-breakers name ASC, version DESC.
Result<SqlFragment> CompileModelVersionOrderBy(std::span<const std::string> order_by,
                                               sql::Backend backend);

}  // namespace mlforge::tracking

// The tracking schema, as versioned migrations (component "tracking").
// Table layout: docs/tracking-schema.md.
#pragma once

#include <span>

#include "sql/sql.h"

namespace mlforge::tracking {

std::span<const sql::Migration> TrackingMigrations();

}  // namespace mlforge::tracking

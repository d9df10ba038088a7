// The registry's tables (migration component "registry"), described in
// docs/registry.md. Private to the registry.
#pragma once

#include <span>

#include "sql/sql.h"

namespace mlforge::registry {

std::span<const sql::Migration> RegistryMigrations();

}  // namespace mlforge::registry

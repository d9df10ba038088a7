// The player of the MLflow compatibility cases (tests/compat/cases/*.json,
// format in tests/compat/README.md). Used in-process by tests/api and against
// the real binary on both backends by tests/integration.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/http.h"

namespace mlforge::testing {

using CompatSendFn = std::function<Result<http::ClientResponse>(
    http::Method method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers)>;

// Every case file, sorted.
std::vector<std::filesystem::path> CompatCaseFiles();

// Plays one case file through send; mismatches are reported as gtest
// failures. unique is substituted for ${unique}.
void PlayCompatCase(const std::filesystem::path& file, const std::string& unique,
                    const CompatSendFn& send);

}  // namespace mlforge::testing

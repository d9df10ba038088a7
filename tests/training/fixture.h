// Reference values made by fixtures/make_fixtures.py (numpy/scipy).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/json.h"

namespace mlforge::training::testing {

inline const json::Value& Reference() {
  static const json::Value value = [] {
    std::ifstream in(std::string(MLFORGE_TRAINING_FIXTURES) + "/reference.json");
    std::stringstream s;
    s << in.rdbuf();
    auto v = json::Parse(s.str());
    if (!v) ADD_FAILURE() << "reference.json: " << v.error().message();
    return v ? *v : json::Value();
  }();
  return value;
}

inline std::vector<double> Doubles(const json::Value& v) {
  std::vector<double> out;
  for (const json::Value& x : v.items()) out.push_back(x.as_double());
  return out;
}

// A list of rows as one row-major vector.
inline std::vector<double> RowMajor(const json::Value& rows, int64_t* cols) {
  std::vector<double> out;
  for (const json::Value& row : rows.items()) {
    *cols = static_cast<int64_t>(row.items().size());
    for (const json::Value& x : row.items()) out.push_back(x.as_double());
  }
  return out;
}

}  // namespace mlforge::training::testing

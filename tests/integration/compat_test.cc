// Plays the MLflow compatibility cases (tests/compat/cases/*.json, format in
// tests/compat/README.md) against the real binary, on SQLite and PostgreSQL.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"

namespace mlforge::testing {
namespace {

using json::Value;

struct CaseParam {
  std::filesystem::path file;
  TestBackend backend;
};

std::vector<CaseParam> AllCases() {
  std::vector<std::filesystem::path> files;
  std::filesystem::path dir = std::filesystem::path(MLFORGE_SOURCE_DIR) / "tests/compat/cases";
  if (std::filesystem::exists(dir)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<CaseParam> out;
  for (const auto& f : files) {
    out.push_back({f, TestBackend::kSqlite});
    out.push_back({f, TestBackend::kPostgres});
  }
  return out;
}

class Player {
 public:
  explicit Player(std::string unique) { vars_["unique"] = Value::String(std::move(unique)); }

  // Replaces ${NAME} occurrences in a string with captured values.
  std::string Substitute(const std::string& s) const {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = s.find("${", i);
      if (start == std::string::npos) break;
      size_t end = s.find('}', start);
      if (end == std::string::npos) break;
      out += s.substr(i, start - i);
      std::string name = s.substr(start + 2, end - start - 2);
      auto it = vars_.find(name);
      if (it == vars_.end()) {
        out += s.substr(start, end - start + 1);
      } else if (it->second.is_string()) {
        out += it->second.as_string();
      } else {
        out += json::Serialize(it->second);
      }
      i = end + 1;
    }
    out += s.substr(i);
    return out;
  }

  Value SubstituteValue(const Value& v) const {
    if (v.is_string()) {
      const std::string& s = v.as_string();
      if (s.size() > 3 && s.starts_with("${") && s.back() == '}' &&
          s.find("${", 2) == std::string::npos) {
        auto it = vars_.find(s.substr(2, s.size() - 3));
        if (it != vars_.end()) return it->second;
      }
      return Value::String(Substitute(s));
    }
    if (v.is_array()) {
      std::vector<Value> items;
      for (const auto& item : v.items()) items.push_back(SubstituteValue(item));
      return Value::Array(std::move(items));
    }
    if (v.is_object()) {
      std::vector<Value::Member> members;
      for (const auto& [k, item] : v.members()) members.emplace_back(k, SubstituteValue(item));
      return Value::Object(std::move(members));
    }
    return v;
  }

  // Appends mismatch descriptions to errors.
  void Match(const Value& expected, const Value* actual, const std::string& where, bool exact,
             std::vector<std::string>& errors) {
    if (expected.is_string()) {
      const std::string& e = expected.as_string();
      if (e == "${any}") {
        if (!actual) errors.push_back(where + ": missing");
        return;
      }
      if (e == "${any_int}") {
        if (!actual || !actual->is_int64()) errors.push_back(where + ": expected an integer");
        return;
      }
      if (e == "${any_string}") {
        if (!actual || !actual->is_string()) errors.push_back(where + ": expected a string");
        return;
      }
      if (e.starts_with("${capture:") && e.back() == '}') {
        if (!actual) {
          errors.push_back(where + ": missing (to capture)");
          return;
        }
        vars_[e.substr(10, e.size() - 11)] = *actual;
        return;
      }
    }
    if (!actual) {
      errors.push_back(where + ": missing, expected " + json::Serialize(expected));
      return;
    }
    Value want = SubstituteValue(expected);
    if (want.is_object()) {
      if (!actual->is_object()) {
        errors.push_back(where + ": expected object, got " + json::Serialize(*actual));
        return;
      }
      for (const auto& [k, v] : expected.members()) Match(v, actual->Find(k), where + "." + k, exact, errors);
      if (exact) {
        for (const auto& [k, v] : actual->members()) {
          if (!expected.Find(k)) errors.push_back(where + ": unexpected key '" + k + "'");
        }
      }
      return;
    }
    if (want.is_array()) {
      if (!actual->is_array() || actual->items().size() != want.items().size()) {
        errors.push_back(where + ": expected " + json::Serialize(want) + ", got " +
                         json::Serialize(*actual));
        return;
      }
      for (size_t i = 0; i < expected.items().size(); ++i) {
        Match(expected.items()[i], &actual->items()[i], where + "[" + std::to_string(i) + "]",
              exact, errors);
      }
      return;
    }
    if (want.is_number() && actual->is_number()) {
      if (want.as_double() != actual->as_double()) {
        errors.push_back(where + ": expected " + json::Serialize(want) + ", got " +
                         json::Serialize(*actual));
      }
      return;
    }
    if (json::Serialize(want) != json::Serialize(*actual)) {
      errors.push_back(where + ": expected " + json::Serialize(want) + ", got " +
                       json::Serialize(*actual));
    }
  }

  void Play(const Value& doc, http::Client& client) {
    const Value* steps = doc.Find("steps");
    ASSERT_TRUE(steps && steps->is_array()) << "case file needs a \"steps\" array";
    int index = 0;
    for (const Value& step : steps->items()) {
      SCOPED_TRACE("step " + std::to_string(index++));
      const Value* req = step.Find("request");
      const Value* resp = step.Find("response");
      ASSERT_TRUE(req && resp);
      std::string method = req->Find("method") ? req->Find("method")->as_string() : "GET";
      std::string path = Substitute(req->Find("path")->as_string());
      std::vector<std::pair<std::string, std::string>> headers;
      std::string body;
      if (const Value* b = req->Find("body")) {
        body = json::Serialize(SubstituteValue(*b));
        headers.emplace_back("content-type", "application/json");
      } else if (const Value* raw = req->Find("body_raw")) {
        body = Substitute(raw->as_string());
      }
      if (const Value* h = req->Find("headers")) {
        for (const auto& [k, v] : h->members()) {
          std::string name = k;
          std::transform(name.begin(), name.end(), name.begin(), ::tolower);
          std::erase_if(headers, [&](const auto& p) { return p.first == name; });
          headers.emplace_back(name, Substitute(v.as_string()));
        }
      }
      http::Method m = http::Method::kOther;
      for (auto candidate : {http::Method::kGet, http::Method::kHead, http::Method::kPost,
                             http::Method::kPut, http::Method::kPatch, http::Method::kDelete,
                             http::Method::kOptions}) {
        if (http::MethodName(candidate) == method) m = candidate;
      }
      auto result = client.Send(m, path, body, headers);
      ASSERT_TRUE(result.has_value()) << method << " " << path << ": " << result.error().ToString();
      std::string trace = method + " " + path + " -> " + std::to_string(result->status) + " " +
                          result->body.substr(0, 600);
      if (const Value* status = resp->Find("status")) {
        EXPECT_EQ(result->status, status->as_int64()) << trace;
      }
      if (const Value* text = resp->Find("body_text")) {
        EXPECT_EQ(result->body, Substitute(text->as_string())) << trace;
      }
      if (const Value* hs = resp->Find("headers")) {
        for (const auto& [k, v] : hs->members()) {
          EXPECT_NE(std::string(result->Header(k)).find(Substitute(v.as_string())), std::string::npos)
              << "header " << k << ": " << trace;
        }
      }
      const Value* exact = resp->Find("body");
      const Value* subset = resp->Find("body_subset");
      const Value* contains = resp->Find("message_contains");
      if (exact || subset || contains) {
        auto parsed = json::Parse(result->body);
        ASSERT_TRUE(parsed.has_value()) << "response is not JSON: " << trace;
        std::vector<std::string> errors;
        if (exact) Match(*exact, &*parsed, "body", true, errors);
        if (subset) Match(*subset, &*parsed, "body", false, errors);
        if (contains) {
          const Value* msg = parsed->Find("message");
          if (!msg || !msg->is_string() ||
              msg->as_string().find(Substitute(contains->as_string())) == std::string::npos) {
            errors.push_back("message does not contain '" + contains->as_string() + "'");
          }
        }
        for (const std::string& e : errors) ADD_FAILURE() << e << "\n  " << trace;
        if (!errors.empty()) return;  // later steps depend on captures
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

 private:
  std::map<std::string, Value> vars_;
};

class CompatTest : public ::testing::TestWithParam<CaseParam> {};

TEST_P(CompatTest, Plays) {
  const CaseParam& p = GetParam();
  if (p.backend == TestBackend::kPostgres && PostgresTestsDisabled()) {
    GTEST_SKIP() << "MLFORGE_TEST_PG=off";
  }
  std::ifstream in(p.file);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::Parse(text.str());
  ASSERT_TRUE(doc.has_value()) << p.file << ": " << doc.error().ToString();
  ServerProcess server(p.backend);
  http::Client client("127.0.0.1", server.port());
  std::random_device rd;
  Player player("u" + std::to_string(rd() % 1000000));
  player.Play(*doc, client);
  // Whatever the case did, the server must still be serving.
  auto health = client.Get("/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
}

std::string CaseName(const ::testing::TestParamInfo<CaseParam>& info) {
  std::string name = info.param.file.stem().string() + "_" + BackendName(info.param.backend);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, CompatTest, ::testing::ValuesIn(AllCases()), CaseName);

}  // namespace
}  // namespace mlforge::testing

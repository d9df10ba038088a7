#include "support/compat_player.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "base/json.h"

namespace mlforge::testing {
namespace {

using json::Value;

// Variables, matching and substitution as README.md specifies.
class Player {
 public:
  explicit Player(std::string unique) { vars_["unique"] = Value::String(std::move(unique)); }

  std::string Substitute(const std::string& s) const {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = s.find("${", i);
      size_t end = start == std::string::npos ? std::string::npos : s.find('}', start);
      if (end == std::string::npos) break;
      out.append(s, i, start - i);
      auto it = vars_.find(s.substr(start + 2, end - start - 2));
      if (it == vars_.end()) {
        out.append(s, start, end - start + 1);
      } else if (it->second.is_string()) {
        out += it->second.as_string();
      } else {
        out += json::Serialize(it->second);
      }
      i = end + 1;
    }
    out.append(s, i);
    return out;
  }

  Value SubstituteValue(const Value& v) const {
    if (v.is_string()) {
      const std::string& s = v.as_string();
      // A whole-string reference keeps the captured value's JSON type.
      if (s.size() > 3 && s.starts_with("${") && s.back() == '}' &&
          s.find("${", 2) == std::string::npos) {
        auto it = vars_.find(s.substr(2, s.size() - 3));
        if (it != vars_.end()) return it->second;
      }
      return Value::String(Substitute(s));
    }
    if (v.is_array()) {
      std::vector<Value> items;
      for (const Value& item : v.items()) items.push_back(SubstituteValue(item));
      return Value::Array(std::move(items));
    }
    if (v.is_object()) {
      std::vector<Value::Member> members;
      for (const auto& [k, item] : v.members()) members.emplace_back(k, SubstituteValue(item));
      return Value::Object(std::move(members));
    }
    return v;
  }

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
        } else {
          vars_[e.substr(10, e.size() - 11)] = *actual;
        }
        return;
      }
    }
    if (!actual) {
      errors.push_back(where + ": missing, expected " + json::Serialize(expected));
      return;
    }
    if (expected.is_object()) {
      if (!actual->is_object()) {
        errors.push_back(where + ": expected an object, got " + json::Serialize(*actual));
        return;
      }
      for (const auto& [k, v] : expected.members()) {
        Match(v, actual->Find(k), where + "." + k, exact, errors);
      }
      if (exact) {
        for (const auto& [k, v] : actual->members()) {
          if (!expected.Find(k)) errors.push_back(where + ": unexpected key '" + k + "'");
        }
      }
      return;
    }
    if (expected.is_array()) {
      if (!actual->is_array() || actual->items().size() != expected.items().size()) {
        errors.push_back(where + ": expected " + json::Serialize(SubstituteValue(expected)) +
                         ", got " + json::Serialize(*actual));
        return;
      }
      for (size_t i = 0; i < expected.items().size(); ++i) {
        Match(expected.items()[i], &actual->items()[i], where + "[" + std::to_string(i) + "]",
              exact, errors);
      }
      return;
    }
    Value want = SubstituteValue(expected);
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

  void Play(const Value& doc, const CompatSendFn& send) {
    const Value* steps = doc.Find("steps");
    ASSERT_TRUE(steps && steps->is_array()) << "a case needs a \"steps\" array";
    ASSERT_TRUE(doc.Find("description") && doc.Find("description")->is_string())
        << "a case needs a \"description\"";
    int index = 0;
    for (const Value& step : steps->items()) {
      SCOPED_TRACE("step " + std::to_string(index++));
      const Value* req = step.Find("request");
      const Value* resp = step.Find("response");
      ASSERT_TRUE(req && resp) << "a step needs a request and a response";
      std::string method = req->Find("method") ? req->Find("method")->as_string() : "GET";
      ASSERT_TRUE(req->Find("path") && req->Find("path")->is_string());
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
      for (auto candidate :
           {http::Method::kGet, http::Method::kHead, http::Method::kPost, http::Method::kPut,
            http::Method::kPatch, http::Method::kDelete, http::Method::kOptions}) {
        if (http::MethodName(candidate) == method) m = candidate;
      }
      Result<http::ClientResponse> sent = send(m, path, body, headers);
      ASSERT_TRUE(sent.has_value()) << method << " " << path << ": " << sent.error().ToString();
      const http::ClientResponse& result = *sent;
      std::string trace = method + " " + path + " -> " + std::to_string(result.status) + " " +
                          result.body.substr(0, 600);
      if (const Value* status = resp->Find("status")) {
        EXPECT_EQ(result.status, status->as_int64()) << trace;
      }
      if (const Value* text = resp->Find("body_text")) {
        EXPECT_EQ(result.body, Substitute(text->as_string())) << trace;
      }
      if (const Value* hs = resp->Find("headers")) {
        for (const auto& [k, v] : hs->members()) {
          EXPECT_NE(std::string(result.Header(k)).find(Substitute(v.as_string())),
                    std::string::npos)
              << "header " << k << ": " << trace;
        }
      }
      const Value* exact = resp->Find("body");
      const Value* subset = resp->Find("body_subset");
      const Value* contains = resp->Find("message_contains");
      if (exact || subset || contains) {
        auto parsed = json::Parse(result.body);
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
      if (::testing::Test::HasFailure()) return;
    }
  }

 private:
  std::map<std::string, Value> vars_;
};

}  // namespace

std::vector<std::filesystem::path> CompatCaseFiles() {
  std::filesystem::path dir = std::filesystem::path(MLFORGE_SOURCE_DIR) / "tests/compat/cases";
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(dir)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

void PlayCompatCase(const std::filesystem::path& file, const std::string& unique,
                    const CompatSendFn& send) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  auto doc = json::Parse(text.str());
  ASSERT_TRUE(doc.has_value()) << file << ": " << doc.error().ToString();
  Player player(unique);
  player.Play(*doc, send);
}

}  // namespace mlforge::testing

// Helpers for the serving integration tests: mlforge.linear model versions
// registered through the real server's MLflow API, deployments created
// through its deployments API, and OIP request bodies. Header-only.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "http/http.h"
#include "integration/server_process.h"

namespace mlforge::testing {

inline json::Value ParseOrNull(const std::string& body) {
  auto v = json::Parse(body);
  return v ? *v : json::Value();
}

inline std::string Str(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f != nullptr && f->is_string() ? f->as_string() : std::string();
}

// The model every test serves: prediction = intercept + x1 + x2 + n, with
// the intercept = 1000 * version, so an answer tells which version gave it.
inline constexpr char kSignature[] =
    R"([{"type": "double", "name": "x1"}, {"type": "double", "name": "x2"}, )"
    R"({"type": "long", "name": "n"}])";

class ModelRegistrar {
 public:
  explicit ModelRegistrar(uint16_t port) : client_("127.0.0.1", port) {
    auto run = client_.PostJson("/api/2.0/mlflow/runs/create", R"({"experiment_id":"0"})");
    if (!run || run->status != 200) throw std::runtime_error("cannot create a run");
    run_id_ = ParseOrNull(run->body).Find("run")->Find("info")->Find("run_id")->as_string();
  }

  // Registers the next version of `model`. A broken one has a model.json
  // the linear runtime refuses (the registry accepts it: its MLmodel is fine).
  int64_t AddVersion(const std::string& model, double intercept, bool broken = false) {
    if (!created_.contains(model)) {
      auto r = client_.PostJson("/api/2.0/mlflow/registered-models/create",
                                R"({"name":")" + model + R"("})");
      EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
      created_.insert(model);
    }
    const std::string dir = "pkg" + std::to_string(++packages_);
    const std::string base =
        "/api/2.0/mlflow-artifacts/artifacts/0/" + run_id_ + "/artifacts/" + dir;
    const std::string mlmodel = std::string(
                                    "artifact_path: model\nflavors:\n  mlforge.linear:\n"
                                    "    data: model.json\nsignature:\n  inputs: '") +
                                kSignature + "'\n  outputs: null\n";
    const std::string model_json =
        broken ? R"({"format": "mlforge.linear/0"})"
               : R"({"format":"mlforge.linear/1","task":"regression","features":["x1","x2","n"],)"
                 R"("coef":[1,1,1],"intercept":)" +
                     std::to_string(intercept) + "}";
    for (const auto& [name, content] :
         {std::pair<std::string, std::string>{"MLmodel", mlmodel}, {"model.json", model_json}}) {
      auto put = client_.Send(http::Method::kPut, base + "/" + name, content,
                              {{"content-type", "application/octet-stream"}});
      EXPECT_TRUE(put && put->status == 200) << (put ? put->body : "no answer");
    }
    auto v = client_.PostJson(
        "/api/2.0/mlflow/model-versions/create",
        R"({"name":")" + model + R"(","source":"runs:/)" + run_id_ + "/" + dir + R"("})");
    EXPECT_TRUE(v && v->status == 200) << (v ? v->body : "no answer");
    return std::stoll(Str(*ParseOrNull(v->body).Find("model_version"), "version"));
  }

  void SetAlias(const std::string& model, const std::string& alias, int64_t version) {
    auto r = client_.PostJson("/api/2.0/mlflow/registered-models/alias",
                              R"({"name":")" + model + R"(","alias":")" + alias +
                                  R"(","version":")" + std::to_string(version) + R"("})");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  }

 private:
  http::Client client_;
  std::string run_id_;
  std::set<std::string> created_;
  int packages_ = 0;
};

// POSTs a deployments API call; returns the response (status 0 if none).
inline http::ClientResponse DeploymentsCall(http::Client& client, http::Method method,
                                            const std::string& verb, const std::string& body) {
  auto r = client.Send(method, "/api/2.0/mlforge/deployments/" + verb, body,
                       {{"content-type", "application/json"}});
  return r ? *r : http::ClientResponse{};
}

inline void CreateDeployment(http::Client& client, const std::string& name,
                             const std::string& routes_json, const std::string& extra = "") {
  auto r = DeploymentsCall(client, http::Method::kPost, "create",
                           R"({"name":")" + name + R"(","routes":)" + routes_json + extra + "}");
  ASSERT_EQ(r.status, 200) << r.body;
}

// One OIP infer body: `rows` rows of (x1, x2, n).
inline std::string InferBody(double x1, double x2, int64_t n, const std::string& id = "") {
  std::string body = "{";
  if (!id.empty()) body += R"("id":")" + id + R"(",)";
  body += R"("inputs":[{"name":"x1","shape":[1],"datatype":"FP64","data":[)" + std::to_string(x1) +
          R"(]},{"name":"x2","shape":[1],"datatype":"FP64","data":[)" + std::to_string(x2) +
          R"(]},{"name":"n","shape":[1],"datatype":"INT64","data":[)" + std::to_string(n) + "]}]}";
  return body;
}

// The single prediction of an OIP answer (NaN when absent).
inline double OipPrediction(const std::string& body) {
  json::Value v = ParseOrNull(body);
  const json::Value* outputs = v.Find("outputs");
  if (outputs == nullptr || !outputs->is_array() || outputs->items().empty()) return NAN;
  const json::Value* data = outputs->items()[0].Find("data");
  if (data == nullptr || !data->is_array() || data->items().empty()) return NAN;
  return data->items()[0].as_double();
}

// `mlforge serve` on the data of a running `mlforge server`. RAII like
// ServerProcess.
class ReplicaProcess {
 public:
  ReplicaProcess(const ServerProcess& server, const std::string& deployment,
                 std::vector<std::string> extra = {}) {
    const std::filesystem::path port_file = dir_.path() / "port";
    std::vector<std::string> args = {MlforgeBinary(),
                                     "serve",
                                     "--deployment",
                                     deployment,
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     "0",
                                     "--data-dir",
                                     server.data_dir().string(),
                                     "--backend-store-uri",
                                     server.backend_uri(),
                                     "--port-file",
                                     port_file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    log_ = dir_.path() / "replica.log";
    StartedProcess started = StartAndWaitForPort(std::move(args), port_file, log_);
    pid_ = started.pid;
    port_ = started.port;  // 0 when it exited: log() says why
    exit_status_ = started.exit_status;
  }
  ~ReplicaProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  uint16_t port() const { return port_; }
  int exit_status() const { return exit_status_; }
  std::string log() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  TempDir dir_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  int exit_status_ = 0;
};

}  // namespace mlforge::testing

// Response encoding: MLflow's shapes and omission rules.
#include "api/mlflow_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "http/http.h"

namespace mlforge::api {
namespace {

template <typename Fn>
std::string Encode(Fn fn) {
  json::Writer w;
  fn(w);
  return w.Take();
}

TEST(MlflowJsonTest, ExperimentOmitsUnsetTimesAndEmptyTags) {
  tracking::Experiment e;
  e.experiment_id = "0";
  e.name = "Default";
  e.artifact_location = "mlflow-artifacts:/0";
  e.lifecycle_stage = "active";
  EXPECT_EQ(Encode([&](json::Writer& w) { WriteExperiment(w, e); }),
            R"({"experiment_id":"0","name":"Default","artifact_location":"mlflow-artifacts:/0",)"
            R"("lifecycle_stage":"active"})");
  e.creation_time = 1700000000000;
  e.last_update_time = 1700000000001;
  e.tags = {{"k", "v"}};
  EXPECT_EQ(Encode([&](json::Writer& w) { WriteExperiment(w, e); }),
            R"({"experiment_id":"0","name":"Default","artifact_location":"mlflow-artifacts:/0",)"
            R"("lifecycle_stage":"active","last_update_time":1700000000001,)"
            R"("creation_time":1700000000000,"tags":[{"key":"k","value":"v"}]})");
}

TEST(MlflowJsonTest, RunInfoHasBothIdsAndOmitsEndTimeWhileRunning) {
  tracking::RunInfo info;
  info.run_id = "abc";
  info.run_name = "r";
  info.experiment_id = "1";
  info.user_id = "";
  info.status = "RUNNING";
  info.start_time = 5;
  info.artifact_uri = "mlflow-artifacts:/1/abc/artifacts";
  info.lifecycle_stage = "active";
  EXPECT_EQ(
      Encode([&](json::Writer& w) { WriteRunInfo(w, info); }),
      R"({"run_uuid":"abc","experiment_id":"1","run_name":"r","user_id":"",)"
      R"("status":"RUNNING","start_time":5,"artifact_uri":"mlflow-artifacts:/1/abc/artifacts",)"
      R"("lifecycle_stage":"active","run_id":"abc"})");
  info.end_time = 0;  // MLflow: only when truthy
  EXPECT_EQ(Encode([&](json::Writer& w) { WriteRunInfo(w, info); }).find("end_time"),
            std::string::npos);
  info.end_time = 9;
  EXPECT_NE(Encode([&](json::Writer& w) { WriteRunInfo(w, info); }).find(R"("end_time":9)"),
            std::string::npos);
}

TEST(MlflowJsonTest, RunAlwaysHasDataAndInputs) {
  tracking::Run run;
  run.info.run_id = "x";
  run.info.status = "RUNNING";
  run.info.lifecycle_stage = "active";
  std::string s = Encode([&](json::Writer& w) { WriteRun(w, run); });
  EXPECT_NE(s.find(R"("data":{},"inputs":{}})"), std::string::npos) << s;

  run.metrics = {{"loss", std::numeric_limits<double>::quiet_NaN(), 7, 0}, {"acc", 1.0, 8, 2}};
  run.params = {{"p", "1"}};
  run.tags = {{"mlflow.runName", "r"}};
  tracking::DatasetInput in;
  in.dataset = {"d", "123", "local", "{}", "", ""};
  in.tags = {{"mlflow.data.context", "training"}};
  run.inputs = {in};
  s = Encode([&](json::Writer& w) { WriteRun(w, run); });
  EXPECT_NE(
      s.find(
          R"("data":{"metrics":[{"key":"loss","value":"NaN","timestamp":7,"step":0},)"
          R"({"key":"acc","value":1.0,"timestamp":8,"step":2}],)"
          R"("params":[{"key":"p","value":"1"}],"tags":[{"key":"mlflow.runName","value":"r"}]})"),
      std::string::npos)
      << s;
  EXPECT_NE(s.find(R"("inputs":{"dataset_inputs":[{"tags":[{"key":"mlflow.data.context",)"
                   R"("value":"training"}],"dataset":{"name":"d","digest":"123",)"
                   R"("source_type":"local","source":"{}"}}]})"),
            std::string::npos)
      << s;
}

TEST(MlflowJsonTest, MetricsEncodeNonFiniteAsStrings) {
  EXPECT_EQ(Encode([](json::Writer& w) {
              WriteMetric(w, {"m", std::numeric_limits<double>::infinity(), 1, -3});
            }),
            R"({"key":"m","value":"Infinity","timestamp":1,"step":-3})");
  EXPECT_EQ(Encode([](json::Writer& w) {
              WriteMetricWithRunId(w, {{"m", -std::numeric_limits<double>::infinity(), 1, 2}, "r"});
            }),
            R"({"key":"m","value":"-Infinity","timestamp":1,"step":2,"run_id":"r"})");
}

TEST(MlflowJsonTest, FileInfoOmitsSizeForDirectoriesAndEmptyFiles) {
  EXPECT_EQ(Encode([](json::Writer& w) { WriteFileInfo(w, "a/b.txt", false, 12); }),
            R"({"path":"a/b.txt","is_dir":false,"file_size":12})");
  EXPECT_EQ(Encode([](json::Writer& w) { WriteFileInfo(w, "empty", false, 0); }),
            R"({"path":"empty","is_dir":false})");
  EXPECT_EQ(Encode([](json::Writer& w) { WriteFileInfo(w, "dir", true, 4096); }),
            R"({"path":"dir","is_dir":true})");
}

TEST(MlflowJsonTest, StatusErrorsUseMlflowShapeAndStatus) {
  http::Response r;
  SetStatusError(r, NotFound("Run with id=x not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            R"({"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run with id=x not found"})");
  SetStatusError(r, InvalidState("Cannot rename"));
  EXPECT_EQ(r.status, 400);  // not MLflow's 500: clients retry 5xx
  EXPECT_NE(r.body.find("INVALID_STATE"), std::string::npos);
}

}  // namespace
}  // namespace mlforge::api

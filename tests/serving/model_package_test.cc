#include "serving/model_package.h"

#include <gtest/gtest.h>

#include "serving/runtime.h"
#include "serving_test_util.h"
#include "support/temp_dir.h"

namespace mlforge::serving {
namespace {

using testing::WriteFile;

// What MLflow 2.12 writes for an xgboost model logged with a signature
// (mlflow.models.Model.to_yaml: yaml.safe_dump, keys sorted).
constexpr std::string_view kMlflowXgbMLmodel = R"(artifact_path: model
flavors:
  python_function:
    data: model.ubj
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.4
  xgboost:
    code: null
    data: model.ubj
    model_class: xgboost.core.Booster
    model_format: ubj
    xgb_version: 1.7.4
mlflow_version: 2.12.1
model_size_bytes: 3721
model_uuid: 0c3c1f4c8e1b4b1a9c5b0e0b6f3d2a11
run_id: 3f1e6c2b9a7d4e5f8a0b1c2d3e4f5a6b
signature:
  inputs: '[{"type": "double", "name": "x0", "required": true}, {"type": "long", "name":
    "x1", "required": true}, {"type": "boolean", "name": "x2", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]'
  params: null
utc_time_created: '2024-04-22 09:13:51.114823'
)";

TEST(ParseMLmodelTest, ReadsFlavorsAndColumnSignatureAsMlflowWritesThem) {
  auto info = ParseMLmodel(kMlflowXgbMLmodel);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  ASSERT_EQ(info->flavors.size(), 2u);
  EXPECT_EQ(info->flavors[0].name, "python_function");
  const Flavor& xgb = info->flavors[1];
  EXPECT_EQ(xgb.name, "xgboost");
  ASSERT_NE(xgb.Find("data"), nullptr);
  EXPECT_EQ(*xgb.Find("data"), "model.ubj");
  EXPECT_EQ(*xgb.Find("model_class"), "xgboost.core.Booster");
  EXPECT_EQ(*xgb.Find("model_format"), "ubj");
  EXPECT_EQ(xgb.Find("code"), nullptr);  // YAML null
  ASSERT_TRUE(info->signature.has_value());
  const auto& inputs = info->signature->inputs;
  ASSERT_EQ(inputs.size(), 3u);
  EXPECT_EQ(inputs[0].name, "x0");
  EXPECT_EQ(inputs[0].type, ColumnType::kDouble);
  EXPECT_EQ(inputs[1].type, ColumnType::kLong);
  EXPECT_EQ(inputs[2].type, ColumnType::kBoolean);
  EXPECT_TRUE(inputs[1].required);
  EXPECT_FALSE(inputs[2].required);
  EXPECT_TRUE(info->signature->outputs.empty());  // tensor outputs are ignored
}

TEST(ParseMLmodelTest, NoSignatureIsNotAnError) {
  auto info = ParseMLmodel("flavors:\n  xgboost:\n    data: model.json\n");
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->signature.has_value());
}

TEST(ParseMLmodelTest, RefusesTensorInputSignatureClearly) {
  auto info = ParseMLmodel(
      "flavors:\n  xgboost:\n    data: model.json\nsignature:\n  inputs: '[{\"type\": \"tensor\", "
      "\"tensor-spec\": {\"dtype\": \"float64\", \"shape\": [-1, 4]}}]'\n");
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(info.error().message().find("tensor-based"), std::string::npos) << info.error().message();
}

TEST(ParseMLmodelTest, RefusesBrokenFiles) {
  for (std::string_view text : {
           std::string_view("just a string"),
           std::string_view("flavors: [1, 2]"),
           std::string_view("run_id: x\n"),
           std::string_view("flavors: {a: {b: 1}}\nsignature:\n  inputs: 'not json'\n"),
           std::string_view("flavors: {a: {}}\nsignature:\n  inputs: '[{\"type\": \"double\"}]'\n"),
           std::string_view("flavors: {a: {}}\nsignature:\n  inputs: '[{\"type\": \"map\", \"name\": \"m\"}]'\n"),
           std::string_view("flavors: {a: {}}\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"a\"}, "
                            "{\"type\": \"double\", \"name\": \"a\"}]'\n"),
           std::string_view("flavors: {a: [\n"),
       }) {
    auto info = ParseMLmodel(text);
    EXPECT_FALSE(info.has_value()) << text;
    if (!info) {
      EXPECT_EQ(info.error().code(), ErrorCode::kInvalidParameterValue) << text;
    }
  }
}

TEST(ResolvePackageFileTest, RefusesEveryWayOut) {
  mlforge::testing::TempDir tmp;
  const auto pkg = tmp.path() / "pkg";
  WriteFile(pkg / "model.json", "{}");
  WriteFile(pkg / "sub" / "inner.json", "{}");
  WriteFile(tmp.path() / "secret.json", "{}");
  std::filesystem::create_symlink(tmp.path() / "secret.json", pkg / "link_out.json");
  std::filesystem::create_symlink(pkg / "model.json", pkg / "link_in.json");
  std::filesystem::create_directory_symlink(tmp.path(), pkg / "dir_out");

  EXPECT_TRUE(ResolvePackageFile(pkg, "model.json").has_value());
  EXPECT_TRUE(ResolvePackageFile(pkg, "sub/inner.json").has_value());
  EXPECT_TRUE(ResolvePackageFile(pkg, "link_in.json").has_value());  // stays inside
  for (std::string_view bad : {"../secret.json", "/etc/passwd", "sub/../../secret.json",
                               "link_out.json", "dir_out/secret.json", "", ".", "sub",
                               "%2e%2e/secret.json", "missing.json"}) {
    auto r = ResolvePackageFile(pkg, bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue) << bad;
      // Messages never reveal where the package lives.
      EXPECT_EQ(r.error().message().find(tmp.path().string()), std::string::npos) << r.error().message();
    }
  }
}

TEST(LoadModelPackageTest, MissingDirOrMLmodelIsNotFound) {
  mlforge::testing::TempDir tmp;
  auto r = LoadModelPackage(tmp.path() / "nope");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceDoesNotExist);
  r = LoadModelPackage(tmp.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kResourceDoesNotExist);
}

TEST(LoadModelPackageTest, DataFileOutsideThePackageIsRefused) {
  mlforge::testing::TempDir tmp;
  const auto pkg = tmp.path() / "pkg";
  WriteFile(tmp.path() / "model.json",
            R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a"], "coef": [1], "intercept": 0})");
  WriteFile(pkg / "MLmodel", "flavors:\n  mlforge.linear:\n    data: ../model.json\n");
  auto r = LoadModelPackage(pkg);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  WriteFile(pkg / "MLmodel", "flavors:\n  mlforge.linear:\n    data: " + (tmp.path() / "model.json").string() + "\n");
  r = LoadModelPackage(pkg);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  // MLmodel itself a symlink to a file outside.
  WriteFile(tmp.path() / "MLmodel.outside", "flavors:\n  mlforge.linear:\n    data: model.json\n");
  std::filesystem::remove(pkg / "MLmodel");
  std::filesystem::create_symlink(tmp.path() / "MLmodel.outside", pkg / "MLmodel");
  r = LoadModelPackage(pkg);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
}

TEST(LoadModelPackageTest, NoServedFlavorSaysWhichExist) {
  mlforge::testing::TempDir tmp;
  WriteFile(tmp.path() / "MLmodel", "flavors:\n  python_function:\n    loader_module: x\n  sklearn:\n    pickled_model: m.pkl\n");
  auto r = LoadModelPackage(tmp.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(r.error().message().find("python_function, sklearn"), std::string::npos) << r.error().message();
}

TEST(LoadModelPackageTest, StringInputColumnIsRefused) {
  mlforge::testing::TempDir tmp;
  testing::WriteLinearPackage(
      tmp.path(),
      R"({"format": "mlforge.linear/1", "task": "regression", "features": ["a"], "coef": [1], "intercept": 0})",
      testing::ColumnsJson({{"a", "string"}}));
  auto r = LoadModelPackage(tmp.path());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("'a'"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace mlforge::serving

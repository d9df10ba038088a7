// MLmodel file checks (registry/mlmodel.h) and registry search grammar errors.
#include "registry/mlmodel.h"

#include <gtest/gtest.h>

#include <string>

namespace mlforge::registry {
namespace {

constexpr char kGood[] = R"(artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
  sklearn:
    sklearn_version: 1.2.1
signature:
  inputs: '[{"type": "double", "name": "x"}, {"type": "string", "name": "s", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
)";

TEST(MLmodelTest, AcceptsWhatMlflowWrites) {
  EXPECT_TRUE(ValidateMLmodel(kGood).ok()) << ValidateMLmodel(kGood).ToString();
  EXPECT_TRUE(ValidateMLmodel("flavors: {}\n").ok());
  EXPECT_TRUE(ValidateMLmodel("flavors:\n  xgboost: {data: model.xgb}\nsignature: null\n").ok());
}

TEST(MLmodelTest, RefusesWhatIsNotAModelPackage) {
  struct Case {
    std::string text;
    std::string why;
  };
  const Case cases[] = {
      {"", "not a YAML mapping"},
      {"- a\n- b\n", "not a YAML mapping"},
      {"artifact_path: model\n", "no 'flavors'"},
      {"flavors: [a, b]\n", "'flavors' is not a mapping"},
      {"flavors: sklearn\n", "'flavors' is not a mapping"},
      {"flavors: {a: 1}\nsignature: [1]\n", "'signature' is not a mapping"},
      {"flavors: {a: 1}\nsignature:\n  inputs: 'not json'\n", "not valid JSON"},
      {"flavors: {a: 1}\nsignature:\n  inputs: '{\"type\": \"double\"}'\n", "not a JSON list"},
      {"flavors: {a: 1}\nsignature:\n  inputs: '[{\"name\": \"x\"}]'\n", "no string 'type'"},
      {"flavors: {a: 1}\nsignature:\n  inputs: '[{\"type\": \"complex128\"}]'\n", "unknown type"},
      {"flavors: {a: 1}\nsignature:\n  inputs: '[{\"type\": \"tensor\"}]'\n", "tensor-spec"},
      {"flavors: {a: 1}\nsignature:\n  outputs: '[{\"type\": \"long\", \"name\": 3}]'\n",
       "'name' that is not a string"},
      {"flavors: {a: 1}\nsignature:\n  inputs: [1, 2]\n", "not a JSON string"},
      {"flavors: {a: [1, 2\n", "not valid YAML"},
  };
  for (const Case& c : cases) {
    Status s = ValidateMLmodel(c.text);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidParameterValue) << c.text;
    EXPECT_NE(s.message().find(c.why), std::string::npos) << c.text << " -> " << s.message();
  }
}

TEST(MLmodelTest, DeepNestingAndHugeFilesAreErrorsNotCrashes) {
  std::string deep = "flavors: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  EXPECT_EQ(ValidateMLmodel(deep).code(), ErrorCode::kInvalidParameterValue);
  std::string huge = "flavors: {}\nx: '" + std::string(kMaxMLmodelBytes, 'a') + "'\n";
  EXPECT_EQ(ValidateMLmodel(huge).code(), ErrorCode::kInvalidParameterValue);
}

}  // namespace
}  // namespace mlforge::registry

#include "serving/xgboost_runtime.h"

#include <fmt/core.h>
#include <xgboost/c_api.h>

#include <limits>
#include <mutex>
#include <optional>

#include "serving/tree_ensemble.h"

namespace mlforge::serving {
namespace {

// Model files bigger than this are refused (a 1000-tree depth-10 model is
// well under it).
constexpr size_t kMaxModelBytes = 1ull << 30;

constexpr std::string_view kBooster = "xgboost.core.Booster";
constexpr std::string_view kClassifier = "xgboost.sklearn.XGBClassifier";
constexpr std::string_view kRegressor = "xgboost.sklearn.XGBRegressor";

Status XgbError(std::string_view what) {
  return InvalidArgument(fmt::format("{}: {}", what, XGBGetLastError()));
}

struct BoosterDeleter {
  void operator()(void* handle) const { XGBoosterFree(handle); }
};
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;

// Immutable after construction; Predict is thread-safe (the native path
// reads only const data; libxgboost's in-place predict is thread-safe and
// keeps its output buffer per thread).
class XgboostRuntime final : public ModelRuntime {
 public:
  XgboostRuntime(ModelSignature signature, BoosterPtr booster, std::optional<TreeEnsemble> native,
                 int raw_outputs, bool class_labels, bool binary_probability)
      : signature_(std::move(signature)),
        booster_(std::move(booster)),
        native_(std::move(native)),
        raw_outputs_(raw_outputs),
        class_labels_(class_labels),
        binary_probability_(binary_probability) {}

  std::string_view flavor() const override { return kXgboostFlavor; }
  const ModelSignature& signature() const override { return signature_; }
  bool native() const { return native_.has_value(); }

  Result<PredictionBatch> Predict(const FeatureBatch& in) const override {
    const int64_t width = static_cast<int64_t>(signature_.inputs.size());
    if (in.cols != width || in.values.size() != static_cast<size_t>(in.rows * in.cols)) {
      return Err(InvalidArgument(
          fmt::format("The model takes {} features per row; got {}", width, in.cols)));
    }
    PredictionBatch out{.rows = in.rows, .cols = raw_outputs_};
    for (const ColumnSpec& c : signature_.outputs) out.output_names.push_back(c.name);
    out.values.resize(static_cast<size_t>(in.rows * raw_outputs_));
    if (in.rows > 0) {
      if (native_) {
        native_->Predict(in.values.data(), in.rows, out.values.data());
      } else {
        RETURN_IF_ERROR(PredictWithLibxgboost(in, out.values.data()));
      }
    }
    if (class_labels_) ToClassLabels(out);
    return out;
  }

 private:
  // Through a DMatrix: dart and gblinear have no in-place predict in
  // libxgboost 1.7. One prediction at a time (the booster's prediction cache
  // is not documented as thread-safe for DMatrix input); this path is the
  // rare fallback, not the serving path.
  Status PredictWithLibxgboost(const FeatureBatch& in, double* out) const {
    DMatrixHandle matrix = nullptr;
    if (XGDMatrixCreateFromMat(in.values.data(), static_cast<bst_ulong>(in.rows),
                               static_cast<bst_ulong>(in.cols), std::numeric_limits<float>::quiet_NaN(),
                               &matrix) != 0) {
      return Internal(fmt::format("libxgboost cannot take the batch: {}", XGBGetLastError()));
    }
    static constexpr const char* kConfig =
        R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    std::lock_guard lock(fallback_mutex_);
    const int rc = XGBoosterPredictFromDMatrix(booster_.get(), matrix, kConfig, &shape, &dim, &result);
    XGDMatrixFree(matrix);
    if (rc != 0) return Internal(fmt::format("libxgboost predict failed: {}", XGBGetLastError()));
    bst_ulong n = 1;
    for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
    if (n != static_cast<bst_ulong>(in.rows * raw_outputs_)) {
      return Internal("libxgboost returned an unexpected prediction shape");
    }
    for (bst_ulong i = 0; i < n; ++i) out[i] = result[i];
    return Status::Ok();
  }

  // XGBClassifier.predict (what MLflow's pyfunc calls): the class index;
  // binary probabilities above 0.5 are class 1.
  void ToClassLabels(PredictionBatch& out) const {
    if (out.cols == 1) {
      // binary:logistic -> threshold; multi:softmax is an index already.
      if (binary_probability_) {
        for (double& v : out.values) v = v > 0.5 ? 1.0 : 0.0;
      }
      return;
    }
    std::vector<double> labels(static_cast<size_t>(out.rows));
    for (int64_t r = 0; r < out.rows; ++r) {
      const double* row = out.values.data() + r * out.cols;
      int64_t best = 0;
      for (int64_t c = 1; c < out.cols; ++c) {
        if (row[c] > row[best]) best = c;
      }
      labels[static_cast<size_t>(r)] = static_cast<double>(best);
    }
    out.values = std::move(labels);
    out.cols = 1;
    out.output_names = {"prediction"};
  }

  const ModelSignature signature_;
  const BoosterPtr booster_;
  const std::optional<TreeEnsemble> native_;
  const int raw_outputs_;  // columns the booster predicts
  const bool class_labels_;
  const bool binary_probability_;  // binary:logistic: one probability per row
  // Serializes the libxgboost fallback (see PredictWithLibxgboost).
  mutable std::mutex fallback_mutex_;
};

Result<std::string> SaveJson(void* booster) {
  bst_ulong len = 0;
  const char* data = nullptr;
  if (XGBoosterSaveModelToBuffer(booster, R"({"format": "json"})", &len, &data) != 0) {
    return Err(XgbError("Cannot dump the XGBoost model"));
  }
  return std::string(data, len);
}

}  // namespace

Result<std::unique_ptr<ModelRuntime>> XgboostRuntimeFromBytes(
    std::string_view bytes, std::string_view model_class, const std::optional<ModelSignature>& signature,
    const XgboostOptions& options) {
  if (!model_class.empty() && model_class != kBooster && model_class != kClassifier &&
      model_class != kRegressor) {
    return Err(InvalidArgument(fmt::format(
        "The xgboost flavor's model_class '{}' is not served (supported: {}, {}, {})", model_class,
        kBooster, kClassifier, kRegressor)));
  }
  void* handle = nullptr;
  if (XGBoosterCreate(nullptr, 0, &handle) != 0) return Err(XgbError("Cannot create a booster"));
  BoosterPtr booster(handle);
  if (bytes.empty() ||
      XGBoosterLoadModelFromBuffer(handle, bytes.data(), static_cast<bst_ulong>(bytes.size())) != 0) {
    return Err(XgbError("The XGBoost model file cannot be loaded (corrupt or not an XGBoost model)"));
  }
  // Serving predicts one request per thread; libxgboost's own threads would
  // only contend with the HTTP workers.
  if (XGBoosterSetParam(handle, "nthread", "1") != 0) return Err(XgbError("Cannot configure the booster"));
  bst_ulong num_features = 0;
  if (XGBoosterGetNumFeature(handle, &num_features) != 0) return Err(XgbError("Cannot read the model"));

  std::vector<std::string> feature_names;
  bst_ulong n_names = 0;
  const char** names = nullptr;
  if (XGBoosterGetStrFeatureInfo(handle, "feature_name", &n_names, &names) == 0) {
    for (bst_ulong i = 0; i < n_names; ++i) feature_names.emplace_back(names[i]);
  }

  ModelSignature sig;
  if (signature) {
    sig = *signature;
    if (sig.inputs.size() != num_features) {
      return Err(InvalidArgument(fmt::format(
          "The signature has {} inputs but the XGBoost model takes {} features", sig.inputs.size(),
          num_features)));
    }
    if (!feature_names.empty()) {
      for (size_t i = 0; i < feature_names.size() && i < sig.inputs.size(); ++i) {
        if (feature_names[i] != sig.inputs[i].name) {
          return Err(InvalidArgument(fmt::format(
              "Signature input {} is '{}' but the XGBoost model's feature {} is '{}': the signature "
              "must list the features in training order",
              i, sig.inputs[i].name, i, feature_names[i])));
        }
      }
    }
  } else {
    if (feature_names.size() != num_features || num_features == 0) {
      return Err(InvalidArgument(
          "The model package has no signature and the XGBoost model has no feature names, so its "
          "input columns are unknown; log the model with a signature"));
    }
    for (const std::string& name : feature_names) sig.inputs.push_back(ColumnSpec{.name = name});
  }

  ASSIGN_OR_RETURN(std::string json, SaveJson(handle));
  auto ensemble = TreeEnsemble::FromXgboostJson(json);
  if (!ensemble && ensemble.error().code() != ErrorCode::kNotImplemented) return Err(ensemble.error());

  // Objective and classes from the dump (also when the native path does not
  // apply, for the output shape).
  std::string objective;
  int num_class = 0;
  if (ensemble) {
    objective = ensemble->objective();
    num_class = ensemble->transform() == TreeEnsemble::Transform::kSoftprob ? ensemble->num_groups() : 0;
  } else {
    // Cheap re-read of the two facts; the native parser refused the rest.
    const size_t obj = json.find("\"objective\":{\"name\":\"");
    if (obj != std::string::npos) {
      const size_t start = obj + 21;
      objective = json.substr(start, json.find('"', start) - start);
    }
    const size_t nc = json.find("\"num_class\":\"");
    if (nc != std::string::npos) num_class = std::atoi(json.c_str() + nc + 13);
  }
  const int raw_outputs = objective == "multi:softprob" ? std::max(num_class, 1) : 1;
  const bool class_labels = model_class == kClassifier;

  sig.outputs.clear();
  if (raw_outputs == 1 || class_labels) {
    sig.outputs.push_back(ColumnSpec{.name = "prediction"});
  } else {
    for (int c = 0; c < raw_outputs; ++c) sig.outputs.push_back(ColumnSpec{.name = fmt::format("class_{}", c)});
  }
  if (class_labels && objective != "binary:logistic" && objective != "multi:softprob" &&
      objective != "multi:softmax") {
    return Err(InvalidArgument(fmt::format(
        "An XGBClassifier with objective '{}' is not served (binary:logistic, multi:softprob, "
        "multi:softmax are)",
        objective)));
  }
  std::optional<TreeEnsemble> native;
  if (ensemble && options.native) native = std::move(*ensemble);
  return std::make_unique<XgboostRuntime>(std::move(sig), std::move(booster), std::move(native),
                                          raw_outputs, class_labels, objective == "binary:logistic");
}

Result<std::unique_ptr<ModelRuntime>> LoadXgboostRuntime(const std::filesystem::path& package_dir,
                                                         const Flavor& flavor,
                                                         const std::optional<ModelSignature>& signature,
                                                         const XgboostOptions& options) {
  const std::string* data = flavor.Find("data");
  if (data == nullptr) return Err(InvalidArgument("The xgboost flavor has no 'data' file"));
  if (const std::string* format = flavor.Find("model_format");
      format != nullptr && *format != "xgb" && *format != "json" && *format != "ubj") {
    return Err(InvalidArgument(
        fmt::format("The xgboost flavor's model_format '{}' is not one of xgb, json, ubj", *format)));
  }
  ASSIGN_OR_RETURN(std::filesystem::path file, ResolvePackageFile(package_dir, *data));
  ASSIGN_OR_RETURN(std::string bytes, ReadFileLimited(file, kMaxModelBytes));
  const std::string* model_class = flavor.Find("model_class");
  return XgboostRuntimeFromBytes(bytes, model_class ? std::string_view(*model_class) : kBooster,
                                 signature, options);
}

std::string_view XgboostPredictor(const ModelRuntime& runtime) {
  auto* x = dynamic_cast<const XgboostRuntime*>(&runtime);
  if (x == nullptr) return "";
  return x->native() ? "native" : "libxgboost";
}

}  // namespace mlforge::serving

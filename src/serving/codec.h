// Request and response codecs of the serving subsystem (docs/serving.md,
// "Request formats"): MLflow's /invocations (JSON and CSV), the Open
// Inference Protocol v2 infer request/response, and the line formats of
// batch prediction. Real-time serving and `mlforge predict` share them, so a
// row decodes the same everywhere.
//
// Every decoder checks the input against the model's signature and fills a
// FeatureBatch in signature input order. Errors:
//   kMalformedRequest     the body is not JSON / CSV (or nests too deeply)
//   kBadRequest           valid JSON that is not one of the protocol's shapes
//   kInvalidParameterValue the data does not fit the signature: a missing,
//                         extra or mistyped column, ragged rows, a shape
//                         that does not match the data. The message names
//                         the column.
// Pure functions; thread-safe (JSON parsers are per thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serving/runtime.h"

namespace mlforge::serving {

// Deepest JSON nesting a request may have; the deepest valid body (an OIP
// tensor of rank 2, nested) needs 5 levels.
inline constexpr size_t kMaxRequestDepth = 16;

// ---------------------------------------------------------------- MLflow

// Decodes an MLflow /invocations body by its Content-Type:
// application/json (dataframe_split, dataframe_records, instances, inputs;
// optional "params" is ignored) or text/csv (a header row, then one row per
// line). A charset other than utf-8, or another media type, is kBadRequest.
Result<FeatureBatch> DecodeInvocationsRequest(std::string_view content_type, std::string_view body,
                                              const ModelSignature& signature);
Result<FeatureBatch> DecodeInvocationsJson(std::string_view body, const ModelSignature& signature);
Result<FeatureBatch> DecodeInvocationsCsv(std::string_view body, const ModelSignature& signature);

// {"predictions": [...]} as MLflow's scoring server answers for a numpy
// result: a list of numbers for one output column, a list of lists (one per
// row) for several.
void AppendInvocationsResponse(const PredictionBatch& predictions, std::string* out);

// ---------------------------------------------------------------- OIP v2

// The one output tensor of an infer response: shape [N] for one prediction
// column, [N, K] for K columns (e.g. class probabilities), datatype FP64.
inline constexpr std::string_view kInferOutputName = "predict";

struct InferRequest {
  bool has_id = false;
  std::string id;  // echoed in the response
  FeatureBatch features;
};

// Decodes an infer request body. Inputs are either one tensor per column
// (name = column, shape [N] or [N, 1]) or a single tensor [N, F] holding
// every column in signature order. Datatypes: BOOL, INT8..INT64,
// UINT8..UINT64, FP16, FP32, FP64; `data` flat or nested. Requested
// `outputs` must name kInferOutputName.
Result<InferRequest> DecodeInferRequest(std::string_view body, const ModelSignature& signature);

struct InferResponseHeader {
  std::string_view model_name;
  std::string_view model_version;  // omitted when empty
  const std::string* id = nullptr;  // omitted when null
};
void AppendInferResponse(const InferResponseHeader& header, const PredictionBatch& predictions,
                         std::string* out);

// The model metadata answer (GET v2/models/{name}): inputs one FP64/INT64/
// BOOL tensor per signature column, shape [-1]; output kInferOutputName.
void AppendInferModelMetadata(std::string_view model_name, const std::vector<std::string>& versions,
                              std::string_view platform, const ModelSignature& signature,
                              std::string* out);

// ---------------------------------------------------------------- lines

// A CSV header matched against the signature once; rows are then decoded
// by position. Fields may be quoted ("a ""b"""); a quoted field cannot span
// lines. Immutable; thread-safe.
class CsvLayout {
 public:
  // header_line: the first line, without its line break. id_column: a
  // column copied to the output instead of fed to the model ("" for none).
  static Result<CsvLayout> FromHeader(std::string_view header_line, const ModelSignature& signature,
                                      std::string_view id_column = {});

  // Decodes every line of `text` (complete lines; a final line break is
  // optional; empty lines are skipped) and appends the rows to *out (whose
  // cols must be the signature width) and, with an id column, each row's id
  // field to *ids. first_line numbers the first line of text in messages
  // ("line 17: column 'x': ...").
  Status DecodeLines(std::string_view text, int64_t first_line, FeatureBatch* out,
                     std::vector<std::string>* ids) const;

  size_t field_count() const { return field_column_.size(); }

 private:
  CsvLayout() = default;
  std::vector<ColumnSpec> inputs_;
  std::vector<int> field_column_;  // per CSV field: input column, or -1 (the id)
  int id_field_ = -1;
  std::vector<std::string> field_names_;
  std::vector<size_t> absent_columns_;  // optional inputs not in the header: NaN
};

// JSON Lines: one object per line, {column: value, ...} like a
// dataframe_records record. Appends rows to *out (cols = signature width)
// and, with an id column, each row's id value as JSON text to *ids.
Status DecodeJsonLines(std::string_view text, const ModelSignature& signature,
                       std::string_view id_column, int64_t first_line, FeatureBatch* out,
                       std::vector<std::string>* ids);

// An empty batch shaped for the signature.
FeatureBatch EmptyBatchFor(const ModelSignature& signature);

}  // namespace mlforge::serving

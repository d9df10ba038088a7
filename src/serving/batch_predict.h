// Batch prediction (`mlforge predict`, docs/serving.md "Batch prediction"):
// a stream of CSV or JSON Lines rows in, one prediction row per input row
// out, in input order.
//
// Pipeline: the caller's thread reads the input and cuts it into chunks of
// `batch_rows` lines; `threads` workers decode (the codecs of codec.h) and
// predict chunks; a writer thread emits them in input order. At most
// 2 * threads + 2 chunks are in memory, so memory stays flat whatever the
// input size. The first error in input order stops the run (output written
// before it stays written).
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <ostream>
#include <string>

#include "base/status.h"
#include "serving/runtime.h"

namespace mlforge::serving {

enum class LineFormat { kCsv, kJsonl };

struct BatchPredictOptions {
  LineFormat input_format = LineFormat::kCsv;
  LineFormat output_format = LineFormat::kCsv;
  int threads = 1;
  int64_t batch_rows = 4096;
  // An input column copied to the output, first, instead of fed to the model.
  std::string id_column;
  // Called from the writer thread after each chunk: rows written so far.
  std::function<void(int64_t rows)> progress;
};

struct BatchPredictStats {
  int64_t rows = 0;
};

// Errors: the codecs' (kInvalidParameterValue / kMalformedRequest with
// "line N: column 'x': ..."), kInvalidParameterValue for an empty CSV input
// (no header), kInternalError when the output cannot be written.
Result<BatchPredictStats> BatchPredict(const ModelRuntime& runtime, std::istream& in, std::ostream& out,
                                       const BatchPredictOptions& options);

}  // namespace mlforge::serving

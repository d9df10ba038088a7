// Model runtime benchmark (docs/serving.md): a 100-tree, 30-feature, depth-6
// binary:logistic XGBoost model, predicted one row at a time and in one big
// batch, by libxgboost (XGBoosterPredictFromDense) and by mlforge's native
// tree evaluator (through LoadModelPackage, as serving uses it). One thread;
// each figure is the median of 3 runs.
//
//   serving_runtime_bench [--write-package DIR] [--write-csv FILE --csv-rows N]
//
// --write-package writes the model as an MLflow xgboost package (for the HTTP
// bench and bench/serving/python_peer.py); --write-csv a CSV of random rows
// with an id column (for the `mlforge predict` bench).
#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "serving/runtime.h"

namespace {

constexpr int kFeatures = 30;
constexpr int kTrees = 100;

void Check(int rc) {
  if (rc != 0) {
    std::fprintf(stderr, "xgboost: %s\n", XGBGetLastError());
    std::exit(1);
  }
}

std::vector<float> RandomRows(int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(0, 1);
  std::uniform_real_distribution<float> coin(0, 1);
  std::vector<float> x(static_cast<size_t>(rows * kFeatures));
  for (float& v : x) v = coin(rng) < 0.05f ? NAN : value(rng);
  return x;
}

BoosterHandle TrainModel() {
  constexpr int64_t kRows = 20000;
  const std::vector<float> x = RandomRows(kRows, 1);
  std::vector<float> y(kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    double s = 0;
    for (int c = 0; c < kFeatures; ++c) {
      const float v = x[static_cast<size_t>(r * kFeatures + c)];
      if (!std::isnan(v)) s += v * std::sin(c + 1.0) + (c % 5 == 0 ? v * v * 0.3 : 0);
    }
    y[static_cast<size_t>(r)] = s > 0 ? 1 : 0;
  }
  DMatrixHandle d;
  Check(XGDMatrixCreateFromMat(x.data(), kRows, kFeatures, NAN, &d));
  Check(XGDMatrixSetFloatInfo(d, "label", y.data(), kRows));
  BoosterHandle h;
  Check(XGBoosterCreate(&d, 1, &h));
  Check(XGBoosterSetParam(h, "objective", "binary:logistic"));
  Check(XGBoosterSetParam(h, "max_depth", "6"));
  Check(XGBoosterSetParam(h, "eta", "0.1"));
  Check(XGBoosterSetParam(h, "seed", "1"));
  for (int i = 0; i < kTrees; ++i) Check(XGBoosterUpdateOneIter(h, i, d));
  XGDMatrixFree(d);
  // Predict on one thread, like a serving worker.
  Check(XGBoosterSetParam(h, "nthread", "1"));
  return h;
}

void WritePackage(BoosterHandle h, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  bst_ulong len;
  const char* data;
  Check(XGBoosterSaveModelToBuffer(h, R"({"format": "ubj"})", &len, &data));
  std::ofstream(dir / "model.ubj", std::ios::binary).write(data, static_cast<std::streamsize>(len));
  std::string inputs = "[";
  for (int c = 0; c < kFeatures; ++c) {
    inputs += (c ? ", " : "") + std::string("{\"type\": \"double\", \"name\": \"f") +
              std::to_string(c) + "\", \"required\": true}";
  }
  inputs += "]";
  std::ofstream(dir / "MLmodel")
      << "artifact_path: model\nflavors:\n  xgboost:\n    code: null\n"
         "    data: model.ubj\n    model_class: xgboost.core.Booster\n"
         "    model_format: ubj\n    xgb_version: 1.7.4\nmlflow_version: 2.12.1\n"
         "signature:\n  inputs: '"
      << inputs << "'\n  outputs: null\n  params: null\n";
}

void WriteCsv(const std::filesystem::path& file, int64_t rows) {
  std::ofstream out(file, std::ios::binary);
  out << "id";
  for (int c = 0; c < kFeatures; ++c) out << ",f" << c;
  out << "\n";
  constexpr int64_t kBlock = 10000;
  std::string line;
  for (int64_t start = 0; start < rows; start += kBlock) {
    const int64_t n = std::min(kBlock, rows - start);
    const std::vector<float> x = RandomRows(n, static_cast<uint32_t>(start + 7));
    for (int64_t r = 0; r < n; ++r) {
      line = std::to_string(start + r);
      char buf[32];
      for (int c = 0; c < kFeatures; ++c) {
        const float v = x[static_cast<size_t>(r * kFeatures + c)];
        line += ',';
        if (!std::isnan(v))
          line += std::string_view(buf, std::snprintf(buf, sizeof buf, "%.6g", v));
      }
      line += '\n';
      out << line;
    }
  }
}

double LibxgboostPredict(BoosterHandle h, const float* rows, int64_t n) {
  static const char* kConfig =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "missing": NaN, "cache_id": 0})";
  char array[256];
  std::snprintf(array, sizeof array,
                R"({"data": [%llu, true], "shape": [%lld, %d], "typestr": "<f4", "version": 3})",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows)),
                static_cast<long long>(n), kFeatures);
  const bst_ulong* shape;
  bst_ulong dim;
  const float* out;
  Check(XGBoosterPredictFromDense(h, array, kConfig, nullptr, &shape, &dim, &out));
  return out[0];
}

template <typename F>
double MedianRowsPerSecond(int64_t rows, F&& run) {
  std::vector<double> rates;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(static_cast<double>(rows) / s);
  }
  std::sort(rates.begin(), rates.end());
  return rates[1];
}

}  // namespace

int main(int argc, char** argv) {
  std::string package_dir, csv_file;
  int64_t csv_rows = 1'000'000;
  int batch_threads = 0;  // > 0: only libxgboost's raw batch rate on this many threads
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--write-package" && i + 1 < argc) {
      package_dir = argv[++i];
    } else if (arg == "--write-csv" && i + 1 < argc) {
      csv_file = argv[++i];
    } else if (arg == "--csv-rows" && i + 1 < argc) {
      csv_rows = std::atoll(argv[++i]);
    } else if (arg == "--batch-threads" && i + 1 < argc) {
      batch_threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--write-package DIR] [--write-csv FILE --csv-rows N] "
                   "[--batch-threads N]\n",
                   argv[0]);
      return 2;
    }
  }
  std::fprintf(stderr, "training %d trees on 20000 rows...\n", kTrees);
  BoosterHandle h = TrainModel();
  if (batch_threads > 0) {
    // The limit `mlforge predict` is held to: libxgboost predicting rows
    // already in memory (no parsing, no output), on the same threads.
    Check(XGBoosterSetParam(h, "nthread", std::to_string(batch_threads).c_str()));
    const std::vector<float> rows = RandomRows(csv_rows, 5);
    double sink = 0;
    const double rate =
        MedianRowsPerSecond(csv_rows, [&] { sink += LibxgboostPredict(h, rows.data(), csv_rows); });
    std::printf("libxgboost batch predict, %lld rows in memory, %d threads: %.0f rows/s\n",
                static_cast<long long>(csv_rows), batch_threads, rate);
    XGBoosterFree(h);
    return sink == 12345.0 ? 3 : 0;
  }
  const std::filesystem::path dir =
      package_dir.empty() ? std::filesystem::temp_directory_path() / "mlforge-runtime-bench-model"
                          : std::filesystem::path(package_dir);
  WritePackage(h, dir);
  if (!csv_file.empty()) {
    WriteCsv(csv_file, csv_rows);
    std::fprintf(stderr, "wrote %lld rows to %s\n", static_cast<long long>(csv_rows),
                 csv_file.c_str());
  }
  auto runtime = mlforge::serving::LoadModelPackage(dir);
  if (!runtime) {
    std::fprintf(stderr, "load: %s\n", runtime.error().message().c_str());
    return 1;
  }
  if (package_dir.empty()) std::filesystem::remove_all(dir);

  constexpr int64_t kSingleRows = 20000;
  constexpr int64_t kBatchRows = 200000;
  const std::vector<float> single = RandomRows(kSingleRows, 3);
  const std::vector<float> batch = RandomRows(kBatchRows, 4);
  double sink = 0;

  const double lib_single = MedianRowsPerSecond(kSingleRows, [&] {
    for (int64_t r = 0; r < kSingleRows; ++r)
      sink += LibxgboostPredict(h, single.data() + r * kFeatures, 1);
  });
  const double native_single = MedianRowsPerSecond(kSingleRows, [&] {
    mlforge::serving::FeatureBatch row{.rows = 1, .cols = kFeatures};
    for (int64_t r = 0; r < kSingleRows; ++r) {
      row.values.assign(single.begin() + r * kFeatures, single.begin() + (r + 1) * kFeatures);
      sink += (*runtime)->Predict(row)->values[0];
    }
  });
  const double lib_batch = MedianRowsPerSecond(
      kBatchRows, [&] { sink += LibxgboostPredict(h, batch.data(), kBatchRows); });
  const double native_batch = MedianRowsPerSecond(kBatchRows, [&] {
    mlforge::serving::FeatureBatch all{.rows = kBatchRows, .cols = kFeatures, .values = batch};
    sink += (*runtime)->Predict(all)->values[0];
  });
  XGBoosterFree(h);

  std::printf("model: %d trees, depth 6, %d features, binary:logistic; one thread; median of 3\n",
              kTrees, kFeatures);
  std::printf("%-28s %14s %14s\n", "", "libxgboost", "mlforge native");
  std::printf("%-28s %14.0f %14.0f   rows/s (x%.1f)\n", "single-row predict", lib_single,
              native_single, native_single / lib_single);
  std::printf("%-28s %14.0f %14.0f   rows/s (x%.1f)\n", "batch predict (200k rows)", lib_batch,
              native_batch, native_batch / lib_batch);
  std::printf("%-28s %14.2f %14.2f   us/row\n", "single-row latency", 1e6 / lib_single,
              1e6 / native_single);
  return sink == 12345.0 ? 3 : 0;  // keeps the predictions observable
}

// bench/drift: the drift report on a big table, timed in parts, beside the
// scipy baseline (scipy_baseline.py, run by drift_bench.sh on the same data).
//
//   drift_bench generate --dir D [--rows 1000000] [--cols 100]
//       D/ref.csv, D/cur.csv (what `mlforge drift` reads) and the same values
//       as raw little-endian columns for numpy (D/ref.f64, D/ref.i32, ...).
//   drift_bench run --dir D [--repeat 3] [--threads 0]
//       median seconds of: parsing both CSVs, the drift report on the parsed
//       tables; writes D/report.json for the cross-check.
//   drift_bench report --dir D [--repeat 3] [--threads 0]
//       the same, parsing once and printing "parsed" before the reports
//       (attach a profiler then: perf record -p PID).
//   drift_bench sketch
//       nanoseconds per value of QuantileSketch::Add and of a full numeric
//       profile update (sketch + moments + histogram), one core.
//   drift_bench capture [--dir D] [--rows 200000]
//       microseconds per captured request of the live monitor's worker (30
//       features and one output, as bench/serving's model; a SQLite store in
//       D), beside the profile updates alone for the same values (the
//       worker's floor: what any profiling monitor must do per request).
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "monitor/monitor.h"
#include "sql/sql.h"

namespace {

using namespace mlforge;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Normal() {  // Box-Muller
    double u = Uniform() + 0x1.0p-54, v = Uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

constexpr int kCategories = 8;

// Column c of a side: numeric columns first, the last tenth categorical.
// A fifth of the columns drift in the current side (mean, scale or mix).
struct Layout {
  int cols;
  int numeric;
  explicit Layout(int c) : cols(c), numeric(c - c / 10) {}
  bool Categorical(int c) const { return c >= numeric; }
  int Drift(int c) const { return c % 5 == 0 ? 1 + (c / 5) % 3 : 0; }  // 0 none, 1..3 kinds
};

double Value(Rng& rng, int c, bool current, const Layout& l) {
  double x = rng.Normal() * (1 + c % 7) + c;
  if (current) {
    int d = l.Drift(c);
    if (d == 1) x += 0.25 * (1 + c % 7);       // mean shift of 0.25 sd
    if (d == 2) x = c + (x - c) * 1.3;         // scale
    if (d == 3 && rng.Uniform() < 0.1) x += 5; // a tenth moved away
  }
  return std::round(x * 1e4) / 1e4;  // 4 decimals: short CSV, same double on both sides
}

int CategoryOf(Rng& rng, int c, bool current, const Layout& l) {
  double u = rng.Uniform();
  if (current && l.Drift(c) != 0) u = u * u;  // skews toward the first categories
  return std::min(kCategories - 1, static_cast<int>(std::floor(std::pow(u, 1.5) * kCategories)));
}

int Generate(const std::string& dir, int64_t rows, int cols) {
  Layout l(cols);
  for (int side = 0; side < 2; ++side) {
    bool current = side == 1;
    std::string name = current ? "cur" : "ref";
    std::FILE* csv = std::fopen((dir + "/" + name + ".csv").c_str(), "wb");
    std::FILE* f64 = std::fopen((dir + "/" + name + ".f64").c_str(), "wb");
    std::FILE* i32 = std::fopen((dir + "/" + name + ".i32").c_str(), "wb");
    if (!csv || !f64 || !i32) {
      std::perror("open");
      return 1;
    }
    std::string line;
    for (int c = 0; c < cols; ++c) line += (c ? "," : "") + std::string(l.Categorical(c) ? "cat" : "num") + std::to_string(c);
    line += "\n";
    std::fwrite(line.data(), 1, line.size(), csv);
    // Row-major for the CSV, column-major for numpy: buffer 64k rows at a time.
    const int64_t block = 65536;
    std::vector<double> num(static_cast<size_t>(block) * l.numeric);
    std::vector<int32_t> cat(static_cast<size_t>(block) * (cols - l.numeric));
    std::vector<std::vector<double>> num_cols(l.numeric);
    std::vector<std::vector<int32_t>> cat_cols(cols - l.numeric);
    Rng rng{static_cast<uint64_t>(current ? 2 : 1)};
    std::string out;
    char buf[64];
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      int64_t n = std::min(block, rows - r0);
      out.clear();
      for (int64_t r = 0; r < n; ++r) {
        for (int c = 0; c < cols; ++c) {
          if (c) out += ',';
          if (l.Categorical(c)) {
            int k = CategoryOf(rng, c, current, l);
            cat_cols[static_cast<size_t>(c - l.numeric)].push_back(k);
            out += "c";
            out += static_cast<char>('0' + k);
          } else {
            double v = Value(rng, c, current, l);
            num_cols[static_cast<size_t>(c)].push_back(v);
            out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + sizeof(buf), v).ptr - buf));
          }
        }
        out += '\n';
      }
      std::fwrite(out.data(), 1, out.size(), csv);
    }
    for (const auto& v : num_cols) std::fwrite(v.data(), sizeof(double), v.size(), f64);
    for (const auto& v : cat_cols) std::fwrite(v.data(), sizeof(int32_t), v.size(), i32);
    std::fclose(csv);
    std::fclose(f64);
    std::fclose(i32);
  }
  std::ofstream meta(dir + "/meta.json");
  meta << "{\"rows\":" << rows << ",\"cols\":" << cols << ",\"numeric\":" << l.numeric
       << ",\"categories\":" << kCategories << "}\n";
  return 0;
}

double CpuSeconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double ThreadCpuSeconds() { return CpuSeconds(CLOCK_THREAD_CPUTIME_ID); }
double ProcessCpuSeconds() { return CpuSeconds(CLOCK_PROCESS_CPUTIME_ID); }

// Wall seconds, and CPU seconds of all threads: on a shared machine the wall
// time depends on the neighbours, the CPU time on the code.
int Run(const std::string& dir, int repeat, int threads, bool report_only) {
  std::vector<double> parse_s, report_s, parse_cpu, report_cpu;
  Result<monitor::Table> ref, cur;
  for (int i = 0; i < (report_only ? 1 : repeat); ++i) {
    ref = cur = monitor::Table{};
    auto t = Clock::now();
    double c = ProcessCpuSeconds();
    monitor::CsvOptions ro;
    ro.threads = threads;
    ref = monitor::ReadCsv(dir + "/ref.csv", ro);
    if (!ref) {
      std::fprintf(stderr, "%s\n", ref.error().message().c_str());
      return 1;
    }
    monitor::CsvOptions co;
    co.threads = threads;
    for (const auto& c : ref->columns) co.kinds.emplace_back(c.name, c.kind);
    cur = monitor::ReadCsv(dir + "/cur.csv", co);
    if (!cur) {
      std::fprintf(stderr, "%s\n", cur.error().message().c_str());
      return 1;
    }
    parse_s.push_back(Since(t));
    parse_cpu.push_back(ProcessCpuSeconds() - c);
  }
  if (report_only) {
    // For a profiler attached from here on: the report alone.
    std::printf("parsed\n");
    std::fflush(stdout);
  }
  Result<monitor::DriftReport> report;
  for (int i = 0; i < repeat; ++i) {
    monitor::DriftOptions o;
    o.threads = threads;
    auto t = Clock::now();
    double c = ProcessCpuSeconds();
    report = monitor::CompareTables(*ref, *cur, o);
    report_s.push_back(Since(t));
    report_cpu.push_back(ProcessCpuSeconds() - c);
    if (!report) {
      std::fprintf(stderr, "%s\n", report.error().message().c_str());
      return 1;
    }
  }
  std::ofstream(dir + "/report.json") << monitor::DriftReportToJson(*report);
  std::printf("rows %lld\ncols %zu\nparse_seconds %.3f\nreport_seconds %.3f\nparse_runs", static_cast<long long>(ref->rows),
              ref->columns.size(), Median(parse_s), Median(report_s));
  for (double s : parse_s) std::printf(" %.3f", s);
  std::printf("\nreport_runs");
  for (double s : report_s) std::printf(" %.3f", s);
  std::printf("\nparse_cpu_seconds %.3f\nreport_cpu_seconds %.3f\n", Median(parse_cpu), Median(report_cpu));
  std::printf("features_drifted %d of %d\n", report->features_drifted, report->features_tested);
  return 0;
}

// Wall and on-CPU time per value: on a shared machine the CPU time is the
// cost of the code, the wall time what a caller saw.
int Sketch() {
  const size_t n = 20'000'000;
  std::vector<double> values(n);
  Rng rng{7};
  for (double& v : values) v = rng.Normal();
  std::vector<double> sketch_wall, sketch_cpu, profile_wall, profile_cpu;
  double per = 1e9 / static_cast<double>(n);
  for (int rep = 0; rep < 3; ++rep) {
    monitor::QuantileSketch s;
    auto t = Clock::now();
    double c = ThreadCpuSeconds();
    for (double v : values) s.Add(v);
    sketch_cpu.push_back((ThreadCpuSeconds() - c) * per);
    sketch_wall.push_back(Since(t) * per);
    if (s.count() != n) return 1;
    std::vector<double> edges = {-1.28, -0.84, -0.52, -0.25, 0, 0.25, 0.52, 0.84, 1.28};
    monitor::ColumnProfileBuilder b("x", monitor::ColumnKind::kNumeric, {}, edges);
    t = Clock::now();
    c = ThreadCpuSeconds();
    for (double v : values) b.AddNumber(v);
    profile_cpu.push_back((ThreadCpuSeconds() - c) * per);
    profile_wall.push_back(Since(t) * per);
    if (b.Finish().count != n) return 1;
  }
  std::printf("sketch_add_ns wall %.1f cpu %.1f\nprofile_add_ns wall %.1f cpu %.1f\n", Median(sketch_wall),
              Median(sketch_cpu), Median(profile_wall), Median(profile_cpu));
  return 0;
}

// The worker's cost per captured request: `rows` requests queued, then one
// CloseWindow on this thread drains them (profiles, predictions stored in
// chunks) and closes the window (the drift comparison, once).
int Capture(const std::string& dir, int64_t rows) {
  constexpr int kFeatures = 30;
  const size_t n = static_cast<size_t>(rows);
  Rng rng{11};
  monitor::Table reference;
  reference.rows = 1000;
  auto names = std::make_shared<std::vector<std::string>>();
  for (int c = 0; c < kFeatures; ++c) {
    names->push_back("f" + std::to_string(c));
    monitor::Column col;
    col.name = names->back();
    for (int r = 0; r < 1000; ++r) col.numbers.push_back(rng.Normal());
    reference.columns.push_back(std::move(col));
  }
  const monitor::DatasetProfile reference_profile = monitor::ProfileTable(reference);
  std::vector<float> features(n * kFeatures);
  for (float& f : features) f = static_cast<float>(rng.Normal());
  std::vector<double> outputs(n);
  for (double& o : outputs) o = rng.Uniform();
  const std::shared_ptr<const std::vector<std::string>> feature_names = names;

  std::vector<double> wall, cpu, floor_wall, floor_cpu;
  for (int rep = 0; rep < 3; ++rep) {
    std::filesystem::remove_all(dir + "/capture-bench");
    auto db = sql::Database::Open("sqlite:///" + dir + "/capture-bench/monitor.db");
    if (!db) return std::fprintf(stderr, "%s\n", db.error().ToString().c_str()), 1;
    SystemClock clock;
    auto store = monitor::MonitorStore::Open(**db, clock);
    if (!store) return std::fprintf(stderr, "%s\n", store.error().ToString().c_str()), 1;
    auto live = monitor::LiveMonitor::Start(
        **store, clock, {.queue_capacity = n, .tick = std::chrono::hours(1)});
    if (!live) return std::fprintf(stderr, "%s\n", live.error().ToString().c_str()), 1;
    monitor::MonitorConfig config;
    config.deployment = "bench";
    if (auto m = (*live)->Create(config, &reference_profile); !m) {
      return std::fprintf(stderr, "%s\n", m.error().ToString().c_str()), 1;
    }
    for (size_t r = 0; r < n; ++r) {
      monitor::CapturedRequest c;
      c.deployment = "bench";
      char id[40];
      std::snprintf(id, sizeof(id), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(rng.Next()),
                    static_cast<unsigned>(rng.Next() & 0xffff), static_cast<unsigned>(rng.Next() & 0xffff),
                    static_cast<unsigned>(rng.Next() & 0xffff),
                    static_cast<unsigned long long>(rng.Next() & 0xffffffffffffULL));
      c.request_id = id;
      c.timestamp_ms = clock.NowMillis();
      c.latency_ms = 0.5;
      c.sampled = true;
      c.feature_names = feature_names;
      c.rows = 1;
      c.features.assign(features.begin() + static_cast<ptrdiff_t>(r * kFeatures),
                        features.begin() + static_cast<ptrdiff_t>((r + 1) * kFeatures));
      c.output_names = {"prediction"};
      c.outputs = {outputs[r]};
      if (!(*live)->Capture(c)) return std::fprintf(stderr, "queue full\n"), 1;
    }
    auto t = Clock::now();
    double c = ThreadCpuSeconds();
    auto window = (*live)->CloseWindow("bench");
    cpu.push_back((ThreadCpuSeconds() - c) * 1e6 / static_cast<double>(n));
    wall.push_back(Since(t) * 1e6 / static_cast<double>(n));
    if (!window || window->rows != n) return std::fprintf(stderr, "window lost rows\n"), 1;

    // The floor: the same values into one profile builder per column.
    std::vector<monitor::ColumnProfileBuilder> builders;
    for (const monitor::ColumnProfile& col : reference_profile.columns) {
      builders.emplace_back(col.name, monitor::ColumnKind::kNumeric, monitor::ProfileOptions{},
                            col.histogram.edges);
    }
    monitor::ColumnProfileBuilder output("prediction", monitor::ColumnKind::kNumeric, {}, {});
    t = Clock::now();
    c = ThreadCpuSeconds();
    for (size_t r = 0; r < n; ++r) {
      for (int f = 0; f < kFeatures; ++f) builders[f].AddNumber(features[r * kFeatures + f]);
      output.AddNumber(outputs[r]);
    }
    floor_cpu.push_back((ThreadCpuSeconds() - c) * 1e6 / static_cast<double>(n));
    floor_wall.push_back(Since(t) * 1e6 / static_cast<double>(n));
    if (output.Finish().count != n) return 1;
  }
  std::printf("capture_worker_us_per_request wall %.2f cpu %.2f\nprofile_only_us_per_request wall %.2f cpu %.2f\n",
              Median(wall), Median(cpu), Median(floor_wall), Median(floor_cpu));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: drift_bench generate|run|report|sketch|capture [--dir D] [--rows N] [--cols C] [--repeat R] [--threads T]\n");
    return 2;
  }
  std::string verb = argv[1], dir = ".";
  int64_t rows = 0;  // 0: the verb's default
  int cols = 100, repeat = 3, threads = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--dir") dir = v;
    else if (k == "--rows") rows = std::stoll(v);
    else if (k == "--cols") cols = std::stoi(v);
    else if (k == "--repeat") repeat = std::stoi(v);
    else if (k == "--threads") threads = std::stoi(v);
  }
  if (verb == "generate") return Generate(dir, rows > 0 ? rows : 1'000'000, cols);
  if (verb == "run") return Run(dir, repeat, threads, false);
  if (verb == "report") return Run(dir, repeat, threads, true);
  if (verb == "sketch") return Sketch();
  if (verb == "capture") return Capture(dir, rows > 0 ? rows : 200'000);
  std::fprintf(stderr, "unknown verb %s\n", verb.c_str());
  return 2;
}

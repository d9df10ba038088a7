#include "app/demo_command.h"

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "app/server_client.h"
#include "app/training_client.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/ids.h"
#include "base/json.h"
#include "data/data.h"
#include "http/http.h"
#include "serving/serving.h"
#include "training/training.h"

namespace mlforge::app {
namespace {

constexpr std::string_view kDefaultServer = "http://127.0.0.1:5000";
// Experiment tag that marks a finished demo ("complete"), so a second run
// can tell a finished demo from an interrupted one or a user's own project.
constexpr std::string_view kDemoTag = "mlforge.demo";
constexpr uint64_t kSeed = 20240601;

constexpr std::string_view kMlflow = "/api/2.0/mlflow/";
constexpr std::string_view kMlforge = "/api/2.0/mlforge/";

struct DemoArgs {
  CLI::App* command = nullptr;
  std::string server;
  std::string name = "demo-churn";
};

DemoArgs& Args() {
  static DemoArgs args;
  return args;
}

// ---------------------------------------------------------------------------
// The data: customers of a subscription business, who churn or stay.

// SplitMix64 with our own distributions, so one seed gives the same data on
// every platform (the standard library's distributions are not specified
// bit for bit).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int64_t Int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  double Normal(double mean, double sd) {  // Box-Muller
    const double u1 = 1.0 - Uniform();
    const double u2 = Uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  int64_t Poisson(double lambda) {  // Knuth: fine for small lambdas
    const double limit = std::exp(-lambda);
    double p = 1.0;
    int64_t k = -1;
    do {
      ++k;
      p *= Uniform();
    } while (p > limit);
    return k;
  }

 private:
  uint64_t state_;
};

constexpr std::array<std::string_view, 8> kFeatures = {
    "tenure_months", "monthly_charges", "total_charges", "contract_months",
    "support_calls", "late_payments",   "age",           "satisfaction"};
constexpr std::string_view kTarget = "churned";

struct Customer {
  std::array<double, kFeatures.size()> x{};
  int churned = 0;
};

double Cents(double v) { return std::round(v * 100.0) / 100.0; }

// One customer. `shifted` is the drift episode: an upstream change in the
// data the model is fed, not in the customers. Billing now reports charges
// with tax, the new ticketing system logs every contact as a support call,
// and the survey moved to a harsher scale. Customers churn as before, but
// the model sees different numbers, so its accuracy drops as well.
Customer DrawCustomer(Rng& rng, bool shifted) {
  const double tenure = static_cast<double>(rng.Int(1, 72));
  double monthly = Cents(std::clamp(rng.Normal(65.0, 20.0), 18.0, 160.0));
  const double u = rng.Uniform();
  const double contract = u < 0.55 ? 1.0 : u < 0.8 ? 12.0 : 24.0;
  double calls = static_cast<double>(rng.Poisson(1.4));
  const double late = static_cast<double>(rng.Poisson(0.5));
  const double age = std::round(std::clamp(rng.Normal(45.0, 14.0), 18.0, 90.0));
  double satisfaction = std::clamp(std::round(rng.Normal(3.5, 1.0)), 1.0, 5.0);
  // Thresholds and an interaction, as real churn has: trees fit it better
  // than a logistic regression does.
  const double logit = 1.0 - 0.07 * tenure + 0.09 * std::max(0.0, monthly - 80.0) + 0.5 * calls +
                       0.9 * late - (contract > 1.0 ? 1.8 : 0.0) - 0.8 * (satisfaction - 3.0) -
                       0.015 * (age - 45.0) + (calls >= 3.0 && satisfaction <= 2.0 ? 2.0 : 0.0);
  Customer c;
  c.churned = rng.Uniform() < 1.0 / (1.0 + std::exp(-logit)) ? 1 : 0;
  const double billed = tenure * (0.95 + 0.1 * rng.Uniform());
  if (shifted) {
    monthly = Cents(monthly * 1.2 + 10.0);
    calls = calls * 2.0 + static_cast<double>(rng.Poisson(1.0));
    satisfaction = std::max(1.0, satisfaction - 1.0);
  }
  c.x = {tenure, monthly, Cents(billed * monthly), contract, calls, late, age, satisfaction};
  return c;
}

std::string Csv(const std::vector<Customer>& customers, size_t rows) {
  std::string out;
  for (std::string_view f : kFeatures) out += fmt::format("{},", f);
  out += fmt::format("{}\n", kTarget);
  for (size_t i = 0; i < rows; ++i) {
    for (double v : customers[i].x) out += fmt::format("{},", v);
    out += fmt::format("{}\n", customers[i].churned);
  }
  return out;
}

constexpr std::string_view kReadme =
    "# Customer churn\n\n"
    "Monthly export of the subscription base: one row per customer, with whether the\n"
    "customer cancelled (`churned` = 1) in the following month. Generated by `mlforge demo`.\n";

constexpr std::string_view kColumns =
    "# Columns\n\n"
    "| column | meaning |\n| --- | --- |\n"
    "| tenure_months | months since sign-up |\n"
    "| monthly_charges | current monthly bill |\n"
    "| total_charges | billed since sign-up |\n"
    "| contract_months | 1 (monthly), 12 or 24 |\n"
    "| support_calls | support calls last quarter |\n"
    "| late_payments | late payments last year |\n"
    "| age | customer age |\n"
    "| satisfaction | last survey score, 1 to 5 |\n"
    "| churned | cancelled within a month (label) |\n";

struct DatasetFile {
  std::string path;
  std::string bytes;
};

// Three exports of a growing customer base; v3 adds a data dictionary.
struct DatasetPlan {
  size_t rows;
  std::string_view message;
  bool with_columns_doc;
};
constexpr std::array<DatasetPlan, 3> kDatasetPlan = {{
    {2000, "Q1 export: 2,000 customers", false},
    {3500, "Q1-Q2 export: 3,500 customers", false},
    {5000, "Q1-Q3 export: 5,000 customers, with a data dictionary", true},
}};

struct PushedVersion {
  int64_t number = 0;
  std::string version_id;
  std::string csv;  // the training file's text
};

// ---------------------------------------------------------------------------
// The training runs.

struct RunPlan {
  std::string_view name;
  training::Flavor flavor;
  size_t dataset;  // index into kDatasetPlan
  std::vector<std::pair<std::string, std::string>> params;
  int rounds;
  std::string_view note;
};

std::vector<RunPlan> RunPlans() {
  using training::Flavor;
  const std::pair<std::string, std::string> logloss{"eval_metric", "logloss"};
  const std::pair<std::string, std::string> auc{"eval_metric", "auc"};
  return {
      {"logistic-baseline",
       Flavor::kLinear,
       0,
       {{"alpha", "1"}},
       0,
       "Logistic regression on the Q1 export: the baseline to beat."},
      {"xgb-depth2",
       Flavor::kXgboost,
       0,
       {{"max_depth", "2"}, {"eta", "0.3"}, logloss, auc},
       60,
       "Shallow trees on the Q1 export."},
      {"xgb-depth3",
       Flavor::kXgboost,
       1,
       {{"max_depth", "3"}, {"eta", "0.1"}, logloss, auc},
       150,
       "More data (Q1-Q2), depth 3."},
      {"xgb-depth8-overfit",
       Flavor::kXgboost,
       1,
       {{"max_depth", "8"}, {"eta", "0.3"}, logloss, auc},
       150,
       "Deep trees, high learning rate: the validation loss turns up after a few rounds."},
      {"xgb-depth4-subsample",
       Flavor::kXgboost,
       2,
       {{"max_depth", "4"}, {"eta", "0.05"}, {"subsample", "0.8"}, logloss, auc},
       300,
       "Q1-Q3 export, slower learning rate with row subsampling."},
      {"xgb-depth3-colsample",
       Flavor::kXgboost,
       2,
       {{"max_depth", "3"}, {"eta", "0.1"}, {"colsample_bytree", "0.8"}, logloss, auc},
       200,
       "Q1-Q3 export, depth 3 with column subsampling."},
      {"logistic-q3",
       Flavor::kLinear,
       2,
       {{"alpha", "1"}},
       0,
       "Logistic regression on the Q1-Q3 export."},
  };
}

struct TrainedRun {
  std::string name;
  std::string run_id;
  double auc = 0;
  int64_t version = 0;  // registered version, 0 when not registered
};

// ---------------------------------------------------------------------------
// Traffic.

constexpr int kNormalWindows = 3;
constexpr int kRequestsPerWindow = 200;
// Every 4th request goes through MLflow's /invocations, the rest through OIP.
constexpr int kInvocationsEvery = 4;

std::string OipBody(const Customer& c, const std::string& id) {
  return BuildJson([&](json::Writer& w) {
    w.StartObject().Field("id", id).Key("inputs").StartArray();
    for (size_t i = 0; i < kFeatures.size(); ++i) {
      w.StartObject().Field("name", kFeatures[i]).Key("shape").StartArray().Int(1).EndArray();
      w.Field("datatype", "FP64").Key("data").StartArray().Double(c.x[i]).EndArray().EndObject();
    }
    w.EndArray().EndObject();
  });
}

std::string InvocationsBody(const Customer& c) {
  return BuildJson([&](json::Writer& w) {
    w.StartObject().Key("dataframe_split").StartObject().Key("columns").StartArray();
    for (std::string_view f : kFeatures) w.String(f);
    w.EndArray().Key("data").StartArray().StartArray();
    for (double v : c.x) w.Double(v);
    w.EndArray().EndArray().EndObject().EndObject();
  });
}

// The first number of an OIP ("outputs"[0]."data") or MLflow ("predictions")
// answer; NaN when there is none.
double FirstPrediction(const json::Value& body) {
  const json::Value* v = nullptr;
  if (const json::Value* outputs = body.Find("outputs");
      outputs && outputs->is_array() && !outputs->items().empty()) {
    v = outputs->items()[0].Find("data");
  } else {
    v = body.Find("predictions");
  }
  while (v != nullptr && v->is_array()) v = v->items().empty() ? nullptr : &v->items()[0];
  return v != nullptr && v->is_number() ? v->as_double() : NAN;
}

const json::Value& Member(const json::Value& v, std::string_view key) {
  static const json::Value kNull;
  const json::Value* f = v.Find(key);
  return f ? *f : kNull;
}

double NumberOf(const json::Value& v, std::string_view key) {
  const json::Value* f = v.Find(key);
  return f && f->is_number() ? f->as_double() : NAN;
}

// ---------------------------------------------------------------------------

class Demo {
 public:
  Demo(ServerApi& api, std::string name) : api_(api), name_(std::move(name)) {}

  int Run() {
    const auto started = std::chrono::steady_clock::now();
    auto fresh = Preflight();
    if (!fresh) return Fail("", fresh.error());
    if (!*fresh) {
      std::printf("The demo '%s' is already loaded on %s; nothing to do.\n", name_.c_str(),
                  api_.url().c_str());
      PrintWhatToOpen();
      return 0;
    }
    struct Step {
      std::string_view what;
      Status (Demo::*run)();
    };
    const Step steps[] = {
        {"datasets", &Demo::Datasets},
        {"training runs", &Demo::Training},
        {"model registry", &Demo::Registry},
        {"deployment", &Demo::Deployment},
        {"monitor and alert rules", &Demo::Monitoring},
        {"traffic", &Demo::Traffic},
        {"drift episode", &Demo::DriftEpisode},
    };
    int n = 0;
    for (const Step& step : steps) {
      std::printf("[%d/%zu] %s\n", ++n, std::size(steps), std::string(step.what).c_str());
      std::fflush(stdout);
      if (Status s = (this->*step.run)(); !s.ok()) return Fail(step.what, s);
    }
    if (Status s = SetExperimentTag(kDemoTag, "complete"); !s.ok()) return Fail("finish", s);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("Demo loaded in %.1f s.\n", seconds);
    PrintWhatToOpen();
    return 0;
  }

 private:
  int Fail(std::string_view step, const Status& s) {
    std::fprintf(stderr, "mlforge demo: %s%s%s\n", std::string(step).c_str(),
                 step.empty() ? "" : ": ", s.message().c_str());
    if (!step.empty()) {
      std::fprintf(stderr,
                   "The server now holds a partial demo named '%s'; run `mlforge demo --name "
                   "OTHER` to load a fresh one.\n",
                   name_.c_str());
    }
    return 1;
  }

  std::string Q(std::string_view s) const { return http::PercentEncode(s); }

  // True when nothing of the demo's name exists yet; false when a finished
  // demo of that name is there. An error names what is in the way otherwise.
  Result<bool> Preflight() {
    ASSIGN_OR_RETURN(
        Answer experiment,
        api_.Call(http::Method::kGet,
                  fmt::format("{}experiments/get-by-name?experiment_name={}", kMlflow, Q(name_))));
    if (experiment.ok()) {
      for (const json::Value& t : Member(Member(experiment.body, "experiment"), "tags").items()) {
        if (StrOf(t, "key") == kDemoTag && StrOf(t, "value") == "complete") return false;
      }
    }
    std::vector<std::string> taken;
    if (experiment.ok()) taken.push_back("an experiment");
    const std::pair<std::string_view, std::string> checks[] = {
        {"a dataset", fmt::format("{}datasets/get?name={}", kMlforge, Q(name_))},
        {"a registered model", fmt::format("{}registered-models/get?name={}", kMlflow, Q(name_))},
        {"a deployment", fmt::format("{}deployments/get?name={}", kMlforge, Q(name_))},
        {"a monitor", fmt::format("{}monitors/get?deployment={}", kMlforge, Q(name_))},
    };
    for (const auto& [what, target] : checks) {
      ASSIGN_OR_RETURN(Answer a, api_.Call(http::Method::kGet, target));
      if (a.ok()) {
        taken.emplace_back(what);
      } else if (a.status != 404) {
        return Err(ServerApi::ServerError(target, a));
      }
    }
    if (experiment.status != 200 && experiment.status != 404) {
      return Err(ServerApi::ServerError("experiments/get-by-name", experiment));
    }
    if (taken.empty()) return true;
    std::string list;
    for (size_t i = 0; i < taken.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == taken.size() ? " and " : ", ") + taken[i];
    }
    return Err(InvalidState(fmt::format(
        "{} already has {} named '{}' that is not a finished demo; load the demo under another "
        "name with --name, or delete {} first",
        api_.url(), list, name_, taken.size() == 1 ? "it" : "them")));
  }

  Status SetExperimentTag(std::string_view key, std::string_view value) {
    return StatusOf(api_.Post(std::string(kMlflow) + "experiments/set-experiment-tag",
                              BuildJson([&](json::Writer& w) {
                                w.StartObject()
                                    .Field("experiment_id", experiment_id_)
                                    .Field("key", key)
                                    .Field("value", value)
                                    .EndObject();
                              })));
  }

  // -- 1. Datasets ----------------------------------------------------------

  Status Datasets() {
    Rng rng(kSeed);
    std::vector<Customer> customers;
    for (size_t i = 0; i < kDatasetPlan.back().rows; ++i)
      customers.push_back(DrawCustomer(rng, false));
    RETURN_IF_ERROR(StatusOf(
        api_.Post(std::string(kMlforge) + "datasets/create", BuildJson([&](json::Writer& w) {
                    w.StartObject()
                        .Field("name", name_)
                        .Field("description", "Customer churn exports (generated by mlforge demo)")
                        .EndObject();
                  }))));
    for (const DatasetPlan& plan : kDatasetPlan) {
      std::vector<DatasetFile> files = {{"churn.csv", Csv(customers, plan.rows)},
                                        {"README.md", std::string(kReadme)}};
      if (plan.with_columns_doc) files.push_back({"COLUMNS.md", std::string(kColumns)});
      ASSIGN_OR_RETURN(PushedVersion v, PushVersion(files, plan.message));
      std::printf("      dataset %s version %lld: %zu rows (%s)\n", name_.c_str(),
                  static_cast<long long>(v.number), plan.rows, v.version_id.substr(0, 12).c_str());
      versions_.push_back(std::move(v));
    }
    return Status::Ok();
  }

  // Uploads what the server lacks (the files and the manifest, each named by
  // its sha256), then registers the version.
  Result<PushedVersion> PushVersion(const std::vector<DatasetFile>& files,
                                    std::string_view message) {
    std::vector<data::ManifestEntry> entries;
    std::vector<std::pair<std::string, std::string_view>> objects;  // sha256, bytes
    for (const DatasetFile& f : files) {
      entries.push_back({f.path, Sha256::HexOf(f.bytes), static_cast<int64_t>(f.bytes.size())});
      objects.emplace_back(entries.back().sha256, f.bytes);
    }
    ASSIGN_OR_RETURN(data::Manifest manifest, data::MakeManifest(std::move(entries)));
    const std::string manifest_text = data::EncodeManifest(manifest);
    PushedVersion v;
    v.version_id = data::ManifestId(manifest);
    v.csv = files.front().bytes;
    objects.emplace_back(v.version_id, manifest_text);
    const std::string base = std::string(kMlforge) + "datasets/";
    ASSIGN_OR_RETURN(json::Value missing,
                     api_.Post(base + "objects/missing", BuildJson([&](json::Writer& w) {
                                 w.StartObject().Key("sha256").StartArray();
                                 for (const auto& o : objects) w.String(o.first);
                                 w.EndArray().EndObject();
                               })));
    for (const json::Value& sha : Member(missing, "missing").items()) {
      for (const auto& [hash, bytes] : objects) {
        if (sha.is_string() && sha.as_string() == hash) {
          RETURN_IF_ERROR(StatusOf(api_.Must(http::Method::kPut, base + "objects/" + hash, bytes,
                                             "application/octet-stream")));
          break;
        }
      }
    }
    ASSIGN_OR_RETURN(json::Value created,
                     api_.Post(base + "versions/create", BuildJson([&](json::Writer& w) {
                                 w.StartObject()
                                     .Field("name", name_)
                                     .Field("version_id", v.version_id)
                                     .Field("message", message)
                                     .EndObject();
                               })));
    v.number = IntOf(Member(created, "version"), "version");
    return v;
  }

  // -- 2. Training ------------------------------------------------------------

  Status Training() {
    ASSIGN_OR_RETURN(
        json::Value created,
        api_.Post(std::string(kMlflow) + "experiments/create", BuildJson([&](json::Writer& w) {
                    w.StartObject().Field("name", name_).Key("tags").StartArray();
                    w.StartObject()
                        .Field("key", "mlflow.note.content")
                        .Field("value",
                               "Predict which customers cancel next month. Loaded by "
                               "`mlforge demo`.")
                        .EndObject();
                    w.StartObject().Field("key", kDemoTag).Field("value", "loading").EndObject();
                    w.EndArray().EndObject();
                  })));
    experiment_id_ = StrOf(created, "experiment_id");
    const std::string user = UserName();
    std::unique_ptr<IdGenerator> ids = MakeRandomIdGenerator();
    for (const RunPlan& plan : RunPlans()) {
      const PushedVersion& data = versions_.at(plan.dataset);
      auto table = training::ParseCsv(data.csv);
      if (!table) return table.error();
      training::TrainOptions options{.flavor = plan.flavor,
                                     .target = std::string(kTarget),
                                     .params = plan.params,
                                     .rounds = plan.rounds,
                                     .seed = kSeed,
                                     .validation_fraction = 0.2};
      ASSIGN_OR_RETURN(std::unique_ptr<training::Trainer> trainer,
                       training::PrepareTraining(*table, options));
      training::RunRequest request;
      request.experiment_name = name_;
      request.run_name = std::string(plan.name);
      request.model_uuid = ids->NewHexId();
      request.tags = {{"mlflow.source.name", "mlforge demo"},
                      {"mlflow.source.type", "LOCAL"},
                      {"mlflow.user", user},
                      {"mlflow.note.content", std::string(plan.note)},
                      {"team", "retention"}};
      request.dataset.name = name_;
      request.dataset.digest = data.version_id;
      request.dataset.source_type = "mlforge_dataset";
      request.dataset.source = BuildJson([&](json::Writer& w) {
        w.StartObject()
            .Field("dataset", name_)
            .Field("version", data.number)
            .Field("version_id", data.version_id)
            .Field("path", "churn.csv")
            .EndObject();
      });
      std::unique_ptr<training::RunLogger> logger = MakeHttpRunLogger(api_, SystemClock::Get());
      ASSIGN_OR_RETURN(
          training::RunOutcome outcome,
          training::RunTraining(*trainer, *table, request, *logger, nullptr, SystemClock::Get()));
      TrainedRun run{.name = std::string(plan.name), .run_id = outcome.run_id, .auc = NAN};
      for (const training::NamedValue& m : outcome.model->final_metrics()) {
        if (m.name == "validation_roc_auc") run.auc = m.value;
      }
      std::printf("      run %-22s dataset v%lld  validation AUC %.3f\n", run.name.c_str(),
                  static_cast<long long>(data.number), run.auc);
      runs_.push_back(std::move(run));
    }
    return Status::Ok();
  }

  // -- 3. Registry ------------------------------------------------------------

  // The three best runs by validation AUC become versions 1..3 (in the order
  // they were trained); the best is `champion` (Production), the second
  // `challenger` (Staging).
  Status Registry() {
    std::vector<TrainedRun*> ranked;
    for (TrainedRun& r : runs_) ranked.push_back(&r);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const TrainedRun* a, const TrainedRun* b) { return a->auc > b->auc; });
    ranked.resize(std::min<size_t>(3, ranked.size()));
    RETURN_IF_ERROR(StatusOf(api_.Post(
        std::string(kMlflow) + "registered-models/create", BuildJson([&](json::Writer& w) {
          w.StartObject()
              .Field("name", name_)
              .Field("description",
                     "Churn classifier: probability that a customer cancels "
                     "within a month.")
              .EndObject();
        }))));
    for (TrainedRun& r : runs_) {
      if (std::find(ranked.begin(), ranked.end(), &r) == ranked.end()) continue;
      RETURN_IF_ERROR(RegisterModelVersion(api_, name_, r.run_id, &r.version));
      RETURN_IF_ERROR(StatusOf(
          api_.Must(http::Method::kPatch, std::string(kMlflow) + "model-versions/update",
                    BuildJson([&](json::Writer& w) {
                      w.StartObject()
                          .Field("name", name_)
                          .Field("version", std::to_string(r.version))
                          .Field("description",
                                 fmt::format("From run {} (validation AUC {:.3f}).", r.name, r.auc))
                          .EndObject();
                    }))));
    }
    champion_ = ranked[0];
    challenger_ = ranked.size() > 1 ? ranked[1] : nullptr;
    RETURN_IF_ERROR(Promote(*champion_, "champion", "Production"));
    if (challenger_ != nullptr) RETURN_IF_ERROR(Promote(*challenger_, "challenger", "Staging"));
    std::printf("      model %s: champion = version %lld (%s)", name_.c_str(),
                static_cast<long long>(champion_->version), champion_->name.c_str());
    if (challenger_ != nullptr) {
      std::printf(", challenger = version %lld (%s)", static_cast<long long>(challenger_->version),
                  challenger_->name.c_str());
    }
    std::printf("\n");
    return Status::Ok();
  }

  Status Promote(const TrainedRun& run, std::string_view alias, std::string_view stage) {
    const std::string version = std::to_string(run.version);
    RETURN_IF_ERROR(StatusOf(
        api_.Post(std::string(kMlflow) + "registered-models/alias", BuildJson([&](json::Writer& w) {
                    w.StartObject()
                        .Field("name", name_)
                        .Field("alias", alias)
                        .Field("version", version)
                        .EndObject();
                  }))));
    return StatusOf(api_.Post(std::string(kMlflow) + "model-versions/transition-stage",
                              BuildJson([&](json::Writer& w) {
                                w.StartObject()
                                    .Field("name", name_)
                                    .Field("version", version)
                                    .Field("stage", stage)
                                    .Field("archive_existing_versions", false)
                                    .EndObject();
                              })));
  }

  // -- 4. Deployment ----------------------------------------------------------

  Status Deployment() {
    ASSIGN_OR_RETURN(
        json::Value created,
        api_.Post(std::string(kMlforge) + "deployments/create", BuildJson([&](json::Writer& w) {
                    w.StartObject()
                        .Field("name", name_)
                        .Field("description", "Churn scoring for the retention team")
                        .Key("routes")
                        .StartArray();
                    w.StartObject()
                        .Field("model_name", name_)
                        .Field("alias", "champion")
                        .Field("weight", challenger_ ? 90 : 100)
                        .Field("role", "primary")
                        .EndObject();
                    if (challenger_ != nullptr) {
                      w.StartObject()
                          .Field("model_name", name_)
                          .Field("alias", "challenger")
                          .Field("weight", 10)
                          .Field("role", "challenger")
                          .EndObject();
                    }
                    w.EndArray().EndObject();
                  })));
    const json::Value& status = Member(Member(created, "deployment"), "status");
    if (StrOf(status, "state") != "READY") {
      return InvalidState(fmt::format("deployment '{}' is {}: {}", name_, StrOf(status, "state"),
                                      StrOf(status, "message")));
    }
    std::printf("      deployment %s: %s@champion%s, READY\n", name_.c_str(), name_.c_str(),
                challenger_ ? " 90%, @challenger 10%" : "");
    return Status::Ok();
  }

  // -- 5. Monitor and alert rules ---------------------------------------------

  Status Monitoring() {
    RETURN_IF_ERROR(StatusOf(
        api_.Post(std::string(kMlforge) + "monitors/create", BuildJson([&](json::Writer& w) {
                    w.StartObject()
                        .Field("deployment", name_)
                        .Field("window_seconds", 3600)
                        .Field("sample_rate", 1.0);
                    // KS, not the default normalized Wasserstein: over a reference of
                    // more than 1000 rows "auto" picks Wasserstein, whose 0.1 threshold
                    // is within sampling noise for windows of a few hundred rows.
                    w.Key("drift").StartObject().Field("method", "ks").Key("columns").StartArray();
                    for (std::string_view f : kFeatures) w.String(f);
                    w.EndArray().EndObject();
                    w.Key("reference")
                        .StartObject()
                        .Field("kind", "model_version")
                        .Field("model_name", name_)
                        .Field("version", champion_->version)
                        .EndObject();
                    w.EndObject();
                  }))));
    struct Rule {
      std::string name;
      std::string_view metric;
      std::string_view op;
      double threshold;
    };
    const Rule rules[] = {
        {name_ + ": dataset drift", "dataset_drift", ">=", 1},
        {name_ + ": feature drift", "feature_drift.*", ">=", 1},
        {name_ + ": accuracy below 0.75", "accuracy", "<", 0.75},
    };
    for (const Rule& r : rules) {
      RETURN_IF_ERROR(StatusOf(
          api_.Post(std::string(kMlforge) + "alerts/rules/create", BuildJson([&](json::Writer& w) {
                      w.StartObject()
                          .Field("name", r.name)
                          .Field("deployment", name_)
                          .Field("metric", r.metric)
                          .Field("op", r.op)
                          .Field("threshold", r.threshold)
                          .EndObject();
                    }))));
    }
    std::printf("      monitor on %s (reference: version %lld's training data), %zu alert rules\n",
                name_.c_str(), static_cast<long long>(champion_->version), std::size(rules));
    return Status::Ok();
  }

  // -- 6-7. Traffic, labels, windows ------------------------------------------

  Status Traffic() {
    for (int w = 1; w <= kNormalWindows; ++w) RETURN_IF_ERROR(Window(w, false));
    return Status::Ok();
  }

  Status DriftEpisode() {
    RETURN_IF_ERROR(Window(kNormalWindows + 1, true));
    // Alerts are evaluated as the window closes; give the evaluation a moment.
    for (int i = 0; i < 50; ++i) {
      ASSIGN_OR_RETURN(
          json::Value alerts,
          api_.Must(http::Method::kGet,
                    fmt::format("{}alerts/list?state=firing&deployment={}", kMlforge, Q(name_))));
      if (!Member(alerts, "alerts").items().empty()) {
        std::string fired;
        for (const json::Value& a : Member(alerts, "alerts").items()) {
          fired += (fired.empty() ? "" : ", ") + StrOf(a, "metric");
        }
        firing_ = Member(alerts, "alerts").items().size();
        std::printf("      %zu alerts firing: %s\n", firing_, fired.c_str());
        return Status::Ok();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::printf("      warning: no alert fired\n");
    return Status::Ok();
  }

  // Sends one window's requests (one customer each), then the true outcomes
  // as labels, then closes the window.
  Status Window(int index, bool shifted) {
    Rng rng(kSeed + static_cast<uint64_t>(index));
    std::vector<std::pair<std::string, int>> labels;
    const std::string oip = fmt::format("/v2/models/{}/infer", Q(name_));
    const std::string invocations = fmt::format("/deployments/{}/invocations", Q(name_));
    for (int i = 0; i < kRequestsPerWindow; ++i) {
      const Customer c = DrawCustomer(rng, shifted);
      const std::string id = fmt::format("{}-w{}-{:03}", name_, index, i);
      const bool mlflow = i % kInvocationsEvery == kInvocationsEvery - 1;
      // The route key makes the champion/challenger split the same every run.
      ASSIGN_OR_RETURN(Answer a,
                       api_.Call(http::Method::kPost, mlflow ? invocations : oip,
                                 mlflow ? InvocationsBody(c) : OipBody(c, id), "application/json",
                                 {{"x-request-id", id}, {"x-mlforge-route-key", id}}));
      if (!a.ok()) return ServerApi::ServerError(mlflow ? invocations : oip, a);
      const double p = FirstPrediction(a.body);
      if (!(p >= 0 && p <= 1)) {
        return Internal(fmt::format("request {} was answered with no probability", id));
      }
      labels.emplace_back(id, c.churned);
      ++requests_;
    }
    RETURN_IF_ERROR(StatusOf(
        api_.Post(std::string(kMlforge) + "monitoring/labels", BuildJson([&](json::Writer& w) {
                    w.StartObject().Field("deployment", name_).Key("labels").StartArray();
                    for (const auto& [id, label] : labels) {
                      w.StartObject().Field("request_id", id).Field("label", label).EndObject();
                    }
                    w.EndArray().EndObject();
                  }))));
    ASSIGN_OR_RETURN(
        json::Value closed,
        api_.Post(std::string(kMlforge) + "monitors/close-window", BuildJson([&](json::Writer& w) {
                    w.StartObject().Field("deployment", name_).EndObject();
                  })));
    const json::Value& result = Member(closed, "result");
    std::string drifted;
    for (const json::Value& f : Member(result, "drifted_features").items()) {
      if (f.is_string()) drifted += (drifted.empty() ? "" : ", ") + f.as_string();
    }
    std::printf("      window %d: %d requests%s, accuracy %.2f, %s\n", index, kRequestsPerWindow,
                shifted ? " (shifted)" : "", NumberOf(Member(result, "performance"), "accuracy"),
                drifted.empty() ? "no drift" : ("drift in " + drifted).c_str());
    return Status::Ok();
  }

  void PrintWhatToOpen() const {
    std::printf("Open %s/ in a browser. Created, all named '%s':\n", api_.url().c_str(),
                name_.c_str());
    std::printf("  dataset      3 versions of a customer churn export\n");
    std::printf("  experiment   %zu training runs (xgboost and logistic regression)\n",
                runs_.empty() ? RunPlans().size() : runs_.size());
    std::printf("  model        registered versions, aliases champion and challenger\n");
    std::printf("  deployment   %s%s\n", requests_ ? std::to_string(requests_).c_str() : "",
                requests_ ? " requests served" : "serving the champion");
    std::printf("  monitor      %d windows, drift in the last one%s\n", kNormalWindows + 1,
                firing_ ? fmt::format(" ({} alerts firing)", firing_).c_str() : "");
  }

  ServerApi& api_;
  const std::string name_;
  std::string experiment_id_;
  std::vector<PushedVersion> versions_;
  std::vector<TrainedRun> runs_;
  TrainedRun* champion_ = nullptr;
  TrainedRun* challenger_ = nullptr;
  int requests_ = 0;
  size_t firing_ = 0;
};

int Run() {
  PreferPassiveOpenMpWaits();
  const DemoArgs& a = Args();
  // The name becomes a deployment's too, the strictest of the names it gets:
  // refuse a bad one before anything is created.
  if (Status s = serving::ValidateDeploymentName(a.name); !s.ok()) {
    std::fprintf(stderr, "mlforge demo: --name: %s\n", s.message().c_str());
    return 1;
  }
  auto server = ServerFromFlagOrEnv(a.server, "--tracking-uri", kDefaultServer);
  if (!server) {
    std::fprintf(stderr, "mlforge demo: %s\n", server.error().message().c_str());
    return 1;
  }
  ServerApi api(*server, std::chrono::seconds(60));
  // Reachable at all? Say so plainly before anything else.
  auto health = api.Call(http::Method::kGet, "/health");
  if (!health) {
    std::fprintf(stderr,
                 "mlforge demo: %s\nStart a server first (`mlforge server`), or point at one with "
                 "--tracking-uri URL or $MLFORGE_TRACKING_URI.\n",
                 health.error().message().c_str());
    return 1;
  }
  Demo demo(api, a.name);
  return demo.Run();
}

}  // namespace

void AddDemoCommand(CLI::App& app) {
  DemoArgs& a = Args();
  a.command = app.add_subcommand(
      "demo",
      "Fill a running server with a small churn project (datasets, runs, a registered champion, "
      "a deployment with traffic, a drift episode and its alerts) to explore the UI");
  a.command->add_option("--tracking-uri,--server", a.server,
                        "Server URL (default: $MLFORGE_TRACKING_URI, else $MLFLOW_TRACKING_URI, "
                        "else http://127.0.0.1:5000)");
  a.command
      ->add_option("--name", a.name,
                   "Name of the experiment, dataset, registered model and deployment")
      ->capture_default_str();
}

bool RunDemoCommand(int* exit_code) {
  if (Args().command == nullptr || !Args().command->parsed()) return false;
  *exit_code = Run();
  return true;
}

}  // namespace mlforge::app

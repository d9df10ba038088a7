// RegistryService semantics on SQLite and PostgreSQL (same tests, both
// backends), with the real TrackingService and ArtifactStore.
#include "registry/registry.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "base/clock.h"
#include "base/ids.h"
#include "base/json.h"
#include "blob/blob.h"
#include "support/scratch_database.h"
#include "support/temp_dir.h"
#include "tracking/tracking.h"

namespace mlforge::registry {
namespace {

constexpr char kMLmodel[] =
    "artifact_path: model\nflavors:\n  python_function:\n    loader_module: m\n"
    "signature:\n  inputs: '[{\"type\": \"double\", \"name\": \"x\"}]'\n";

class RegistryTest : public ::testing::TestWithParam<sql::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == sql::Backend::kPostgres && sql::testing::PgOptedOut()) {
      GTEST_SKIP() << "MLFORGE_TEST_PG=off";
    }
    auto scratch = sql::testing::ScratchDatabase::Create(GetParam());
    ASSERT_TRUE(scratch.has_value()) << scratch.error().ToString();
    scratch_ = std::move(*scratch);
    auto db = scratch_->Open();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    db_ = std::move(*db);
    auto tracking = tracking::TrackingService::Open(*db_, clock_, *ids_);
    ASSERT_TRUE(tracking.has_value()) << tracking.error().ToString();
    tracking_ = std::move(*tracking);
    auto artifacts = blob::ArtifactStore::Open(dir_.path() / "artifacts");
    ASSERT_TRUE(artifacts.has_value()) << artifacts.error().ToString();
    artifacts_ = std::move(*artifacts);
    auto reg = RegistryService::Open(*db_, clock_, *tracking_, artifacts_.get());
    ASSERT_TRUE(reg.has_value()) << reg.error().ToString();
    reg_ = std::move(*reg);
  }

  // A run with a model package at <run artifacts>/model. Returns the run id.
  std::string RunWithModel(std::string_view mlmodel = kMLmodel) {
    tracking::CreateRunRequest req;
    req.experiment_id = "0";
    auto run = tracking_->CreateRun(req);
    EXPECT_TRUE(run.has_value());
    const std::string root = "0/" + run->info.run_id + "/artifacts/model";
    if (!mlmodel.empty()) {
      EXPECT_TRUE(artifacts_->Put(root + "/MLmodel", mlmodel).has_value());
    }
    EXPECT_TRUE(
        artifacts_->Put(root + "/data/weights.bin", "weights-" + run->info.run_id).has_value());
    return run->info.run_id;
  }

  void NewModel(const std::string& name) {
    CreateRegisteredModelRequest req;
    req.name = name;
    auto m = reg_->CreateRegisteredModel(actor_, req);
    ASSERT_TRUE(m.has_value()) << m.error().ToString();
  }

  Result<ModelVersion> NewVersion(const std::string& name, const std::string& source,
                                  std::string run_id = "") {
    CreateModelVersionRequest req;
    req.name = name;
    req.source = source;
    req.run_id = std::move(run_id);
    return reg_->CreateModelVersion(actor_, req);
  }

  FakeClock clock_;
  std::unique_ptr<IdGenerator> ids_ = MakeSequentialIdGenerator(11);
  ::mlforge::testing::TempDir dir_;
  std::unique_ptr<sql::testing::ScratchDatabase> scratch_;
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<blob::ArtifactStore> artifacts_;
  std::unique_ptr<RegistryService> reg_;
  Actor actor_{"tester"};
};

TEST_P(RegistryTest, RegisteredModelLifecycle) {
  CreateRegisteredModelRequest req;
  req.name = "fraud";
  req.description = "first";
  req.tags = {{"team", "risk"}, {"team", "fraud"}};  // later duplicate wins, as MLflow
  auto created = reg_->CreateRegisteredModel(actor_, req);
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(created->creation_timestamp, clock_.NowMillis());
  ASSERT_EQ(created->tags.size(), 1u);
  EXPECT_EQ(created->tags[0].value, "fraud");
  EXPECT_EQ(reg_->CreateRegisteredModel(actor_, req).error().code(),
            ErrorCode::kResourceAlreadyExists);

  clock_.Advance(10);
  auto updated = reg_->UpdateRegisteredModel(actor_, "fraud", std::string("second"));
  ASSERT_TRUE(updated.has_value());
  EXPECT_EQ(updated->description, "second");
  EXPECT_EQ(updated->last_updated_timestamp, created->creation_timestamp + 10);

  NewModel("other");
  EXPECT_EQ(reg_->RenameRegisteredModel(actor_, "fraud", "other").error().code(),
            ErrorCode::kResourceAlreadyExists);
  auto renamed = reg_->RenameRegisteredModel(actor_, "fraud", "fraud-v2");
  ASSERT_TRUE(renamed.has_value()) << renamed.error().ToString();
  EXPECT_EQ(renamed->name, "fraud-v2");
  EXPECT_EQ(reg_->GetRegisteredModel("fraud").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->GetRegisteredModel("fraud-v2")->description, "second");

  ASSERT_OK(reg_->SetRegisteredModelTag(actor_, "fraud-v2", {"owner", "ana"}));
  ASSERT_OK(reg_->DeleteRegisteredModelTag(actor_, "fraud-v2", "team"));
  ASSERT_OK(reg_->DeleteRegisteredModelTag(actor_, "fraud-v2", "never-set"));  // MLflow: no error
  auto got = reg_->GetRegisteredModel("fraud-v2");
  ASSERT_EQ(got->tags.size(), 1u);
  EXPECT_EQ(got->tags[0].key, "owner");
  EXPECT_EQ(reg_->SetRegisteredModelTag(actor_, "fraud-v2", {"../x", "v"}).code(),
            ErrorCode::kInvalidParameterValue);

  ASSERT_OK(reg_->DeleteRegisteredModel(actor_, "fraud-v2"));
  EXPECT_EQ(reg_->GetRegisteredModel("fraud-v2").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->DeleteRegisteredModel(actor_, "fraud-v2").code(),
            ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->GetRegisteredModel("").error().code(), ErrorCode::kInvalidParameterValue);
}

TEST_P(RegistryTest, VersionNumbersStartAtOneAndAreNeverReused) {
  NewModel("m");
  const std::string run = RunWithModel();
  for (int i = 1; i <= 3; ++i) {
    auto v = NewVersion("m", "runs:/" + run + "/model");
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    EXPECT_EQ(v->version, i);
    EXPECT_EQ(v->run_id, run);  // filled from the runs:/ source
    EXPECT_EQ(v->current_stage, "None");
  }
  ASSERT_OK(reg_->DeleteModelVersion(actor_, "m", "3"));
  EXPECT_EQ(reg_->GetModelVersion("m", "3").error().code(), ErrorCode::kResourceDoesNotExist);
  auto next = NewVersion("m", "runs:/" + run + "/model");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->version, 4);

  // A refused create takes no number.
  EXPECT_EQ(NewVersion("m", "runs:/" + run + "/nothing-here").error().code(),
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(NewVersion("m", "runs:/" + run + "/model")->version, 5);
  EXPECT_EQ(NewVersion("missing", "runs:/" + run + "/model").error().code(),
            ErrorCode::kResourceDoesNotExist);

  // A model deleted and created again starts over, in a fresh pinned folder.
  const std::string old_path = reg_->GetModelVersion("m", "1")->storage_path;
  ASSERT_OK(reg_->DeleteRegisteredModel(actor_, "m"));
  EXPECT_EQ(artifacts_->List(old_path)->size(), 0u) << "pinned files go with the model";
  NewModel("m");
  auto again = NewVersion("m", "runs:/" + run + "/model");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->version, 1);
  EXPECT_NE(again->storage_path, old_path);
}

TEST_P(RegistryTest, ConcurrentCreatesGetDistinctNumbers) {
  NewModel("busy");
  const std::string run = RunWithModel();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::vector<std::vector<int64_t>> got(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto v = NewVersion("busy", "runs:/" + run + "/model");
        if (v) {
          got[t].push_back(v->version);
        } else {
          ADD_FAILURE() << v.error().ToString();
          ++failures;
        }
      }
    });
  }
  threads.clear();  // joins
  EXPECT_EQ(failures.load(), 0);
  std::set<int64_t> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);  // gap-free: no create failed
  SearchRequest req;
  req.filter = "name = 'busy'";
  EXPECT_EQ(reg_->SearchModelVersions(req)->versions.size(), size_t{kThreads * kPerThread});
}

TEST_P(RegistryTest, PinnedFilesOutliveTheRunAndShareItsBytes) {
  NewModel("m");
  const std::string run = RunWithModel();
  auto v = NewVersion("m", "mlflow-artifacts:/0/" + run + "/artifacts/model", run);
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(v->storage_path.rfind("registry/", 0), 0u) << v->storage_path;
  EXPECT_EQ(*reg_->GetDownloadUri("m", "1"), "mlflow-artifacts:/" + v->storage_path);

  // Same inode: the pin copied names, not data.
  struct stat source_st, pinned_st;
  auto source_file = artifacts_->Resolve("0/" + run + "/artifacts/model/data/weights.bin");
  auto pinned_file = artifacts_->Resolve(v->storage_path + "/data/weights.bin");
  ASSERT_TRUE(source_file.has_value() && pinned_file.has_value());
  ASSERT_EQ(::stat(source_file->c_str(), &source_st), 0);
  ASSERT_EQ(::stat(pinned_file->c_str(), &pinned_st), 0);
  EXPECT_EQ(source_st.st_ino, pinned_st.st_ino);

  // Overwriting, then deleting the run's files and the run leaves the version intact.
  ASSERT_TRUE(
      artifacts_->Put("0/" + run + "/artifacts/model/data/weights.bin", "changed").has_value());
  ASSERT_OK(artifacts_->Delete("0/" + run + "/artifacts"));
  ASSERT_OK(tracking_->DeleteRun(run));
  EXPECT_EQ(*artifacts_->Read(v->storage_path + "/data/weights.bin"), "weights-" + run);
  EXPECT_EQ(*artifacts_->Read(v->storage_path + "/MLmodel"), kMLmodel);

  // A version of a version (models:/ source) pins its own copy.
  auto copy = NewVersion("m", "models:/m/1");
  ASSERT_TRUE(copy.has_value()) << copy.error().ToString();
  EXPECT_EQ(*artifacts_->Read(copy->storage_path + "/data/weights.bin"), "weights-" + run);
  ASSERT_OK(reg_->DeleteModelVersion(actor_, "m", "1"));
  EXPECT_EQ(*artifacts_->Read(copy->storage_path + "/data/weights.bin"), "weights-" + run);
  EXPECT_FALSE(artifacts_->Read(v->storage_path + "/MLmodel").has_value());
}

TEST_P(RegistryTest, SourcesMustBeStoredModelPackages) {
  NewModel("m");
  const std::string run = RunWithModel();
  const std::string bare = RunWithModel("");
  auto expect_invalid = [&](const std::string& source, const std::string& run_id,
                            const std::string& why) {
    auto v = NewVersion("m", source, run_id);
    ASSERT_FALSE(v.has_value()) << source;
    EXPECT_EQ(v.error().code(), ErrorCode::kInvalidParameterValue) << source;
    EXPECT_NE(v.error().message().find(why), std::string::npos) << v.error().message();
  };
  expect_invalid("runs:/" + bare + "/model", "", "no MLmodel file");
  expect_invalid("/srv/models/m", "", "only accepts sources stored by this server");
  expect_invalid("file:///etc", run, "only accepts sources");
  expect_invalid("s3://bucket/m", "", "only accepts sources");
  expect_invalid("runs:/" + run + "/../../../etc", "", "Invalid model version source");
  expect_invalid("mlflow-artifacts:/0/../../etc/passwd", "", "Invalid model version source");
  expect_invalid("runs:/" + run + "/model", bare, "names run");
  expect_invalid("mlflow-artifacts:/registry", "", "Invalid model version source");
  EXPECT_EQ(NewVersion("m", "runs:/" + std::string(32, 'f') + "/model").error().code(),
            ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(NewVersion("m", "models:/m/7").error().code(), ErrorCode::kResourceDoesNotExist);

  // A broken MLmodel is refused and nothing is left behind.
  const std::string broken = RunWithModel("flavors: [sklearn]\n");
  expect_invalid("runs:/" + broken + "/model", "", "'flavors' is not a mapping");
  EXPECT_EQ(artifacts_->List("registry/1")->size(), 0u) << "no pinned copy is left behind";
}

TEST_P(RegistryTest, AliasesFollowMlflowRules) {
  NewModel("m");
  const std::string run = RunWithModel();
  ASSERT_TRUE(NewVersion("m", "runs:/" + run + "/model").has_value());
  ASSERT_TRUE(NewVersion("m", "runs:/" + run + "/model").has_value());
  ASSERT_OK(reg_->SetAlias(actor_, "m", "champion", "1"));
  EXPECT_EQ(reg_->GetModelVersionByAlias("m", "champion")->version, 1);
  ASSERT_OK(reg_->SetAlias(actor_, "m", "champion", "2"));  // moves
  auto v2 = reg_->GetModelVersionByAlias("m", "champion");
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->aliases, std::vector<std::string>{"champion"});
  EXPECT_TRUE(reg_->GetModelVersion("m", "1")->aliases.empty());
  for (const char* bad : {"latest", "LaTeSt", "v1", "V22", "has space", "a/b", ""}) {
    EXPECT_EQ(reg_->SetAlias(actor_, "m", bad, "1").code(), ErrorCode::kInvalidParameterValue)
        << bad;
  }
  EXPECT_OK(reg_->SetAlias(actor_, "m", "v1x", "1"));
  EXPECT_EQ(reg_->SetAlias(actor_, "m", "x", "9").code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->SetAlias(actor_, "m", "x", "one").code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(reg_->GetModelVersionByAlias("m", "nope").error().code(),
            ErrorCode::kInvalidParameterValue);  // MLflow's code for a missing alias
  ASSERT_OK(reg_->DeleteAlias(actor_, "m", "v1x"));
  ASSERT_OK(reg_->DeleteAlias(actor_, "m", "v1x"));  // absent: fine
  // Deleting a version drops the aliases that name it.
  ASSERT_OK(reg_->DeleteModelVersion(actor_, "m", "2"));
  EXPECT_TRUE(reg_->GetRegisteredModel("m")->aliases.empty());
}

TEST_P(RegistryTest, StagesAndLatestVersions) {
  NewModel("m");
  const std::string run = RunWithModel();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(NewVersion("m", "runs:/" + run + "/model").has_value());
  auto staged = reg_->TransitionStage(actor_, "m", "1", "staging", false);
  ASSERT_TRUE(staged.has_value());
  EXPECT_EQ(staged->current_stage, "Staging");
  ASSERT_TRUE(reg_->TransitionStage(actor_, "m", "2", "STAGING", true).has_value());
  EXPECT_EQ(reg_->GetModelVersion("m", "1")->current_stage, "Archived");
  EXPECT_EQ(reg_->TransitionStage(actor_, "m", "3", "Shipping", false).error().code(),
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(reg_->TransitionStage(actor_, "m", "3", "None", true).error().code(),
            ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(reg_->TransitionStage(actor_, "m", "9", "Production", false).error().code(),
            ErrorCode::kResourceDoesNotExist);

  auto latest = reg_->GetLatestVersions("m", {});
  ASSERT_TRUE(latest.has_value());
  std::vector<std::pair<std::string, int64_t>> got;
  for (const auto& v : *latest) got.emplace_back(v.current_stage, v.version);
  std::vector<std::pair<std::string, int64_t>> want = {
      {"Archived", 1}, {"Staging", 2}, {"None", 3}};
  EXPECT_EQ(got, want);
  std::vector<std::string> stages = {"staging"};
  auto only = reg_->GetLatestVersions("m", stages);
  ASSERT_EQ(only->size(), 1u);
  EXPECT_EQ((*only)[0].version, 2);
  std::vector<std::string> bad = {"Bogus"};
  EXPECT_EQ(reg_->GetLatestVersions("m", bad).error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(reg_->GetRegisteredModel("m")->latest_versions.size(), 3u);
}

TEST_P(RegistryTest, ResolvesModelsUris) {
  NewModel("m");
  const std::string run = RunWithModel();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(NewVersion("m", "runs:/" + run + "/model").has_value());
  ASSERT_TRUE(reg_->TransitionStage(actor_, "m", "2", "Production", false).has_value());
  ASSERT_OK(reg_->SetAlias(actor_, "m", "champion", "1"));
  EXPECT_EQ(reg_->Resolve("models:/m/2")->version, 2);
  EXPECT_EQ(reg_->Resolve("models:/m/production")->version, 2);
  EXPECT_EQ(reg_->Resolve("models:/m/latest")->version, 3);
  EXPECT_EQ(reg_->Resolve("models:/m@champion")->version, 1);
  EXPECT_EQ(reg_->Resolve("models:/m/Staging").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->Resolve("models:/m/Bogus").error().code(), ErrorCode::kInvalidParameterValue);
  EXPECT_EQ(reg_->Resolve("models:/m/9").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->Resolve("models:/nope/1").error().code(), ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->Resolve("runs:/x/y").error().code(), ErrorCode::kInvalidParameterValue);
}

TEST_P(RegistryTest, SearchFiltersOrderAndPages) {
  for (const char* name : {"alpha", "beta", "gamma"}) NewModel(name);
  ASSERT_OK(reg_->SetRegisteredModelTag(actor_, "beta", {"team", "fraud"}));
  const std::string run = RunWithModel();
  const std::string other = RunWithModel();
  ASSERT_TRUE(NewVersion("alpha", "runs:/" + run + "/model").has_value());
  clock_.Advance(5);
  ASSERT_TRUE(NewVersion("alpha", "runs:/" + other + "/model").has_value());
  ASSERT_OK(reg_->SetModelVersionTag(actor_, "alpha", "2", {"validated", "yes"}));

  auto names = [](const RegisteredModelPage& p) {
    std::vector<std::string> out;
    for (const auto& m : p.models) out.push_back(m.name);
    return out;
  };
  SearchRequest req;
  EXPECT_EQ(names(*reg_->SearchRegisteredModels(req)),
            (std::vector<std::string>{"alpha", "beta", "gamma"}));
  req.filter = "name LIKE '%a'";
  EXPECT_EQ(names(*reg_->SearchRegisteredModels(req)),
            (std::vector<std::string>{"alpha", "beta", "gamma"}));
  req.filter = "name ILIKE 'B%' and tags.team = 'fraud'";
  EXPECT_EQ(names(*reg_->SearchRegisteredModels(req)), (std::vector<std::string>{"beta"}));
  req.filter = "name != 'beta'";
  req.order_by = {"name DESC"};
  req.max_results = 1;
  auto first = reg_->SearchRegisteredModels(req);
  EXPECT_EQ(names(*first), (std::vector<std::string>{"gamma"}));
  ASSERT_FALSE(first->next_page_token.empty());
  req.page_token = first->next_page_token;
  auto second = reg_->SearchRegisteredModels(req);
  EXPECT_EQ(names(*second), (std::vector<std::string>{"alpha"}));
  EXPECT_TRUE(second->next_page_token.empty());
  req.page_token = "not-a-token";
  EXPECT_EQ(reg_->SearchRegisteredModels(req).error().code(), ErrorCode::kInvalidParameterValue);
  SearchRequest too_many;
  too_many.max_results = kSearchModelsMax + 1;
  EXPECT_EQ(reg_->SearchRegisteredModels(too_many).error().code(),
            ErrorCode::kInvalidParameterValue);
  for (const char* bad : {"bogus = 'x'", "name > 'a'", "name = 3", "name IN ('a')", "metrics.x = 1",
                          "name = 'a' OR name = 'b'", "name = 'a"}) {
    SearchRequest r;
    r.filter = bad;
    EXPECT_EQ(reg_->SearchRegisteredModels(r).error().code(), ErrorCode::kInvalidParameterValue)
        << bad;
  }
  for (const char* bad : {"bogus", "name SIDEWAYS", "tags.x"}) {
    SearchRequest r;
    r.order_by = {bad};
    EXPECT_EQ(reg_->SearchRegisteredModels(r).error().code(), ErrorCode::kInvalidParameterValue)
        << bad;
  }
  SearchRequest dup;
  dup.order_by = {"timestamp", "last_updated_timestamp DESC"};
  EXPECT_EQ(reg_->SearchRegisteredModels(dup).error().code(), ErrorCode::kInvalidParameterValue);

  auto versions = [&](const std::string& filter, std::vector<std::string> order = {}) {
    SearchRequest r;
    r.filter = filter;
    r.order_by = std::move(order);
    std::vector<std::string> out;
    auto page = reg_->SearchModelVersions(r);
    EXPECT_TRUE(page.has_value()) << filter << ": " << page.error().ToString();
    if (page) {
      for (const auto& v : page->versions) out.push_back(v.name + "/" + std::to_string(v.version));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(versions(""), (V{"alpha/2", "alpha/1"}));  // last_updated DESC by default
  EXPECT_EQ(versions("", {"version_number ASC"}), (V{"alpha/1", "alpha/2"}));
  EXPECT_EQ(versions("run_id = '" + run + "'"), (V{"alpha/1"}));
  EXPECT_EQ(versions("run_id IN ('" + run + "', '" + other + "')", {"version_number"}),
            (V{"alpha/1", "alpha/2"}));
  EXPECT_EQ(versions("version_number >= 2"), (V{"alpha/2"}));
  EXPECT_EQ(versions("version_number = '1'"), (V{"alpha/1"}));
  EXPECT_EQ(versions("tags.validated = 'yes'"), (V{"alpha/2"}));
  EXPECT_EQ(versions("source_path LIKE 'runs:/%' AND name = 'alpha'", {"version_number"}),
            (V{"alpha/1", "alpha/2"}));
  EXPECT_EQ(versions("name = 'beta'"), V{});
  for (const char* bad : {"name IN ('a')", "version_number = 'x'", "run_id NOT IN ('a')",
                          "bogus = 1", "source_path = 1", "tags.x > 'a'"}) {
    SearchRequest r;
    r.filter = bad;
    EXPECT_EQ(reg_->SearchModelVersions(r).error().code(), ErrorCode::kInvalidParameterValue)
        << bad;
  }
  auto with_tags = reg_->SearchModelVersions(SearchRequest{.filter = "version_number = 2"});
  ASSERT_EQ(with_tags->versions.size(), 1u);
  ASSERT_EQ(with_tags->versions[0].tags.size(), 1u);
  EXPECT_EQ(with_tags->versions[0].tags[0].key, "validated");
}

TEST_P(RegistryTest, EveryChangeIsAnAuditEvent) {
  NewModel("m");
  const std::string run = RunWithModel();
  Actor alice{"alice"};
  ASSERT_TRUE(NewVersion("m", "runs:/" + run + "/model").has_value());
  ASSERT_OK(reg_->SetAlias(alice, "m", "champion", "1"));
  ASSERT_TRUE(reg_->TransitionStage(alice, "m", "1", "Production", false).has_value());
  ASSERT_OK(reg_->SetModelVersionTag(alice, "m", "1", {"k", "v"}));
  ASSERT_OK(reg_->DeleteModelVersionTag(alice, "m", "1", "k"));
  ASSERT_OK(reg_->DeleteModelVersionTag(alice, "m", "1", "k"));  // no change, no event
  ASSERT_TRUE(reg_->UpdateModelVersion(alice, "m", "1", std::string("d")).has_value());
  ASSERT_TRUE(reg_->RenameRegisteredModel(alice, "m", "m2").has_value());
  ASSERT_OK(reg_->DeleteAlias(alice, "m2", "champion"));
  ASSERT_OK(reg_->DeleteModelVersion(alice, "m2", "1"));
  ASSERT_OK(reg_->DeleteRegisteredModel(alice, "m2"));

  auto page = reg_->ListEvents(EventsRequest{.name = "m"});
  ASSERT_TRUE(page.has_value()) << page.error().ToString();
  std::vector<std::string> actions;
  for (const Event& e : page->events) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "create_registered_model", "create_model_version", "set_alias",
                         "transition_stage", "set_model_version_tag", "delete_model_version_tag",
                         "update_model_version", "rename_registered_model", "delete_alias",
                         "delete_model_version", "delete_registered_model"}));
  EXPECT_EQ(page->events[0].user, "tester");
  EXPECT_EQ(page->events[2].user, "alice");
  EXPECT_EQ(page->events[3].before_json, R"({"current_stage":"None"})");
  EXPECT_EQ(page->events[3].after_json, R"({"current_stage":"Production"})");
  EXPECT_TRUE(page->events[0].before_json.empty());
  EXPECT_TRUE(page->events.back().after_json.empty());
  EXPECT_EQ(page->events[7].name, "m2");
  for (const Event& e : page->events) {
    if (!e.before_json.empty()) {
      EXPECT_TRUE(json::Parse(e.before_json).has_value());
    }
    if (!e.after_json.empty()) {
      EXPECT_TRUE(json::Parse(e.after_json).has_value());
    }
  }
  // The same history under the later name, by version, and in pages.
  EXPECT_EQ(reg_->ListEvents(EventsRequest{.name = "m2"})->events.size(), actions.size());
  EXPECT_EQ(reg_->ListEvents(EventsRequest{.name = "m", .version = 1})->events.size(), 8u);
  auto first = reg_->ListEvents(EventsRequest{.name = "m", .max_results = 4});
  ASSERT_EQ(first->events.size(), 4u);
  auto rest = reg_->ListEvents(
      EventsRequest{.name = "m", .max_results = 100, .page_token = first->next_page_token});
  ASSERT_EQ(rest->events.size(), actions.size() - 4);
  EXPECT_EQ(rest->events[0].action, "set_model_version_tag");
  EXPECT_EQ(reg_->ListEvents(EventsRequest{.name = "never"}).error().code(),
            ErrorCode::kResourceDoesNotExist);
  EXPECT_EQ(reg_->ListEvents(EventsRequest{.name = "m", .max_results = 0}).error().code(),
            ErrorCode::kInvalidParameterValue);
}

TEST_P(RegistryTest, WithoutArtifactStoreVersionsAreNotImplemented) {
  auto reg = RegistryService::Open(*db_, clock_, *tracking_, nullptr);
  ASSERT_TRUE(reg.has_value());
  NewModel("m");
  CreateModelVersionRequest req{.name = "m", .source = "runs:/" + RunWithModel() + "/model"};
  EXPECT_EQ((*reg)->CreateModelVersion(actor_, req).error().code(), ErrorCode::kNotImplemented);
  EXPECT_EQ((*reg)->GetRegisteredModel("m")->name, "m");
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryTest,
                         ::testing::Values(sql::Backend::kSqlite, sql::Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == sql::Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace mlforge::registry

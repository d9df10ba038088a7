// The datasets API in process (real SQLite, blob store, HTTP server on port
// 0): push/pull round trips through the real client code, resumable pushes,
// corruption on either side, bad input, and runs that used a version.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "api/api.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/ids.h"
#include "base/json.h"
#include "blob/blob.h"
#include "data/data.h"
#include "http/http.h"
#include "sql/sql.h"
#include "support/scratch_database.h"
#include "support/temp_dir.h"
#include "tracking/tracking.h"

namespace mlforge::data {
namespace {

namespace fs = std::filesystem;

void WriteFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void FlipByte(const fs::path& p, int64_t offset = 0) {
  ::chmod(p.c_str(), 0644);
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  char c = 0;
  f.seekg(offset);
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(c ^ 1));
}

class DatasetApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = sql::Database::Open("sqlite:///" + (server_dir_.path() / "db.sqlite").string());
    ASSERT_TRUE(db.has_value());
    db_ = std::move(*db);
    auto tracking = tracking::TrackingService::Open(*db_, clock_, *ids_);
    ASSERT_TRUE(tracking.has_value());
    tracking_ = std::move(*tracking);
    auto artifacts = blob::ArtifactStore::Open(server_dir_.path() / "artifacts");
    ASSERT_TRUE(artifacts.has_value());
    artifacts_ = std::move(*artifacts);
    auto datasets = DatasetService::Open(*db_, artifacts_->blobs(), clock_);
    ASSERT_TRUE(datasets.has_value());
    datasets_ = std::move(*datasets);
    http::Router router;
    api::RegisterDatasetRoutes(router, {.datasets = datasets_.get(), .tracking = tracking_.get()});
    router.Add(http::Method::kGet, "/health",
               [](http::Request&, http::Response& r) { r.body = "OK"; });
    http::ServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.max_body_bytes = 1 << 20;
    options.spool_dir = server_dir_.path() / "artifacts" / "tmp";
    auto server = http::Server::Start(options, std::move(router));
    ASSERT_TRUE(server.has_value());
    server_ = std::move(*server);
    client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
    remote_.port = server_->port();
    remote_.connections = 3;

    for (auto* dir : {&a_dir_, &b_dir_}) {
      auto ws = Workspace::Open(dir->path(), clock_);
      ASSERT_TRUE(ws.has_value());
      (dir == &a_dir_ ? a_ : b_) = std::move(*ws);
    }
    for (int i = 0; i < 40; ++i) WriteFile(a_dir_.path() / "set" / ("f" + std::to_string(i)), "row " + std::to_string(i));
    WriteFile(a_dir_.path() / "set/nested/big", std::string(200000, 'z'));
    auto added = a_->Add(a_dir_.path() / "set", {});
    ASSERT_TRUE(added.has_value()) << added.error().ToString();
    pointer_ = added->pointer;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  http::ClientResponse Send(http::Method m, const std::string& target, std::string_view body = {}) {
    auto r = client_->Send(m, target, body, {{"content-type", "application/json"}});
    return r.value_or(http::ClientResponse{});
  }
  // Copies the pointer file to workspace B, as `git pull` would.
  fs::path PointerInB() {
    fs::copy_file(a_dir_.path() / "set.mlfd", b_dir_.path() / "set.mlfd",
                  fs::copy_options::overwrite_existing);
    return b_dir_.path() / "set.mlfd";
  }

  testing::TempDir server_dir_, a_dir_, b_dir_;
  FakeClock clock_;
  std::unique_ptr<IdGenerator> ids_ = MakeSequentialIdGenerator(1);
  std::unique_ptr<sql::Database> db_;
  std::unique_ptr<tracking::TrackingService> tracking_;
  std::unique_ptr<blob::ArtifactStore> artifacts_;
  std::unique_ptr<DatasetService> datasets_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
  RemoteOptions remote_;
  std::unique_ptr<Workspace> a_, b_;
  Pointer pointer_;
};

TEST_F(DatasetApiTest, PushThenPullRoundTripMovesOnlyMissingObjects) {
  auto pushed = Push(*a_, "set", pointer_.version_id, remote_);
  ASSERT_TRUE(pushed.has_value()) << pushed.error().ToString();
  EXPECT_EQ(pushed->objects_total, 42);  // 41 files + manifest
  EXPECT_EQ(pushed->objects_transferred, 42);
  EXPECT_EQ(pushed->version_number, 1);
  auto again = Push(*a_, "set", pointer_.version_id, remote_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->objects_transferred, 0);
  EXPECT_EQ(again->version_number, 1);

  fs::path pointer = PointerInB();
  auto pulled = Pull(*b_, pointer_.version_id, remote_);
  ASSERT_TRUE(pulled.has_value()) << pulled.error().ToString();
  EXPECT_EQ(pulled->objects_transferred, 42);
  ASSERT_TRUE(b_->Checkout(pointer, {}).has_value());
  EXPECT_EQ(ReadFile(b_dir_.path() / "set/f7"), "row 7");
  EXPECT_EQ(ReadFile(b_dir_.path() / "set/nested/big"), std::string(200000, 'z'));
  EXPECT_TRUE(b_->Status(pointer)->clean());
  EXPECT_EQ(Pull(*b_, pointer_.version_id, remote_)->objects_transferred, 0);

  // A second version shares all but one object with the first.
  WriteFile(a_dir_.path() / "set/f0", "changed");
  auto v2 = a_->Add(a_dir_.path() / "set", {});
  auto pushed2 = Push(*a_, "set", v2->pointer.version_id, remote_);
  ASSERT_TRUE(pushed2.has_value());
  EXPECT_EQ(pushed2->objects_transferred, 2);  // f0 and the manifest
  EXPECT_EQ(pushed2->version_number, 2);

  auto list = Send(http::Method::kGet, "/api/2.0/mlforge/datasets/versions/list?name=set");
  EXPECT_EQ(list.status, 200);
  auto v = json::Parse(list.body);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->Find("versions")->items().size(), 2u);
}

TEST_F(DatasetApiTest, InterruptedPushResumesWithTheRest) {
  RemoteOptions aborting = remote_;
  aborting.abort_after_objects = 10;
  aborting.connections = 1;
  auto first = Push(*a_, "set", pointer_.version_id, aborting);
  ASSERT_FALSE(first.has_value());
  EXPECT_FALSE(datasets_->GetDataset("set").has_value());  // no version without its objects
  auto resumed = Push(*a_, "set", pointer_.version_id, remote_);
  ASSERT_TRUE(resumed.has_value()) << resumed.error().ToString();
  EXPECT_EQ(resumed->objects_transferred, 42 - 10);
  EXPECT_EQ(resumed->version_number, 1);
}

TEST_F(DatasetApiTest, CorruptedCacheObjectIsNeverPushed) {
  std::string sha = Sha256::HexOf("row 3");
  auto object = a_->cache().Locate(sha);
  ASSERT_TRUE(object.has_value());
  FlipByte(object->file, object->offset);
  auto pushed = Push(*a_, "set", pointer_.version_id, remote_);
  ASSERT_FALSE(pushed.has_value());
  EXPECT_NE(pushed.error().message().find("corrupted"), std::string::npos)
      << pushed.error().message();
  EXPECT_EQ(datasets_->MissingObjects({sha})->size(), 1u);
}

TEST_F(DatasetApiTest, CorruptedServerObjectIsRefusedOnPull) {
  ASSERT_TRUE(Push(*a_, "set", pointer_.version_id, remote_).has_value());
  std::string sha = Sha256::HexOf("row 5");
  FlipByte(*artifacts_->blobs().ObjectPath(sha));
  fs::path pointer = PointerInB();
  RemoteOptions one = remote_;
  one.connections = 1;
  auto pulled = Pull(*b_, pointer_.version_id, one);
  ASSERT_FALSE(pulled.has_value());
  EXPECT_NE(pulled.error().message().find("corrupted"), std::string::npos);
  EXPECT_FALSE(b_->cache().Exists(sha));
  EXPECT_FALSE(b_->Checkout(pointer, {}).has_value());
  EXPECT_FALSE(fs::exists(b_dir_.path() / "set/f5"));
}

TEST_F(DatasetApiTest, BadInputIsRefusedAndTheServerKeepsServing) {
  const std::string api = "/api/2.0/mlforge/datasets";
  const std::string sha = Sha256::HexOf("payload");
  struct Case {
    http::Method method;
    std::string target;
    std::string body;
    int status;
  } cases[] = {
      {http::Method::kPut, api + "/objects/" + sha, "not the payload", 400},
      {http::Method::kPut, api + "/objects/" + std::string(64, 'A'), "x", 400},
      {http::Method::kPut, api + "/objects/..%2F..%2Fetc%2Fpasswd", "x", 400},
      {http::Method::kGet, api + "/objects/..%2F..%2Fdb.sqlite", "", 400},
      {http::Method::kGet, api + "/objects/" + std::string(64, 'c'), "", 404},
      {http::Method::kPost, api + "/objects/missing", "{not json", 400},
      {http::Method::kPost, api + "/objects/missing", R"({"sha256":"abc"})", 400},
      {http::Method::kPost, api + "/objects/missing", R"({"sha256":["abc"]})", 400},
      {http::Method::kPost, api + "/objects/missing", R"({"sha256":[1]})", 400},
      {http::Method::kPost, api + "/objects/missing", "[]", 400},
      {http::Method::kPost, api + "/versions/create", R"({"name":"x"})", 400},
      {http::Method::kPost, api + "/versions/create",
       R"({"name":"x","version_id":")" + std::string(64, 'd') + R"("})", 400},
      {http::Method::kPost, api + "/versions/create", R"({"name":5,"version_id":"a"})", 400},
      {http::Method::kPost, api + "/create", R"({"name":""})", 400},
      {http::Method::kGet, api + "/versions/manifest?version_id=../x", "", 400},
      {http::Method::kGet, api + "/versions/manifest?version_id=" + sha + "&max_results=abc", "", 400},
      {http::Method::kGet, api + "/versions/get?name=nope&version=1", "", 404},
      {http::Method::kGet, api + "/versions/runs?version_id=zz", "", 400},
      {http::Method::kPost, api + "/gc", R"({"dry_run":"yes"})", 400},
  };
  for (const Case& c : cases) {
    auto r = Send(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.target << " " << c.body << " -> " << r.body;
    auto v = json::Parse(r.body);
    ASSERT_TRUE(v.has_value()) << r.body;
    EXPECT_NE(v->Find("error_code"), nullptr) << r.body;
  }
  // The mismatched upload stored nothing.
  EXPECT_EQ(datasets_->MissingObjects({sha, Sha256::HexOf("not the payload")})->size(), 2u);
  // Too many hashes in one existence check.
  std::string many = R"({"sha256":[)";
  for (int i = 0; i <= kMaxMissingCheck; ++i) many += (i ? ",\"" : "\"") + sha + "\"";
  many += "]}";
  EXPECT_EQ(Send(http::Method::kPost, api + "/objects/missing", many).status, 400);
  // A JSON body over the server's limit.
  auto huge = client_->Send(http::Method::kPost, api + "/objects/missing",
                            std::string(2 << 20, ' '), {{"content-type", "application/json"}});
  if (huge.has_value()) {
    EXPECT_EQ(huge->status, 413);
  }
  client_ = std::make_unique<http::Client>("127.0.0.1", server_->port());
  // A version whose objects are missing names them.
  auto text = a_->cache().Read(pointer_.version_id);
  ASSERT_EQ(Send(http::Method::kPut, api + "/objects/" + pointer_.version_id, *text).status, 200);
  auto refused = Send(http::Method::kPost, api + "/versions/create",
                      R"({"name":"set","version_id":")" + pointer_.version_id + R"("})");
  EXPECT_EQ(refused.status, 400);
  auto v = json::Parse(refused.body);
  ASSERT_TRUE(v.has_value());
  ASSERT_NE(v->Find("missing_objects"), nullptr);
  EXPECT_EQ(v->Find("missing_objects")->items().size(), 41u);
  // Still serving, and a good upload works.
  EXPECT_EQ(Send(http::Method::kGet, "/health").status, 200);
  EXPECT_EQ(Send(http::Method::kPut, api + "/objects/" + sha, "payload").status, 200);
  auto got = Send(http::Method::kGet, api + "/objects/" + sha);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "payload");
}

TEST_F(DatasetApiTest, RunsThatUsedAVersionAreFoundByDigest) {
  ASSERT_TRUE(Push(*a_, "set", pointer_.version_id, remote_).has_value());
  auto run = tracking_->CreateRun({});
  ASSERT_TRUE(run.has_value());
  auto other = tracking_->CreateRun({});
  tracking::DatasetInput input;
  input.dataset.name = "set";
  input.dataset.digest = pointer_.version_id.substr(0, 10);  // MLflow digests are short
  input.dataset.source_type = "local";
  input.dataset.source = "set";
  ASSERT_OK(tracking_->LogInputs(run->info.run_id, std::span(&input, 1)));
  tracking::DatasetInput unrelated = input;
  unrelated.dataset.digest = "0123456789";
  ASSERT_OK(tracking_->LogInputs(other->info.run_id, std::span(&unrelated, 1)));
  auto r = Send(http::Method::kGet,
                "/api/2.0/mlforge/datasets/versions/runs?version_id=" + pointer_.version_id);
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = json::Parse(r.body);
  ASSERT_TRUE(v.has_value());
  const json::Value* runs = v->Find("runs");
  ASSERT_NE(runs, nullptr);
  ASSERT_EQ(runs->items().size(), 1u);
  EXPECT_EQ(runs->items()[0].Find("run_id")->as_string(), run->info.run_id);
}

}  // namespace
}  // namespace mlforge::data

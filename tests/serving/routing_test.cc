// Weighted and sticky route choice, version pinning, and the shadow mirror.
#include "serving/routing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <thread>

#include "base/metrics.h"
#include "serving/deploy_test_util.h"

namespace mlforge::serving {
namespace {

using namespace std::chrono_literals;
using testing::FakeRuntime;
using testing::VersionRoute;

std::shared_ptr<ServedVersion> Served(int64_t version, std::chrono::microseconds delay = {}) {
  auto s = std::make_shared<ServedVersion>();
  s->model_name = "m";
  s->version = version;
  s->runtime = std::make_shared<FakeRuntime>(version, 2, delay);
  return s;
}

DeploymentSnapshot Snapshot(std::vector<RouteSpec> specs) {
  DeploymentSnapshot s;
  s.name = "d";
  s.revision = 1;
  for (const RouteSpec& spec : specs) {
    RouteEntry e;
    e.spec = spec;
    e.served = Served(spec.version);
    s.routes.push_back(std::move(e));
  }
  IndexRoutes(s);
  return s;
}

// |observed - n p| within 5 binomial standard deviations: a correct router
// fails this about once in 1.7 million runs.
void ExpectShare(int observed, int n, double p) {
  const double sd = std::sqrt(n * p * (1 - p));
  EXPECT_NEAR(observed, n * p, 5 * sd) << observed << " of " << n << " expected share " << p;
}

TEST(Routing, WeightedSplitMatchesTheWeights) {
  DeploymentSnapshot s =
      Snapshot({VersionRoute("m", 1, 70), VersionRoute("m", 2, 30, RouteRole::kChallenger),
                VersionRoute("m", 3, 50, RouteRole::kShadow)});
  constexpr int kN = 10'000;
  std::map<int64_t, int> count;
  for (int i = 0; i < kN; ++i) ++count[PickRoute(s, "")->served->version];
  EXPECT_EQ(count.count(3), 0u);  // shadows never answer
  ExpectShare(count[1], kN, 0.7);
  ExpectShare(count[2], kN, 0.3);
}

TEST(Routing, StickyKeysStayOnOneRouteAndStillSplitByWeight) {
  DeploymentSnapshot s = Snapshot({VersionRoute("m", 1, 70), VersionRoute("m", 2, 30)});
  constexpr int kKeys = 10'000;
  int on_first = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "user-" + std::to_string(k);
    const int64_t v = PickRoute(s, key)->served->version;
    for (int again = 0; again < 3; ++again) {
      ASSERT_EQ(PickRoute(s, key)->served->version, v) << key;
    }
    if (v == 1) ++on_first;
  }
  ExpectShare(on_first, kKeys, 0.7);
  EXPECT_EQ(RouteKeyHash("abc"), RouteKeyHash("abc"));
  EXPECT_NE(RouteKeyHash("abc"), RouteKeyHash("abd"));
}

TEST(Routing, ZeroWeightAndPinnedVersions) {
  DeploymentSnapshot s = Snapshot({VersionRoute("m", 1, 1), VersionRoute("m", 2, 0),
                                   VersionRoute("m", 3, 0, RouteRole::kShadow)});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(PickRoute(s, "")->served->version, 1);
  EXPECT_EQ(FindVersion(s, 2)->served->version, 2);
  EXPECT_EQ(FindVersion(s, 3)->spec.role, RouteRole::kShadow);
  EXPECT_EQ(FindVersion(s, 4), nullptr);
  DeploymentSnapshot empty;
  EXPECT_EQ(PickRoute(empty, ""), nullptr);
}

TEST(ShadowMirror, RecordsOutputsAndDropsWhenFull) {
  metrics::Registry registry;
  DeploymentConfig config;
  config.shadow_queue_size = 2;
  config.shadow_samples = 3;
  auto snapshot = std::make_shared<DeploymentSnapshot>();
  snapshot->name = "d";
  RouteEntry primary;
  primary.spec = VersionRoute("m", 1);
  primary.served = Served(1);
  RouteEntry shadow;
  shadow.spec = VersionRoute("m", 2, 0, RouteRole::kShadow);
  shadow.served = Served(2, 20ms);  // slow: the queue fills up
  shadow.metrics.requests = &registry.GetCounter("shadow_total", "s");
  shadow.metrics.errors = &registry.GetCounter("shadow_errors_total", "s");
  shadow.metrics.latency =
      &registry.GetHistogram("shadow_seconds", "s", {}, metrics::LatencyBuckets());
  snapshot->routes = {primary, shadow};
  IndexRoutes(*snapshot);

  ShadowMirror mirror("d", config, registry);
  int accepted = 0;
  constexpr int kOffered = 20;
  for (int i = 0; i < kOffered; ++i) {
    ShadowJob job;
    job.snapshot = snapshot;
    job.features = testing::Row(float(i));
    job.request_id = "r" + std::to_string(i);
    job.primary_model = "m";
    job.primary_version = 1;
    job.primary.rows = 1;
    job.primary.cols = 1;
    job.primary.values = {1000.0 + 2 * i};
    job.primary.output_names = {"prediction"};
    if (mirror.TryMirror(std::move(job))) ++accepted;
  }
  EXPECT_LT(accepted, kOffered);
  for (int i = 0; i < 500 && mirror.Stats().mirrored < static_cast<uint64_t>(accepted); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ShadowStats stats = mirror.Stats();
  EXPECT_EQ(stats.mirrored, static_cast<uint64_t>(accepted));
  EXPECT_EQ(stats.dropped, static_cast<uint64_t>(kOffered - accepted));
  EXPECT_EQ(stats.errors, 0u);
  ASSERT_FALSE(stats.samples.empty());
  EXPECT_LE(stats.samples.size(), 3u);
  for (const ShadowSample& sample : stats.samples) {
    ASSERT_EQ(sample.shadows.size(), 1u);
    // Same input through both versions: the answers differ by the version term.
    EXPECT_EQ(sample.shadows[0].version, 2);
    ASSERT_EQ(sample.shadows[0].values.size(), 1u);
    EXPECT_DOUBLE_EQ(sample.shadows[0].values[0] - sample.primary_values[0], 1000);
  }
  EXPECT_EQ(registry.GetCounter("shadow_total", "").value(), static_cast<uint64_t>(accepted));
  EXPECT_NE(registry.Render().find("mlforge_serving_shadow_dropped_total{deployment=\"d\"} " +
                                   std::to_string(kOffered - accepted)),
            std::string::npos);
}

}  // namespace
}  // namespace mlforge::serving

// Alert rules, the alert manager and webhook delivery (docs/monitoring.md,
// "Alerts"). Rules, alerts and the delivery log live in SQL (component
// "alerts"); deliveries run on one background thread so Observe never waits
// for a webhook.
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/clock.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "http/http.h"
#include "monitor/monitor.h"
#include "sql/sql.h"

namespace mlforge::monitor {
namespace {

// alerts: one row per (rule, deployment, metric), updated in place as it
// fires and resolves. alert_deliveries is append-only.
// clang-format off
#define MLFORGE_ALERTS_V1(SERIAL_PK)                                       \
  "CREATE TABLE alert_rules ("                                             \
  "  rule_id TEXT PRIMARY KEY,"                                            \
  "  name TEXT NOT NULL,"                                                  \
  "  deployment TEXT NOT NULL,"                                            \
  "  metric TEXT NOT NULL,"                                                \
  "  op TEXT NOT NULL,"                                                    \
  "  threshold DOUBLE PRECISION NOT NULL,"                                 \
  "  for_windows BIGINT NOT NULL,"                                         \
  "  webhooks_json TEXT NOT NULL,"                                         \
  "  enabled INTEGER NOT NULL,"                                            \
  "  creation_time BIGINT NOT NULL,"                                       \
  "  last_updated_time BIGINT NOT NULL);"                                  \
  "CREATE TABLE alerts ("                                                  \
  "  alert_id " SERIAL_PK ","                                              \
  "  rule_id TEXT NOT NULL,"                                               \
  "  rule_name TEXT NOT NULL,"                                             \
  "  deployment TEXT NOT NULL,"                                            \
  "  metric TEXT NOT NULL,"                                                \
  "  state TEXT NOT NULL,"                                                 \
  "  op TEXT NOT NULL,"                                                    \
  "  threshold DOUBLE PRECISION NOT NULL,"                                 \
  "  value DOUBLE PRECISION NOT NULL,"                                     \
  "  window_start BIGINT NOT NULL,"                                        \
  "  window_end BIGINT NOT NULL,"                                          \
  "  first_seen BIGINT NOT NULL,"                                          \
  "  last_seen BIGINT NOT NULL,"                                           \
  "  resolved_time BIGINT NOT NULL,"                                       \
  "  UNIQUE (rule_id, deployment, metric));"                               \
  "CREATE INDEX alerts_by_deployment ON alerts (deployment, last_seen);"   \
  "CREATE TABLE alert_deliveries ("                                        \
  "  delivery_id " SERIAL_PK ","                                           \
  "  alert_id BIGINT NOT NULL,"                                            \
  "  rule_id TEXT NOT NULL,"                                               \
  "  url TEXT NOT NULL,"                                                   \
  "  event TEXT NOT NULL,"                                                 \
  "  attempt BIGINT NOT NULL,"                                             \
  "  status_code BIGINT NOT NULL,"                                         \
  "  error TEXT NOT NULL,"                                                 \
  "  success INTEGER NOT NULL,"                                            \
  "  final INTEGER NOT NULL,"                                              \
  "  timestamp BIGINT NOT NULL);"                                          \
  "CREATE INDEX alert_deliveries_by_alert ON alert_deliveries (alert_id);"
// clang-format on

constexpr std::string_view kV1Sqlite = MLFORGE_ALERTS_V1("INTEGER PRIMARY KEY AUTOINCREMENT");
constexpr std::string_view kV1Postgres = MLFORGE_ALERTS_V1("BIGSERIAL PRIMARY KEY");
#undef MLFORGE_ALERTS_V1

constexpr sql::Migration kMigrations[] = {
    {.version = 1, .name = "alerts", .sql = {}, .sqlite = kV1Sqlite, .postgres = kV1Postgres},
};

constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxWebhooks = 20;
constexpr size_t kMaxUrlBytes = 2048;
constexpr int kMaxForWindows = 10'000;

constexpr std::string_view kRuleColumns =
    "SELECT rule_id, name, deployment, metric, op, threshold, for_windows, webhooks_json, "
    "enabled, creation_time, last_updated_time FROM alert_rules";
constexpr std::string_view kAlertColumns =
    "SELECT alert_id, rule_id, rule_name, deployment, metric, state, op, threshold, value, "
    "window_start, window_end, first_seen, last_seen, resolved_time FROM alerts";

struct WebhookUrl {
  std::string host;
  uint16_t port = 80;
  std::string target;  // path + query, at least "/"
};

// http://host[:port][/path][?query]. https is not offered: the HTTP client
// speaks plain HTTP only.
Result<WebhookUrl> ParseWebhookUrl(std::string_view url, std::string_view field) {
  auto bad = [&](std::string_view why) {
    return Err(InvalidArgument(fmt::format("Invalid value '{}' for '{}': {}", url, field, why)));
  };
  if (url.size() > kMaxUrlBytes) return bad("too long");
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return bad("expected an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = std::min(rest.find('/'), rest.find('?'));
  std::string_view authority = rest.substr(0, slash);
  WebhookUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target.front() == '?') out.target.insert(out.target.begin(), '/');
  if (authority.find('@') != std::string_view::npos) return bad("credentials are not supported");
  const size_t colon = authority.rfind(':');
  std::string_view host = authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return bad("invalid port");
    }
    out.port = static_cast<uint16_t>(value);
  }
  if (host.empty()) return bad("missing host");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return bad("invalid host");
    }
  }
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("invalid character in path");
  }
  out.host = std::string(host);
  return out;
}

std::string WebhooksJson(const std::vector<std::string>& urls) {
  json::Writer w;
  w.StartArray();
  for (const std::string& u : urls) w.String(u);
  return w.EndArray().Take();
}

Result<AlertRule> ReadRule(const sql::Row& r) {
  AlertRule rule;
  rule.id = std::string(r.GetText(0));
  rule.name = std::string(r.GetText(1));
  rule.deployment = std::string(r.GetText(2));
  rule.metric = std::string(r.GetText(3));
  auto op = ParseCompareOp(r.GetText(4));
  if (!op) return Err(Internal(fmt::format("Alert rule '{}' has an unknown op", rule.id)));
  rule.op = *op;
  rule.threshold = r.GetDouble(5);
  rule.for_windows = static_cast<int>(r.GetInt(6));
  auto hooks = json::Parse(r.GetText(7));
  if (!hooks || !hooks->is_array()) {
    return Err(Internal(fmt::format("Alert rule '{}' has unreadable webhooks", rule.id)));
  }
  for (const json::Value& h : hooks->items()) {
    if (h.is_string()) rule.webhooks.push_back(h.as_string());
  }
  rule.enabled = r.GetInt(8) != 0;
  rule.creation_timestamp = r.GetInt(9);
  rule.last_updated_timestamp = r.GetInt(10);
  return rule;
}

Alert ReadAlert(const sql::Row& r) {
  Alert a;
  a.id = r.GetInt(0);
  a.rule_id = std::string(r.GetText(1));
  a.rule_name = std::string(r.GetText(2));
  a.deployment = std::string(r.GetText(3));
  a.metric = std::string(r.GetText(4));
  a.state = ParseAlertState(r.GetText(5)).value_or(AlertState::kResolved);
  a.op = ParseCompareOp(r.GetText(6)).value_or(CompareOp::kGt);
  a.threshold = r.GetDouble(7);
  a.value = r.GetDouble(8);
  a.window_start_ms = r.GetInt(9);
  a.window_end_ms = r.GetInt(10);
  a.first_seen_ms = r.GetInt(11);
  a.last_seen_ms = r.GetInt(12);
  a.resolved_ms = r.GetInt(13);
  return a;
}

// The key of an alert (and of a streak): rule, deployment, metric.
std::string AlertKey(std::string_view rule_id, std::string_view deployment,
                     std::string_view metric) {
  std::string key;
  key.reserve(rule_id.size() + deployment.size() + metric.size() + 2);
  key.append(rule_id).push_back('\n');
  key.append(deployment).push_back('\n');
  key.append(metric);
  return key;
}

// One event to one webhook, with the attempt it is at.
struct Delivery {
  int64_t alert_id = 0;
  std::string rule_id;
  AlertState event = AlertState::kFiring;
  std::string url;
  std::shared_ptr<const std::string> body;
  int attempt = 1;
  std::chrono::steady_clock::time_point due;
  uint64_t seq = 0;  // FIFO among deliveries due at the same time
};

class AlertManagerImpl final : public AlertManager {
 public:
  AlertManagerImpl(sql::Database& db, const Clock& clock, IdGenerator& ids,
                   const WebhookOptions& options)
      : db_(db), clock_(clock), ids_(ids), options_(options) {
    options_.max_attempts = std::max(options_.max_attempts, 1);
    worker_ = std::thread([this] { DeliveryLoop(); });
  }
  ~AlertManagerImpl() override { Shutdown(); }

  // ------------------------------------------------------------ rules

  Result<AlertRule> CreateRule(const AlertRule& in) override {
    RETURN_IF_ERROR(ValidateAlertRule(in));
    AlertRule rule = in;
    rule.id = ids_.NewHexId();
    rule.creation_timestamp = rule.last_updated_timestamp = clock_.NowMillis();
    const std::string hooks = WebhooksJson(rule.webhooks);
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      return StatusOf(c.Execute(
          "INSERT INTO alert_rules (rule_id, name, deployment, metric, op, threshold, "
          "for_windows, webhooks_json, enabled, creation_time, last_updated_time) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {std::string_view(rule.id), std::string_view(rule.name),
           std::string_view(rule.deployment), std::string_view(rule.metric), CompareOpName(rule.op),
           rule.threshold, int64_t{rule.for_windows}, std::string_view(hooks),
           int64_t{rule.enabled ? 1 : 0}, rule.creation_timestamp, rule.last_updated_timestamp}));
    }));
    return rule;
  }

  Result<AlertRule> GetRule(std::string_view id) override {
    std::optional<AlertRule> rule;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(rule, FindRule(c, id));
      return Status::Ok();
    }));
    if (!rule) return Err(NotFound(fmt::format("Alert rule '{}' not found", id)));
    return std::move(*rule);
  }

  Result<std::vector<AlertRule>> ListRules() override {
    std::vector<AlertRule> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(
          out, QueryRules(c, std::string(kRuleColumns) + " ORDER BY creation_time, rule_id"));
      return Status::Ok();
    }));
    return out;
  }

  Result<AlertRule> UpdateRule(const AlertRuleUpdate& u) override {
    AlertRule result;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(std::optional<AlertRule> found, FindRule(c, u.id, /*for_update=*/true));
      if (!found) return NotFound(fmt::format("Alert rule '{}' not found", u.id));
      AlertRule rule = std::move(*found);
      if (u.name) rule.name = *u.name;
      if (u.deployment) rule.deployment = *u.deployment;
      if (u.metric) rule.metric = *u.metric;
      if (u.op) rule.op = *u.op;
      if (u.threshold) rule.threshold = *u.threshold;
      if (u.for_windows) rule.for_windows = *u.for_windows;
      if (u.webhooks) rule.webhooks = *u.webhooks;
      if (u.enabled) rule.enabled = *u.enabled;
      RETURN_IF_ERROR(ValidateAlertRule(rule));
      rule.last_updated_timestamp = clock_.NowMillis();
      const std::string hooks = WebhooksJson(rule.webhooks);
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE alert_rules SET name = ?, deployment = ?, metric = ?, op = ?, threshold = ?, "
          "for_windows = ?, webhooks_json = ?, enabled = ?, last_updated_time = ? "
          "WHERE rule_id = ?",
          {std::string_view(rule.name), std::string_view(rule.deployment),
           std::string_view(rule.metric), CompareOpName(rule.op), rule.threshold,
           int64_t{rule.for_windows}, std::string_view(hooks), int64_t{rule.enabled ? 1 : 0},
           rule.last_updated_timestamp, std::string_view(rule.id)})));
      result = std::move(rule);
      return Status::Ok();
    }));
    return result;
  }

  Status DeleteRule(std::string_view id) override {
    return db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      ASSIGN_OR_RETURN(int64_t n, c.Execute("DELETE FROM alert_rules WHERE rule_id = ?", {id}));
      if (n == 0) return NotFound(fmt::format("Alert rule '{}' not found", id));
      return Status::Ok();
    });
  }

  // ------------------------------------------------------------ queries

  Result<std::vector<Alert>> ListAlerts(const AlertFilter& f) override {
    RETURN_IF_ERROR(CheckMaxResults(f.max_results));
    std::string q(kAlertColumns);
    std::vector<sql::Param> params;
    std::vector<std::string_view> where;
    if (!f.deployment.empty()) {
      where.push_back("deployment = ?");
      params.emplace_back(std::string_view(f.deployment));
    }
    if (f.state) {
      where.push_back("state = ?");
      params.emplace_back(AlertStateName(*f.state));
    }
    if (!f.rule_id.empty()) {
      where.push_back("rule_id = ?");
      params.emplace_back(std::string_view(f.rule_id));
    }
    for (size_t i = 0; i < where.size(); ++i) {
      q += i == 0 ? " WHERE " : " AND ";
      q += where[i];
    }
    q += " ORDER BY last_seen DESC, alert_id DESC LIMIT ?";
    params.emplace_back(int64_t{f.max_results});
    std::vector<Alert> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      out.clear();
      return c.Query(q, params, [&](const sql::Row& r) { out.push_back(ReadAlert(r)); });
    }));
    return out;
  }

  Result<std::vector<DeliveryAttempt>> ListDeliveries(const DeliveryFilter& f) override {
    RETURN_IF_ERROR(CheckMaxResults(f.max_results));
    std::string q =
        "SELECT delivery_id, alert_id, rule_id, url, event, attempt, status_code, error, success, "
        "final, timestamp FROM alert_deliveries";
    std::vector<sql::Param> params;
    if (f.alert_id != 0) {
      q += " WHERE alert_id = ?";
      params.emplace_back(f.alert_id);
    }
    if (!f.rule_id.empty()) {
      q += params.empty() ? " WHERE rule_id = ?" : " AND rule_id = ?";
      params.emplace_back(std::string_view(f.rule_id));
    }
    q += " ORDER BY delivery_id DESC LIMIT ?";
    params.emplace_back(int64_t{f.max_results});
    std::vector<DeliveryAttempt> out;
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kRead, [&](sql::Connection& c) -> Status {
      out.clear();
      return c.Query(q, params, [&](const sql::Row& r) {
        DeliveryAttempt d;
        d.id = r.GetInt(0);
        d.alert_id = r.GetInt(1);
        d.rule_id = std::string(r.GetText(2));
        d.url = std::string(r.GetText(3));
        d.event = ParseAlertState(r.GetText(4)).value_or(AlertState::kFiring);
        d.attempt = static_cast<int>(r.GetInt(5));
        d.status_code = static_cast<int>(r.GetInt(6));
        d.error = std::string(r.GetText(7));
        d.success = r.GetInt(8) != 0;
        d.final = r.GetInt(9) != 0;
        d.timestamp_ms = r.GetInt(10);
        out.push_back(std::move(d));
      });
    }));
    return out;
  }

  void AddListener(AlertListener* listener) override {
    std::lock_guard lock(listeners_mu_);
    listeners_.push_back(listener);
  }
  void RemoveListener(AlertListener* listener) override {
    std::lock_guard lock(listeners_mu_);
    std::erase(listeners_, listener);
  }

  // ------------------------------------------------------------ evaluation

  void Observe(std::span<const MetricPoint> points) override {
    if (Status s = Evaluate(points); !s.ok()) {
      log::Warn("alerts: evaluating {} window metrics failed: {}", points.size(), s.ToString());
    }
  }

  Status Evaluate(std::span<const MetricPoint> points) override {
    // One evaluation at a time: streaks_ and the firing transitions are
    // read-modify-write.
    std::lock_guard eval_lock(eval_mu_);
    std::vector<std::pair<AlertEvent, std::vector<std::string>>> events;
    std::unordered_map<std::string, int> streaks;  // changed streaks, applied on commit
    const int64_t now = clock_.NowMillis();
    RETURN_IF_ERROR(db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      events.clear();
      streaks.clear();
      ASSIGN_OR_RETURN(std::vector<AlertRule> rules,
                       QueryRules(c, std::string(kRuleColumns) + " WHERE enabled = 1"));
      if (rules.empty()) return Status::Ok();
      std::unordered_map<std::string, int64_t> firing;
      RETURN_IF_ERROR(
          c.Query("SELECT rule_id, deployment, metric, alert_id FROM alerts WHERE state = 'firing'",
                  {}, [&](const sql::Row& r) {
                    firing[AlertKey(r.GetText(0), r.GetText(1), r.GetText(2))] = r.GetInt(3);
                  }));
      for (const MetricPoint& p : points) {
        if (std::isnan(p.value)) continue;
        for (const AlertRule& rule : rules) {
          if (!rule.deployment.empty() && rule.deployment != p.deployment) continue;
          if (!MetricMatches(rule.metric, p.metric)) continue;
          const std::string key = AlertKey(rule.id, p.deployment, p.metric);
          auto it = streaks.find(key);
          int streak = it != streaks.end() ? it->second : StreakOf(key);
          const bool holds = Compare(p.value, rule.op, rule.threshold);
          streak = holds ? std::min(streak + 1, kMaxForWindows) : 0;
          streaks[key] = streak;
          const bool is_firing = firing.contains(key);
          // A firing alert (maybe from before a restart) stays firing while
          // the condition holds, whatever the streak.
          if (holds && (is_firing || streak >= rule.for_windows)) {
            ASSIGN_OR_RETURN(std::optional<Alert> fired, Fire(c, rule, p, now, is_firing));
            if (fired) {
              firing[key] = fired->id;
              events.push_back(
                  {AlertEvent{AlertState::kFiring, std::move(*fired), now}, rule.webhooks});
            }
          } else if (!holds && is_firing) {
            ASSIGN_OR_RETURN(std::optional<Alert> resolved, Resolve(c, rule, p, now));
            firing.erase(key);
            if (resolved) {
              events.push_back(
                  {AlertEvent{AlertState::kResolved, std::move(*resolved), now}, rule.webhooks});
            }
          }
        }
      }
      return Status::Ok();
    }));
    for (auto& [key, streak] : streaks) {
      if (streak == 0) {
        streaks_.erase(key);
      } else {
        streaks_[key] = streak;
      }
    }
    for (auto& [event, webhooks] : events) Publish(event, webhooks);
    return Status::Ok();
  }

  // ------------------------------------------------------------ delivery

  bool WaitForDeliveries(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(queue_mu_);
    return idle_cv_.wait_for(lock, timeout,
                             [&] { return stopping_ || (queue_.empty() && in_flight_ == 0); });
  }

  void Shutdown() override {
    {
      std::lock_guard lock(queue_mu_);
      if (stopping_ && !worker_.joinable()) return;
      stopping_ = true;
    }
    queue_cv_.notify_all();
    idle_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    std::lock_guard lock(queue_mu_);
    if (!queue_.empty()) {
      log::Warn("alerts: {} webhook deliveries dropped at shutdown", queue_.size());
      queue_.clear();
    }
  }

 private:
  static Status CheckMaxResults(int max_results) {
    if (max_results < 1 || max_results > kAlertsMaxResults) {
      return InvalidArgument(fmt::format(
          "Invalid value for 'max_results': must be between 1 and {}", kAlertsMaxResults));
    }
    return Status::Ok();
  }

  int StreakOf(const std::string& key) const {
    auto it = streaks_.find(key);
    return it == streaks_.end() ? 0 : it->second;
  }

  static Result<std::vector<AlertRule>> QueryRules(sql::Connection& c, const std::string& q,
                                                   std::initializer_list<sql::Param> params = {}) {
    std::vector<AlertRule> out;
    Status bad;
    RETURN_IF_ERROR(c.Query(q, params, [&](const sql::Row& r) {
      auto rule = ReadRule(r);
      if (rule) {
        out.push_back(std::move(*rule));
      } else if (bad.ok()) {
        bad = rule.error();
      }
    }));
    RETURN_IF_ERROR(bad);
    return out;
  }

  static Result<std::optional<AlertRule>> FindRule(sql::Connection& c, std::string_view id,
                                                   bool for_update = false) {
    std::string q = std::string(kRuleColumns) + " WHERE rule_id = ?";
    if (for_update && c.backend() == sql::Backend::kPostgres) q += " FOR UPDATE";
    ASSIGN_OR_RETURN(std::vector<AlertRule> rules, QueryRules(c, q, {id}));
    if (rules.empty()) return std::optional<AlertRule>();
    return std::optional<AlertRule>(std::move(rules.front()));
  }

  // Stores the alert as firing. Returns it when it was not firing before (a
  // notification is due), nullopt when it only got a new value.
  static Result<std::optional<Alert>> Fire(sql::Connection& c, const AlertRule& rule,
                                           const MetricPoint& p, int64_t now, bool was_firing) {
    if (was_firing) {
      RETURN_IF_ERROR(StatusOf(c.Execute(
          "UPDATE alerts SET rule_name = ?, op = ?, threshold = ?, value = ?, window_start = ?, "
          "window_end = ?, last_seen = ? WHERE rule_id = ? AND deployment = ? AND metric = ?",
          {std::string_view(rule.name), CompareOpName(rule.op), rule.threshold, p.value,
           p.window_start_ms, p.window_end_ms, now, std::string_view(rule.id),
           std::string_view(p.deployment), std::string_view(p.metric)})));
      return std::optional<Alert>();
    }
    // The WHERE makes the transition happen once even when two evaluations
    // race on PostgreSQL: only the one that flips the state gets a row back.
    std::optional<Alert> fired;
    RETURN_IF_ERROR(c.Query(
        "INSERT INTO alerts (rule_id, rule_name, deployment, metric, state, op, threshold, value, "
        "window_start, window_end, first_seen, last_seen, resolved_time) "
        "VALUES (?, ?, ?, ?, 'firing', ?, ?, ?, ?, ?, ?, ?, 0) "
        "ON CONFLICT (rule_id, deployment, metric) DO UPDATE SET state = 'firing', "
        "rule_name = excluded.rule_name, op = excluded.op, threshold = excluded.threshold, "
        "value = excluded.value, window_start = excluded.window_start, "
        "window_end = excluded.window_end, first_seen = excluded.first_seen, "
        "last_seen = excluded.last_seen, resolved_time = 0 WHERE alerts.state <> 'firing' "
        "RETURNING alert_id",
        {std::string_view(rule.id), std::string_view(rule.name), std::string_view(p.deployment),
         std::string_view(p.metric), CompareOpName(rule.op), rule.threshold, p.value,
         p.window_start_ms, p.window_end_ms, now, now},
        [&](const sql::Row& r) {
          Alert a;
          a.id = r.GetInt(0);
          a.rule_id = rule.id;
          a.rule_name = rule.name;
          a.deployment = p.deployment;
          a.metric = p.metric;
          a.state = AlertState::kFiring;
          a.op = rule.op;
          a.threshold = rule.threshold;
          a.value = p.value;
          a.window_start_ms = p.window_start_ms;
          a.window_end_ms = p.window_end_ms;
          a.first_seen_ms = a.last_seen_ms = now;
          fired = std::move(a);
        }));
    return fired;
  }

  // Marks a firing alert resolved; returns it (with the resolving window's
  // value) when this call made the transition.
  static Result<std::optional<Alert>> Resolve(sql::Connection& c, const AlertRule& rule,
                                              const MetricPoint& p, int64_t now) {
    std::optional<Alert> resolved;
    RETURN_IF_ERROR(c.Query(
        "UPDATE alerts SET state = 'resolved', value = ?, window_start = ?, window_end = ?, "
        "resolved_time = ? WHERE rule_id = ? AND deployment = ? AND metric = ? "
        "AND state = 'firing' RETURNING alert_id, rule_id, rule_name, deployment, metric, state, "
        "op, threshold, value, window_start, window_end, first_seen, last_seen, resolved_time",
        {p.value, p.window_start_ms, p.window_end_ms, now, std::string_view(rule.id),
         std::string_view(p.deployment), std::string_view(p.metric)},
        [&](const sql::Row& r) { resolved = ReadAlert(r); }));
    return resolved;
  }

  void Publish(const AlertEvent& event, const std::vector<std::string>& webhooks) {
    {
      std::lock_guard lock(listeners_mu_);
      for (AlertListener* l : listeners_) l->OnAlert(event);
    }
    if (webhooks.empty()) return;
    auto body = std::make_shared<const std::string>(AlertEventToJson(event));
    std::lock_guard lock(queue_mu_);
    for (const std::string& url : webhooks) {
      if (stopping_ || queue_.size() >= options_.max_queue) {
        log::Warn("alerts: delivery queue full; dropped {} event of alert {} for {}",
                  AlertStateName(event.state), event.alert.id, url);
        continue;
      }
      queue_.push_back(Delivery{.alert_id = event.alert.id,
                                .rule_id = event.alert.rule_id,
                                .event = event.state,
                                .url = url,
                                .body = body,
                                .attempt = 1,
                                .due = std::chrono::steady_clock::now(),
                                .seq = next_seq_++});
    }
    queue_cv_.notify_one();
  }

  std::chrono::milliseconds Backoff(int failed_attempt) const {
    auto wait = options_.base_backoff;
    for (int i = 1; i < failed_attempt && wait < options_.max_backoff; ++i) wait *= 2;
    return std::min(wait, options_.max_backoff);
  }

  void DeliveryLoop() {
    std::unique_lock lock(queue_mu_);
    while (!stopping_) {
      if (queue_.empty()) {
        if (in_flight_ == 0) idle_cv_.notify_all();
        queue_cv_.wait(lock);
        continue;
      }
      auto next = std::min_element(queue_.begin(), queue_.end(), [](const auto& a, const auto& b) {
        return a.due != b.due ? a.due < b.due : a.seq < b.seq;
      });
      if (next->due > std::chrono::steady_clock::now()) {
        queue_cv_.wait_until(lock, next->due);
        continue;
      }
      Delivery d = std::move(*next);
      queue_.erase(next);
      ++in_flight_;
      lock.unlock();
      const bool again = Attempt(d);
      lock.lock();
      --in_flight_;
      if (again && !stopping_) {
        d.due = std::chrono::steady_clock::now() + Backoff(d.attempt);
        ++d.attempt;
        d.seq = next_seq_++;
        queue_.push_back(std::move(d));
      }
      if (queue_.empty() && in_flight_ == 0) idle_cv_.notify_all();
    }
  }

  // One POST; logs the attempt. Returns true when another attempt is due.
  bool Attempt(const Delivery& d) {
    DeliveryAttempt a;
    a.alert_id = d.alert_id;
    a.rule_id = d.rule_id;
    a.url = d.url;
    a.event = d.event;
    a.attempt = d.attempt;
    auto url = ParseWebhookUrl(d.url, "webhooks");
    if (!url) {
      a.error = url.error().message();
      a.final = true;  // a malformed URL never gets better
    } else {
      http::Client client(url->host, url->port, options_.timeout);
      auto response = client.PostJson(url->target, *d.body);
      if (!response) {
        a.error = response.error().message();
      } else {
        a.status_code = response->status;
        a.success = response->status >= 200 && response->status < 300;
        if (!a.success) a.error = fmt::format("HTTP {}", response->status);
      }
      a.final = a.success || d.attempt >= options_.max_attempts;
    }
    a.timestamp_ms = clock_.NowMillis();
    Status s = db_.Transact(sql::TxMode::kWrite, [&](sql::Connection& c) -> Status {
      return StatusOf(c.Execute(
          "INSERT INTO alert_deliveries (alert_id, rule_id, url, event, attempt, status_code, "
          "error, success, final, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {a.alert_id, std::string_view(a.rule_id), std::string_view(a.url),
           AlertStateName(a.event), int64_t{a.attempt}, int64_t{a.status_code},
           std::string_view(a.error), int64_t{a.success ? 1 : 0}, int64_t{a.final ? 1 : 0},
           a.timestamp_ms}));
    });
    if (!s.ok()) log::Warn("alerts: cannot record a webhook delivery: {}", s.ToString());
    if (!a.success && a.final) {
      log::Warn("alerts: gave up delivering alert {} to {} after {} attempts: {}", a.alert_id,
                a.url, a.attempt, a.error);
    }
    return !a.final;
  }

  sql::Database& db_;
  const Clock& clock_;
  IdGenerator& ids_;
  WebhookOptions options_;

  std::mutex eval_mu_;  // serializes Evaluate; guards streaks_
  std::unordered_map<std::string, int> streaks_;

  std::mutex listeners_mu_;  // guards listeners_
  std::vector<AlertListener*> listeners_;

  std::mutex queue_mu_;               // guards the delivery queue and its flags
  std::condition_variable queue_cv_;  // work arrived or stop
  std::condition_variable idle_cv_;   // queue drained
  std::vector<Delivery> queue_;
  uint64_t next_seq_ = 0;
  int in_flight_ = 0;
  bool stopping_ = false;
  std::thread worker_;  // stopped and joined by Shutdown
};

}  // namespace

std::string_view CompareOpName(CompareOp op) {
  switch (op) {
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
  }
  return ">";
}

Result<CompareOp> ParseCompareOp(std::string_view text, std::string_view field) {
  if (text == ">" || text == "gt") return CompareOp::kGt;
  if (text == ">=" || text == "ge") return CompareOp::kGe;
  if (text == "<" || text == "lt") return CompareOp::kLt;
  if (text == "<=" || text == "le") return CompareOp::kLe;
  return Err(InvalidArgument(
      fmt::format("Invalid value '{}' for '{}': expected one of >, >=, <, <= (or gt, ge, lt, le)",
                  text, field)));
}

bool Compare(double value, CompareOp op, double threshold) {
  switch (op) {
    case CompareOp::kGt:
      return value > threshold;
    case CompareOp::kGe:
      return value >= threshold;
    case CompareOp::kLt:
      return value < threshold;
    case CompareOp::kLe:
      return value <= threshold;
  }
  return false;
}

bool MetricMatches(std::string_view pattern, std::string_view metric) {
  if (pattern.ends_with(".*")) {
    pattern.remove_suffix(1);  // keep the '.'
    return metric.size() > pattern.size() && metric.starts_with(pattern);
  }
  return pattern == metric;
}

std::string_view AlertStateName(AlertState s) {
  return s == AlertState::kFiring ? "firing" : "resolved";
}

Result<AlertState> ParseAlertState(std::string_view text) {
  if (text == "firing" || text == "FIRING") return AlertState::kFiring;
  if (text == "resolved" || text == "RESOLVED") return AlertState::kResolved;
  return Err(InvalidArgument(
      fmt::format("Invalid value '{}' for 'state': expected firing or resolved", text)));
}

Status ValidateAlertRule(const AlertRule& rule) {
  if (rule.name.empty()) return InvalidArgument("Missing value for 'name'");
  if (rule.name.size() > kMaxNameBytes) {
    return InvalidArgument(fmt::format("'name' is longer than {} bytes", kMaxNameBytes));
  }
  if (rule.deployment.size() > kMaxNameBytes) {
    return InvalidArgument(fmt::format("'deployment' is longer than {} bytes", kMaxNameBytes));
  }
  if (rule.metric.empty()) return InvalidArgument("Missing value for 'metric'");
  if (rule.metric.size() > kMaxNameBytes) {
    return InvalidArgument(fmt::format("'metric' is longer than {} bytes", kMaxNameBytes));
  }
  const size_t star = rule.metric.find('*');
  if (star != std::string::npos &&
      (star + 1 != rule.metric.size() || !rule.metric.ends_with(".*") || rule.metric.size() < 3)) {
    return InvalidArgument(fmt::format(
        "Invalid value '{}' for 'metric': a wildcard is only allowed as a trailing '.*' after a "
        "prefix (e.g. feature_drift.*)",
        rule.metric));
  }
  if (!std::isfinite(rule.threshold)) {
    return InvalidArgument("Invalid value for 'threshold': must be a finite number");
  }
  if (rule.for_windows < 1 || rule.for_windows > kMaxForWindows) {
    return InvalidArgument(
        fmt::format("Invalid value {} for 'for_windows': must be between 1 and {}",
                    rule.for_windows, kMaxForWindows));
  }
  if (rule.webhooks.size() > kMaxWebhooks) {
    return InvalidArgument(fmt::format("'webhooks' holds more than {} URLs", kMaxWebhooks));
  }
  for (size_t i = 0; i < rule.webhooks.size(); ++i) {
    RETURN_IF_ERROR(StatusOf(ParseWebhookUrl(rule.webhooks[i], fmt::format("webhooks[{}]", i))));
  }
  return Status::Ok();
}

void WriteAlertJson(json::Writer& w, const Alert& a) {
  w.StartObject()
      .Field("id", std::to_string(a.id))
      .Field("rule_id", a.rule_id)
      .Field("rule_name", a.rule_name)
      .Field("deployment", a.deployment)
      .Field("metric", a.metric)
      .Field("state", AlertStateName(a.state))
      .Field("op", CompareOpName(a.op))
      .Field("threshold", a.threshold)
      .Field("value", a.value)
      .Field("window_start", a.window_start_ms)
      .Field("window_end", a.window_end_ms)
      .Field("first_seen", a.first_seen_ms)
      .Field("last_seen", a.last_seen_ms);
  if (a.resolved_ms != 0) w.Field("resolved_time", a.resolved_ms);
  w.EndObject();
}

std::string AlertEventToJson(const AlertEvent& event) {
  json::Writer w;
  w.StartObject()
      .Field("status", AlertStateName(event.state))
      .Field("timestamp", event.timestamp_ms)
      .Key("alert");
  WriteAlertJson(w, event.alert);
  return w.EndObject().Take();
}

Status ApplyAlertMigrations(sql::Database& db) { return db.Migrate("alerts", kMigrations); }

Result<std::unique_ptr<AlertManager>> AlertManager::Open(sql::Database& db, const Clock& clock,
                                                         IdGenerator& ids,
                                                         const WebhookOptions& options) {
  RETURN_IF_ERROR(ApplyAlertMigrations(db));
  return std::unique_ptr<AlertManager>(std::make_unique<AlertManagerImpl>(db, clock, ids, options));
}

}  // namespace mlforge::monitor

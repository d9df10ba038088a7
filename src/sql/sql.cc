// Database::Open (URI dispatch), RedactUri and helpers shared by the backends.
#include "sql/sql.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

#include "sql/internal.h"

namespace mlforge::sql {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(std::string_view uri,
                                                 const DatabaseOptions& options) {
  if (options.pool_size < 1 || options.busy_timeout_ms < 0 || options.max_retries < 0 ||
      options.statement_cache_size < 1) {
    return Err(
        InvalidArgument("database options: pool_size and statement_cache_size must be >= 1, "
                        "busy_timeout_ms and max_retries >= 0"));
  }
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos) {
    return Err(InvalidArgument("unsupported database URI '" + RedactUri(uri) +
                               "': expected sqlite:///path or postgresql://..."));
  }
  std::string scheme = Lower(uri.substr(0, sep));
  // SQLAlchemy spells the driver into the scheme: postgresql+psycopg2://.
  if (size_t plus = scheme.find('+'); plus != std::string::npos) scheme.resize(plus);
  std::string_view rest = uri.substr(sep + 3);

  if (scheme == "sqlite") {
    // SQLAlchemy's layout: sqlite:// (memory), sqlite:///relative, sqlite:////absolute.
    if (rest.empty()) return internal::OpenSqlite(":memory:", options);
    if (rest.front() != '/') {
      return Err(InvalidArgument("SQLite URI '" + std::string(uri) +
                                 "' has a host part; write sqlite:///relative/path or "
                                 "sqlite:////absolute/path"));
    }
    std::string path(rest.substr(1));
    if (path.empty()) path = ":memory:";
    return internal::OpenSqlite(path, options);
  }
  if (scheme == "postgresql" || scheme == "postgres") {
    return internal::OpenPostgres("postgresql://" + std::string(rest), options);
  }
  return Err(InvalidArgument("unsupported database URI scheme '" + scheme +
                             "': expected sqlite or postgresql"));
}

std::string RedactUri(std::string_view uri) {
  std::string out(uri);
  size_t sep = out.find("://");
  if (sep != std::string::npos) {
    size_t start = sep + 3;
    // The userinfo ends at the last '@' before the query: a password may hold
    // an unescaped '@' or '/', a query rarely holds '@'.
    size_t query = out.find('?', start);
    size_t end = query == std::string::npos ? out.size() : query;
    size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // Also libpq's ?password=... and key=value "password=..." forms.
  for (size_t pos = 0; (pos = out.find("password=", pos)) != std::string::npos;) {
    bool at_key_start =
        pos == 0 || out[pos - 1] == '?' || out[pos - 1] == '&' || out[pos - 1] == ' ';
    size_t value = pos + 9;
    if (!at_key_start) {
      pos = value;
      continue;
    }
    size_t value_end = out.find_first_of("& ", value);
    if (value_end == std::string::npos) value_end = out.size();
    out.replace(value, value_end - value, "***");
    pos = value + 3;
  }
  return out;
}

namespace internal {

RewrittenSql RewritePlaceholders(std::string_view sql) {
  RewrittenSql out;
  out.sql.reserve(sql.size() + 16);
  auto is_ident = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
  };
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    char c = sql[i];
    if (c == '\'') {
      // E'...' strings take backslash escapes; '' is a quote in both kinds.
      bool escapes =
          i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !is_ident(sql[i - 2]));
      size_t j = i + 1;
      while (j < n) {
        if (escapes && sql[j] == '\\') {
          j += 2;
        } else if (sql[j] == '\'') {
          if (j + 1 < n && sql[j + 1] == '\'') {
            j += 2;
          } else {
            break;
          }
        } else {
          ++j;
        }
      }
      j = std::min(j + 1, n);
      out.sql.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '"') {
      size_t j = sql.find('"', i + 1);
      j = j == std::string_view::npos ? n : j + 1;
      out.sql.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      size_t j = sql.find('\n', i);
      j = j == std::string_view::npos ? n : j + 1;
      out.sql.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      // PostgreSQL block comments nest.
      int depth = 1;
      size_t j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] == '/' && j + 1 < n && sql[j + 1] == '*') {
          ++depth;
          j += 2;
        } else if (sql[j] == '*' && j + 1 < n && sql[j + 1] == '/') {
          --depth;
          j += 2;
        } else {
          ++j;
        }
      }
      out.sql.append(sql.substr(i, j - i));
      i = j;
    } else if (c == '$' && (i == 0 || !is_ident(sql[i - 1]))) {
      // $tag$ ... $tag$ (tag may be empty); a lone $1 is a parameter, not a quote.
      size_t j = i + 1;
      if (j < n && !std::isdigit(static_cast<unsigned char>(sql[j]))) {
        while (j < n && is_ident(sql[j])) ++j;
      }
      if (j < n && sql[j] == '$') {
        std::string_view tag = sql.substr(i, j - i + 1);
        size_t close = sql.find(tag, j + 1);
        size_t end = close == std::string_view::npos ? n : close + tag.size();
        out.sql.append(sql.substr(i, end - i));
        i = end;
      } else {
        out.sql.push_back(c);
        ++i;
      }
    } else if (c == '?') {
      out.sql.push_back('$');
      out.sql.append(std::to_string(++out.placeholders));
      ++i;
    } else {
      out.sql.push_back(c);
      ++i;
    }
  }
  return out;
}

double ParseDouble(std::string_view text) {
  if (text.empty()) return 0.0;
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity" || text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "t") return 1.0;
  if (text == "f") return 0.0;
  double v = 0.0;
  std::string_view digits = text.front() == '+' ? text.substr(1) : text;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves v alone on overflow/underflow; strtod's answer is right.
    return std::strtod(std::string(digits).c_str(), nullptr);
  }
  return ec == std::errc() ? v : 0.0;
}

int64_t ParseInt(std::string_view text) {
  if (text == "t") return 1;
  if (text == "f") return 0;
  int64_t v = 0;
  std::string_view digits = !text.empty() && text.front() == '+' ? text.substr(1) : text;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) return v;
  // "2.5", "1e3" (a float or numeric column): truncate, saturating.
  double d = ParseDouble(text);
  if (std::isnan(d)) return 0;
  if (d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

std::string FormatInt(int64_t v) {
  char buf[24];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, ptr);
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, ptr);
}

std::string SqlForMessage(std::string_view sql) {
  constexpr size_t kMax = 200;
  std::string out(sql.substr(0, kMax));
  std::replace(out.begin(), out.end(), '\n', ' ');
  if (sql.size() > kMax) out += "...";
  return out;
}

int64_t StableHash64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

Backoff::Backoff()
    : state_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             reinterpret_cast<uintptr_t>(this)) {}

void Backoff::Sleep(int attempt) {
  // splitmix64: jitter only, quality is irrelevant; keeps retrying threads apart.
  uint64_t z = state_.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  constexpr int64_t kBaseMicros = 2000;
  constexpr int64_t kCapMicros = 200000;
  int64_t delay = kBaseMicros << std::min(attempt, 10);
  delay = std::min(delay, kCapMicros);
  delay = delay / 2 + static_cast<int64_t>(z % static_cast<uint64_t>(delay));  // [d/2, 3d/2)
  std::this_thread::sleep_for(std::chrono::microseconds(delay));
}

namespace {
thread_local NestingGuard* current_transaction = nullptr;
}  // namespace

NestingGuard::NestingGuard(const Database* db) : db_(db), prev_(current_transaction) {
  for (NestingGuard* g = prev_; g != nullptr; g = g->prev_) {
    if (g->db_ == db_) nested_ = true;
  }
  current_transaction = this;
}

NestingGuard::~NestingGuard() { current_transaction = prev_; }

}  // namespace internal
}  // namespace mlforge::sql

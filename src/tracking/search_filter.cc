#include "tracking/search_filter.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

// Semantics follow MLflow 2.12 (mlflow/utils/search_utils.py and the SQL
// store), with these deliberate differences, all documented in the tests:
//  - run_name filters compare runs.name (MLflow <= 1.29 left that column empty
//    and so MLflow filters on the mlflow.runName tag; our column is always set).
//  - A NaN metric satisfies only '!=' (as MLflow's in-memory filter; its SQL
//    store compares the stored placeholder value instead).
//  - LIKE/ILIKE patterns have no escape character on either backend (MLflow on
//    SQLite; PostgreSQL's default would make '\' an escape), so results agree.
//  - PostgreSQL sorts text with COLLATE "C" so both backends order bytewise.
//  - Comparators and ASC/DESC are case-insensitive for experiments too.
//  - IN lists accept double-quoted strings; values are never unescaped (as
//    MLflow: 'a''b' means the three characters a''b), lists included.
namespace mlforge::tracking {
namespace {

constexpr size_t kMaxEchoedInput = 150;  // user text quoted in one message, bytes
constexpr size_t kMaxEchoedToken = 40;
// SQLite nests an AND chain one level per term; its depth limit is 1000.
constexpr size_t kMaxComparisons = 200;
constexpr size_t kMaxListValues = 10'000;
constexpr size_t kMaxOrderByKeys = 100;
constexpr std::string_view kDatasetContextTag = "mlflow.data.context";

// ---------------------------------------------------------------------------
// Characters and text helpers.

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Bytes >= 0x80 are parts of UTF-8 letters; MLflow's tokenizer accepts Unicode words.
bool IsHigh(char c) { return static_cast<unsigned char>(c) >= 0x80; }
bool IsWordStart(char c) { return IsAlpha(c) || c == '_' || IsHigh(c); }
bool IsWordChar(char c) { return IsWordStart(c) || IsDigit(c); }
bool IsBareKeyChar(char c) { return IsWordChar(c) || c == '.'; }
bool IsQuote(char c) { return c == '\'' || c == '"' || c == '`'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

// Cuts user text for a message, at a UTF-8 character boundary.
std::string Clip(std::string_view s, size_t max = kMaxEchoedToken) {
  if (s.size() <= max) return std::string(s);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

std::string Quoted(std::string_view s, size_t max = kMaxEchoedToken) {
  return "'" + Clip(s, max) + "'";
}

// ---------------------------------------------------------------------------
// Syntax tree.

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike, kIn, kNotIn };

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kLike:
      return "LIKE";
    case Op::kILike:
      return "ILIKE";
    case Op::kIn:
      return "IN";
    case Op::kNotIn:
      return "NOT IN";
  }
  return "?";
}

enum class ValueKind {
  kString,    // '...' or "..."
  kNumber,    // as MLflow's tokenizer: -?digits[.digits][e[-]digits]
  kList,      // ( 'a', 'b' ) after IN / NOT IN
  kBareWord,  // an unquoted word or `backticked` text: never a valid value
};

struct Value {
  ValueKind kind = ValueKind::kString;
  std::string text;               // string contents, or the value as written
  std::vector<std::string> list;  // kList
  size_t pos = 0;
};

struct Identifier {
  bool has_prefix = false;
  std::string prefix;  // "metrics", "tags", ... unquoted
  std::string key;     // unquoted
  size_t pos = 0;
};

struct Comparison {
  Identifier ident;
  Op op = Op::kEq;
  size_t op_pos = 0;
  Value value;
};

struct OrderTerm {
  Identifier ident;
  bool ascending = true;
};

// ---------------------------------------------------------------------------
// Parser: one pass over the text, positions are byte offsets into it.

class Parser {
 public:
  // `what` names the input in messages: "filter" or "order_by clause".
  Parser(std::string_view input, std::string_view what) : in_(input), what_(what) {}

  Result<std::vector<Comparison>> ParseFilter() {
    std::vector<Comparison> out;
    SkipSpace();
    if (AtEnd()) return out;
    while (true) {
      ASSIGN_OR_RETURN(Comparison c, ParseComparison());
      out.push_back(std::move(c));
      if (out.size() > kMaxComparisons) {
        return Err(InvalidArgument("Search filter has more than " +
                                   std::to_string(kMaxComparisons) + " comparisons"));
      }
      SkipSpace();
      if (AtEnd()) return out;
      std::string_view word = PeekWord();
      if (EqualsIgnoreCase(word, "AND")) {
        pos_ += word.size();
        SkipSpace();
        if (AtEnd()) return Err(Unexpected(pos_, "a comparison after AND"));
        continue;
      }
      if (EqualsIgnoreCase(word, "OR")) {
        return Err(Unexpected(pos_,
                              "AND or the end of the filter (OR is not supported: a filter is "
                              "a list of comparisons joined by AND)"));
      }
      return Err(Unexpected(pos_, "AND or the end of the filter"));
    }
  }

  Result<OrderTerm> ParseOrderBy() {
    OrderTerm term;
    SkipSpace();
    ASSIGN_OR_RETURN(term.ident, ParseIdentifier());
    SkipSpace();
    if (!AtEnd()) {
      if (!IsWordStart(Peek())) return Err(Unexpected(pos_, "ASC, DESC or the end of the clause"));
      std::string_view word = PeekWord();
      if (EqualsIgnoreCase(word, "ASC")) {
        term.ascending = true;
      } else if (EqualsIgnoreCase(word, "DESC")) {
        term.ascending = false;
      } else {
        return Err(InvalidArgument("Invalid ordering key " + Quoted(word) + " in order_by clause " +
                                   Quoted(in_, kMaxEchoedInput) + ": expected ASC or DESC"));
      }
      pos_ += word.size();
      SkipSpace();
      if (!AtEnd()) return Err(Unexpected(pos_, "the end of the clause"));
    }
    return term;
  }

 private:
  char Peek(size_t ahead = 0) const { return pos_ + ahead < in_.size() ? in_[pos_ + ahead] : '\0'; }
  bool AtEnd() const { return pos_ >= in_.size(); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(in_[pos_])) ++pos_;
  }
  // The word (letters, digits, '_') starting at pos_; may be empty.
  std::string_view PeekWord() const {
    size_t end = pos_;
    while (end < in_.size() && IsWordChar(in_[end])) ++end;
    return in_.substr(pos_, end - pos_);
  }

  // A quoted token starting at `start` as MLflow's tokenizer (sqlparse) reads
  // it: '' and \' and \\ do not end a '...' string ("" \" \\ for "..."), ``
  // does not end a `...` name. When nothing closes the token, the tokenizer's
  // regex backtracks into the last quote pair it took: '' then ends at its
  // first quote, \' at its quote. Returns one past the closing quote, or
  // nullopt if the token is unterminated.
  std::optional<size_t> QuotedEnd(size_t start) const {
    const char q = in_[start];
    std::optional<size_t> fallback;
    size_t i = start + 1;
    while (i < in_.size()) {
      const char c = in_[i];
      const char next = i + 1 < in_.size() ? in_[i + 1] : '\0';
      if (c == q) {
        if (next != q) return i + 1;
        fallback = i + 1;
        i += 2;
      } else if (c == '\\' && q != '`' && i + 1 < in_.size() && (next == '\\' || next == q)) {
        if (next == q) fallback = i + 2;
        i += 2;
      } else {
        ++i;
      }
    }
    return fallback;
  }

  // Reads a quoted token at pos_ and returns its contents as written: MLflow
  // strips the quotes and unescapes nothing.
  Result<std::string> ReadQuoted() {
    const size_t start = pos_;
    std::optional<size_t> end = QuotedEnd(start);
    if (!end) {
      return Err(Error("unterminated " + std::string(in_[start] == '`' ? "name" : "string") +
                       " starting at position " + std::to_string(start)));
    }
    pos_ = *end;
    return std::string(in_.substr(start + 1, *end - start - 2));
  }

  Result<Comparison> ParseComparison() {
    Comparison c;
    ASSIGN_OR_RETURN(c.ident, ParseIdentifier());
    SkipSpace();
    c.op_pos = pos_;
    ASSIGN_OR_RETURN(c.op, ParseOp());
    SkipSpace();
    ASSIGN_OR_RETURN(c.value, ParseValue(c.op));
    return c;
  }

  // identifier := (word | `quoted` | "quoted") [ "." (bare-key | `quoted` | "quoted") ]
  Result<Identifier> ParseIdentifier() {
    Identifier id;
    id.pos = pos_;
    std::string first;
    const char c = Peek();
    if (!AtEnd() && (c == '`' || c == '"')) {
      ASSIGN_OR_RETURN(first, ReadQuoted());
    } else if (!AtEnd() && IsWordStart(c)) {
      std::string_view word = PeekWord();
      first = std::string(word);
      pos_ += word.size();
    } else {
      return Err(Unexpected(pos_,
                            "an identifier such as metrics.<key>, params.<key>, tags.<key> or "
                            "attributes.<name>"));
    }
    if (Peek() != '.' || AtEnd()) {
      id.key = std::move(first);
      return id;
    }
    ++pos_;  // '.'
    id.has_prefix = true;
    id.prefix = std::move(first);
    const char k = Peek();
    if (!AtEnd() && (k == '`' || k == '"')) {
      ASSIGN_OR_RETURN(id.key, ReadQuoted());
    } else if (!AtEnd() && IsBareKeyChar(k)) {
      const size_t start = pos_;
      while (!AtEnd() && IsBareKeyChar(Peek())) ++pos_;
      id.key = std::string(in_.substr(start, pos_ - start));
    } else {
      return Err(Unexpected(pos_, "a key after " + Quoted(id.prefix + ".") +
                                      " (quote keys with spaces or symbols in backticks)"));
    }
    return id;
  }

  Result<Op> ParseOp() {
    const char c = Peek();
    const char n = Peek(1);
    if (!AtEnd()) {
      switch (c) {
        case '=':
          pos_ += 1;
          return Op::kEq;
        case '!':
          if (n == '=') {
            pos_ += 2;
            return Op::kNe;
          }
          break;
        case '<':
          if (n == '=') {
            pos_ += 2;
            return Op::kLe;
          }
          pos_ += 1;
          return Op::kLt;
        case '>':
          if (n == '=') {
            pos_ += 2;
            return Op::kGe;
          }
          pos_ += 1;
          return Op::kGt;
        default:
          break;
      }
      std::string_view word = PeekWord();
      if (!word.empty() && IsWordStart(c)) {
        if (EqualsIgnoreCase(word, "LIKE")) {
          pos_ += word.size();
          return Op::kLike;
        }
        if (EqualsIgnoreCase(word, "ILIKE")) {
          pos_ += word.size();
          return Op::kILike;
        }
        if (EqualsIgnoreCase(word, "IN")) {
          pos_ += word.size();
          return Op::kIn;
        }
        if (EqualsIgnoreCase(word, "NOT")) {
          pos_ += word.size();
          const size_t after_not = pos_;
          SkipSpace();
          std::string_view next = PeekWord();
          if (pos_ > after_not && EqualsIgnoreCase(next, "IN")) {
            pos_ += next.size();
            return Op::kNotIn;
          }
          return Err(Unexpected(pos_, "IN after NOT"));
        }
      }
    }
    return Err(
        Unexpected(pos_, "a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)"));
  }

  Result<Value> ParseValue(Op op) {
    Value v;
    v.pos = pos_;
    if (op == Op::kIn || op == Op::kNotIn) {
      if (Peek() != '(' || AtEnd()) {
        return Err(Unexpected(pos_, "'(' and a list of quoted strings"));
      }
      ++pos_;
      v.kind = ValueKind::kList;
      SkipSpace();
      if (Peek() == ')' && !AtEnd()) {
        return Err(InvalidArgument(
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got empty list (at position " +
            std::to_string(v.pos) + ")"));
      }
      while (true) {
        SkipSpace();
        if (AtEnd() || (Peek() != '\'' && Peek() != '"')) {
          return Err(Unexpected(pos_, "a quoted string in the list"));
        }
        ASSIGN_OR_RETURN(std::string item, ReadQuoted());
        v.list.push_back(std::move(item));
        if (v.list.size() > kMaxListValues) {
          return Err(InvalidArgument("A list in the search filter has more than " +
                                     std::to_string(kMaxListValues) + " values"));
        }
        SkipSpace();
        if (Peek() == ',' && !AtEnd()) {
          ++pos_;
          continue;
        }
        if (Peek() == ')' && !AtEnd()) {
          ++pos_;
          return v;
        }
        return Err(Unexpected(pos_, "',' or ')' in the list"));
      }
    }
    const char c = Peek();
    if (AtEnd()) return Err(Unexpected(pos_, "a number or a quoted string"));
    if (c == '\'' || c == '"') {
      v.kind = ValueKind::kString;
      ASSIGN_OR_RETURN(v.text, ReadQuoted());
      return v;
    }
    if (c == '`') {
      const size_t start = pos_;
      ASSIGN_OR_RETURN(std::string ignored, ReadQuoted());
      v.kind = ValueKind::kBareWord;
      v.text = std::string(in_.substr(start, pos_ - start));
      return v;
    }
    const bool number_start =
        IsDigit(c) || (c == '.' && IsDigit(Peek(1))) ||
        (c == '-' && (IsDigit(Peek(1)) || (Peek(1) == '.' && IsDigit(Peek(2)))));
    if (number_start) {
      return ParseNumber();
    }
    if (IsWordStart(c)) {  // e.g. `metrics.a = metrics.b`: reported by the compiler
      const size_t start = pos_;
      while (!AtEnd() && IsBareKeyChar(Peek())) ++pos_;
      v.kind = ValueKind::kBareWord;
      v.text = std::string(in_.substr(start, pos_ - start));
      return v;
    }
    return Err(Unexpected(pos_, "a number or a quoted string"));
  }

  // -?digits[.digits*] | -?.digits, then an optional exponent e[+-]digits.
  Result<Value> ParseNumber() {
    Value v;
    v.kind = ValueKind::kNumber;
    v.pos = pos_;
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    while (!AtEnd() && IsDigit(Peek())) ++pos_;
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      while (!AtEnd() && IsDigit(Peek())) ++pos_;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      size_t save = pos_;
      ++pos_;
      if (Peek() == '-' || Peek() == '+') ++pos_;
      if (!AtEnd() && IsDigit(Peek())) {
        while (!AtEnd() && IsDigit(Peek())) ++pos_;
      } else {
        pos_ = save;
      }
    }
    if (!AtEnd() && (IsWordChar(Peek()) || Peek() == '.')) {
      size_t end = pos_;
      while (end < in_.size() && (IsWordChar(in_[end]) || in_[end] == '.')) ++end;
      return Err(Error("invalid number " + Quoted(in_.substr(start, end - start)) +
                       " at position " + std::to_string(start)));
    }
    v.text = std::string(in_.substr(start, pos_ - start));
    return v;
  }

  // What the user wrote at pos, for messages.
  std::string DescribeToken(size_t pos) const {
    if (pos >= in_.size()) return "end of input";
    const char c = in_[pos];
    if (IsSpace(c)) return "whitespace";
    if (IsWordChar(c)) {
      size_t end = pos;
      while (end < in_.size() && IsWordChar(in_[end])) ++end;
      return "token " + Quoted(in_.substr(pos, end - pos));
    }
    if (IsQuote(c)) {
      std::optional<size_t> end = QuotedEnd(pos);
      return "token " + Quoted(in_.substr(pos, end ? *end - pos : in_.size() - pos));
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "character 0x%02X", u);
      return buf;
    }
    std::string_view two = in_.substr(pos, 2);
    if (two == "!=" || two == "<=" || two == ">=" || two == "<>") return "token " + Quoted(two);
    return "token " + Quoted(in_.substr(pos, 1));
  }

  Status Error(std::string detail) const {
    return InvalidArgument("Error on parsing " + std::string(what_) + " " +
                           Quoted(in_, kMaxEchoedInput) + ": " + detail);
  }

  Status Unexpected(size_t pos, std::string_view expected) const {
    return Error("unexpected " + DescribeToken(pos) + " at position " + std::to_string(pos) +
                 "; expected " + std::string(expected));
  }

  std::string_view in_;
  std::string_view what_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Values.

std::string At(size_t pos) { return " (at position " + std::to_string(pos) + ")"; }

Result<double> ToDouble(const Value& v) {
  double d = 0;
  const char* first = v.text.data();
  const char* last = first + v.text.size();
  auto [ptr, ec] = std::from_chars(first, last, d, std::chars_format::general);
  if (ec != std::errc() || ptr != last) {
    return Err(InvalidArgument("Numeric value " + Quoted(v.text) + " is out of range" + At(v.pos)));
  }
  return d;
}

// An integer literal that fits int64 binds as such; anything else as a double.
Result<SqlValue> ToNumber(const Value& v) {
  if (v.text.find_first_of(".eE") == std::string::npos) {
    int64_t i = 0;
    const char* first = v.text.data();
    const char* last = first + v.text.size();
    auto [ptr, ec] = std::from_chars(first, last, i);
    if (ec == std::errc() && ptr == last) return SqlValue(i);
  }
  ASSIGN_OR_RETURN(double d, ToDouble(v));
  return SqlValue(d);
}

// ---------------------------------------------------------------------------
// SQL assembly.

// Accumulates SQL text (our constants only) and the bound values.
class SqlBuilder {
 public:
  explicit SqlBuilder(sql::Backend backend) : backend_(backend) {}

  sql::Backend backend() const { return backend_; }
  SqlBuilder& operator<<(std::string_view text) {
    sql_ += text;
    return *this;
  }
  void Bind(SqlValue value) {
    sql_ += '?';
    params_.push_back(std::move(value));
  }
  // A numeric parameter compared with an integer column: a non-integral
  // value is cast so the comparison is made in double precision on both
  // backends, whatever type the driver gives the parameter.
  void BindNumber(SqlValue value) {
    if (std::holds_alternative<double>(value)) {
      sql_ += "CAST(? AS DOUBLE PRECISION)";
      params_.push_back(std::move(value));
    } else {
      Bind(std::move(value));
    }
  }
  // A fresh table alias for a subquery: prefix + sequence number.
  std::string Alias(std::string_view prefix) {
    return std::string(prefix) + std::to_string(next_alias_++);
  }
  bool empty() const { return sql_.empty(); }
  SqlFragment Take() { return SqlFragment{std::move(sql_), std::move(params_)}; }

 private:
  sql::Backend backend_;
  std::string sql_;
  std::vector<SqlValue> params_;
  int next_alias_ = 0;
};

// The LEFT JOINs of a runs query: one per (table, key) that the filter or the
// order_by names, shared by both. (run_uuid, key) is unique in latest_metrics,
// params and tags, so each join adds at most one row per run, and one index
// probe per run replaces a correlated subquery per use.
class RunJoins {
 public:
  explicit RunJoins(sql::Backend backend) : b_(backend) {}

  // The alias of the joined row of `table` for `key` (NULL columns when the
  // run has none).
  std::string AliasFor(std::string_view table, const std::string& key) {
    auto [it, inserted] = aliases_.try_emplace({std::string(table), key});
    if (inserted) {
      it->second = "k" + std::to_string(aliases_.size() - 1);
      const std::string& a = it->second;
      b_ << " LEFT JOIN " << table << " " << a << " ON " << a << ".run_uuid = r.run_uuid AND " << a
         << ".key = ";
      b_.Bind(key);
    }
    return it->second;
  }
  SqlFragment Take() { return b_.Take(); }

 private:
  SqlBuilder b_;
  std::map<std::pair<std::string, std::string>, std::string> aliases_;
};

// `column <op> value` for a text column; LIKE is case-sensitive on both
// backends (SQLite connections run with case_sensitive_like=ON).
void AppendStringCompare(SqlBuilder& b, std::string_view column, Op op, const Value& v) {
  const bool pg = b.backend() == sql::Backend::kPostgres;
  switch (op) {
    case Op::kEq:
      b << column << " = ";
      b.Bind(v.text);
      return;
    case Op::kNe:
      b << column << " <> ";
      b.Bind(v.text);
      return;
    case Op::kLike:
      b << column << " LIKE ";
      b.Bind(v.text);
      if (pg) b << " ESCAPE ''";
      return;
    case Op::kILike:
      if (pg) {
        b << column << " ILIKE ";
        b.Bind(v.text);
        b << " ESCAPE ''";
      } else {
        b << "LOWER(" << column << ") LIKE LOWER(";
        b.Bind(v.text);
        b << ")";
      }
      return;
    case Op::kIn:
    case Op::kNotIn:
      // Padded to a power of two by repeating the last value (which changes
      // no result) so the statement caches see few distinct texts.
      b << column << (op == Op::kIn ? " IN (" : " NOT IN (");
      for (size_t i = 0, n = std::bit_ceil(v.list.size()); i < n; ++i) {
        if (i > 0) b << ", ";
        b.Bind(v.list[std::min(i, v.list.size() - 1)]);
      }
      b << ")";
      return;
    default:
      break;
  }
  // Unreachable: callers validated the comparator.
  b << "1 = 0";
}

std::string_view SqlOp(Op op) {
  switch (op) {
    case Op::kEq:
      return " = ";
    case Op::kNe:
      return " <> ";
    case Op::kLt:
      return " < ";
    case Op::kLe:
      return " <= ";
    case Op::kGt:
      return " > ";
    case Op::kGe:
      return " >= ";
    default:
      return " = ";
  }
}

bool OneOf(Op op, std::initializer_list<Op> ops) {
  for (Op o : ops) {
    if (o == op) return true;
  }
  return false;
}

constexpr std::initializer_list<Op> kNumericOps = {Op::kEq, Op::kNe, Op::kLt,
                                                   Op::kLe, Op::kGt, Op::kGe};
constexpr std::initializer_list<Op> kStringOps = {Op::kEq, Op::kNe, Op::kLike, Op::kILike};
constexpr std::initializer_list<Op> kListOps = {Op::kEq,    Op::kNe, Op::kLike,
                                                Op::kILike, Op::kIn, Op::kNotIn};

std::string OpList(std::initializer_list<Op> ops) {
  std::string out;
  for (Op o : ops) {
    if (!out.empty()) out += ", ";
    out += OpName(o);
  }
  return out;
}

Status InvalidComparator(const Comparison& c, std::string_view what,
                         std::initializer_list<Op> valid) {
  return InvalidArgument("Invalid comparator '" + std::string(OpName(c.op)) + "' for " +
                         std::string(what) + " " + Quoted(c.ident.key) + ", not one of '" +
                         OpList(valid) + "'" + At(c.op_pos));
}

// Checks that a string-typed entity got a quoted string (or a list for IN).
Status ExpectString(const Comparison& c, std::string_view what) {
  switch (c.value.kind) {
    case ValueKind::kString:
    case ValueKind::kList:
      return Status::Ok();
    case ValueKind::kBareWord:
      return InvalidArgument(
          "Parameter value is either not quoted or unidentified quote types used for string "
          "value " +
          Quoted(c.value.text) + ". Use either single or double quotes" + At(c.value.pos));
    case ValueKind::kNumber:
      return InvalidArgument("Expected a quoted string value for " + std::string(what) +
                             " (e.g. 'my-value'). Got value " + Quoted(c.value.text) +
                             At(c.value.pos));
  }
  return Status::Ok();
}

Status ExpectNumber(const Comparison& c, std::string_view what) {
  if (c.value.kind == ValueKind::kNumber) return Status::Ok();
  return InvalidArgument("Expected numeric value type for " + std::string(what) + ". Found " +
                         Quoted(c.value.text) + At(c.value.pos));
}

// ---------------------------------------------------------------------------
// Runs.

enum class RunEntity { kMetric, kParam, kTag, kAttribute, kDataset };

constexpr std::string_view kRunEntityTypes =
    "['metric', 'parameter', 'tag', 'attribute', 'dataset']";

Result<RunEntity> ResolveRunEntity(const Identifier& id, const std::string& where) {
  if (!id.has_prefix) return RunEntity::kAttribute;
  static constexpr std::pair<std::string_view, RunEntity> kPrefixes[] = {
      {"metric", RunEntity::kMetric},
      {"metrics", RunEntity::kMetric},
      {"parameter", RunEntity::kParam},
      {"parameters", RunEntity::kParam},
      {"param", RunEntity::kParam},
      {"params", RunEntity::kParam},
      {"tag", RunEntity::kTag},
      {"tags", RunEntity::kTag},
      {"attribute", RunEntity::kAttribute},
      {"attributes", RunEntity::kAttribute},
      {"attr", RunEntity::kAttribute},
      {"run", RunEntity::kAttribute},
      {"dataset", RunEntity::kDataset},
      {"datasets", RunEntity::kDataset},
  };
  for (const auto& [name, entity] : kPrefixes) {
    if (id.prefix == name) return entity;  // case-sensitive, as MLflow
  }
  return Err(InvalidArgument("Invalid entity type " + Quoted(id.prefix) + ". Valid values are " +
                             std::string(kRunEntityTypes) + where));
}

struct RunAttribute {
  std::string_view name;
  std::string_view column;
  bool numeric;
  bool nullable;
};

constexpr RunAttribute kRunAttributes[] = {
    {"run_id", "r.run_uuid", false, false},           {"run_name", "r.name", false, false},
    {"user_id", "r.user_id", false, false},           {"status", "r.status", false, false},
    {"artifact_uri", "r.artifact_uri", false, false}, {"start_time", "r.start_time", true, false},
    {"end_time", "r.end_time", true, true},
};

// MLflow's alternate spellings: "created"/"Created" everywhere, the run-name
// spellings with a space only in filters.
Result<const RunAttribute*> ResolveRunAttribute(const std::string& key, bool for_order_by,
                                                const std::string& where) {
  std::string_view name = key;
  if (key == "created" || key == "Created") name = "start_time";
  if (!for_order_by && (key == "run name" || key == "Run name" || key == "Run Name")) {
    name = "run_name";
  }
  for (const RunAttribute& a : kRunAttributes) {
    if (a.name == name) return &a;
  }
  std::string valid =
      for_order_by ? "['artifact_uri', 'created', 'end_time', 'run_id', 'run_name', 'start_time', "
                     "'status', 'user_id']"
                   : "['artifact_uri', 'created', 'end_time', 'run name', 'run_id', 'run_name', "
                     "'start_time', 'status', 'user_id']";
  return Err(InvalidArgument("Invalid attribute key " + Quoted(key) +
                             " specified. Valid keys are " + valid + where));
}

// Checks run in this order: the identifier, the comparator, then the value.
// A numeric attribute (run start_time, experiment creation_time, ...) compared
// with a number; the same rules for runs and experiments.
Status CompileNumericAttribute(const Comparison& c, std::string_view name,
                               std::string_view column, SqlBuilder& b) {
  if (!OneOf(c.op, kNumericOps)) return InvalidComparator(c, "attribute", kNumericOps);
  if (c.value.kind != ValueKind::kNumber) {
    return InvalidArgument("Expected numeric value type for numeric attribute: " +
                           std::string(name) + ". Found " + Quoted(c.value.text) +
                           At(c.value.pos));
  }
  ASSIGN_OR_RETURN(SqlValue value, ToNumber(c.value));
  b << column << SqlOp(c.op);
  b.BindNumber(std::move(value));
  return Status::Ok();
}

Status CompileRunComparison(const Comparison& c, RunJoins& joins, SqlBuilder& b) {
  const std::string where = At(c.ident.pos);
  ASSIGN_OR_RETURN(RunEntity entity, ResolveRunEntity(c.ident, where));
  switch (entity) {
    case RunEntity::kMetric: {
      if (!OneOf(c.op, kNumericOps)) return InvalidComparator(c, "metric", kNumericOps);
      RETURN_IF_ERROR(ExpectNumber(c, "metric"));
      ASSIGN_OR_RETURN(double value, ToDouble(c.value));
      const std::string m = joins.AliasFor("latest_metrics", c.ident.key);
      // A missing metric fails every comparison (NULL). A NaN compares
      // unequal to everything and unordered with everything.
      if (c.op == Op::kNe) {
        b << "(" << m << ".is_nan <> 0 OR " << m << ".value <> ";
        b.Bind(value);
        b << ")";
      } else {
        b << "(" << m << ".is_nan = 0 AND " << m << ".value" << SqlOp(c.op);
        b.Bind(value);
        b << ")";
      }
      return Status::Ok();
    }
    case RunEntity::kParam:
    case RunEntity::kTag: {
      const bool param = entity == RunEntity::kParam;
      const std::string_view what = param ? "parameter" : "tag";
      if (!OneOf(c.op, kStringOps)) return InvalidComparator(c, what, kStringOps);
      RETURN_IF_ERROR(ExpectString(c, what));
      // A missing param or tag fails every comparison, NOT IN included (NULL).
      const std::string t = joins.AliasFor(param ? "params" : "tags", c.ident.key);
      AppendStringCompare(b, t + ".value", c.op, c.value);
      return Status::Ok();
    }
    case RunEntity::kAttribute: {
      ASSIGN_OR_RETURN(const RunAttribute* attr, ResolveRunAttribute(c.ident.key, false, where));
      if (attr->numeric) return CompileNumericAttribute(c, attr->name, attr->column, b);
      if ((c.op == Op::kIn || c.op == Op::kNotIn) && attr->name != "run_id") {
        return InvalidArgument(
            "Only the 'run_id' attribute supports comparison with a list of quoted string "
            "values" +
            At(c.op_pos));
      }
      if (!OneOf(c.op, kListOps)) return InvalidComparator(c, "attribute", kStringOps);
      RETURN_IF_ERROR(ExpectString(c, "attributes"));
      AppendStringCompare(b, attr->column, c.op, c.value);
      return Status::Ok();
    }
    case RunEntity::kDataset: {
      const std::string& key = c.ident.key;
      if (key != "name" && key != "digest" && key != "context") {
        return Err(InvalidArgument("Invalid dataset key " + Quoted(key) +
                                   " specified. Valid keys are ['context', 'digest', 'name']" +
                                   where));
      }
      if (!OneOf(c.op, kListOps)) return InvalidComparator(c, "dataset", kListOps);
      RETURN_IF_ERROR(ExpectString(c, "dataset attributes"));
      const std::string i = b.Alias("i");
      if (key == "context") {
        const std::string t = b.Alias("c");
        b << "EXISTS (SELECT 1 FROM run_inputs " << i << " JOIN run_input_tags " << t << " ON " << t
          << ".run_uuid = " << i << ".run_uuid AND " << t << ".dataset_uuid = " << i
          << ".dataset_uuid WHERE " << i << ".run_uuid = r.run_uuid AND " << t << ".key = ";
        b.Bind(std::string(kDatasetContextTag));
        b << " AND ";
        AppendStringCompare(b, t + ".value", c.op, c.value);
      } else {
        const std::string d = b.Alias("d");
        b << "EXISTS (SELECT 1 FROM run_inputs " << i << " JOIN datasets " << d << " ON " << d
          << ".dataset_uuid = " << i << ".dataset_uuid WHERE " << i
          << ".run_uuid = r.run_uuid AND ";
        AppendStringCompare(b, d + "." + key, c.op, c.value);
      }
      b << ")";
      return Status::Ok();
    }
  }
  return Status::Ok();
}

// `expr COLLATE "C"` on PostgreSQL so text sorts bytewise, as on SQLite.
std::string TextSortExpr(std::string_view expr, sql::Backend backend) {
  std::string out(expr);
  if (backend == sql::Backend::kPostgres) out += " COLLATE \"C\"";
  return out;
}

// ---------------------------------------------------------------------------
// Experiments.

enum class ExperimentEntity { kAttribute, kTag };

Result<ExperimentEntity> ResolveExperimentEntity(const Identifier& id, const std::string& where) {
  if (!id.has_prefix || id.prefix == "attribute") return ExperimentEntity::kAttribute;
  if (id.prefix == "tag" || id.prefix == "tags") return ExperimentEntity::kTag;
  return Err(InvalidArgument("Invalid entity type " + Quoted(id.prefix) +
                             ". Valid entity types are ('attribute', 'tag', 'tags')" + where));
}

struct ExperimentAttribute {
  std::string_view name;
  std::string_view column;
  bool numeric;
  bool filterable;
};

constexpr ExperimentAttribute kExperimentAttributes[] = {
    {"name", "e.name", false, true},
    {"creation_time", "e.creation_time", true, true},
    {"last_update_time", "e.last_update_time", true, true},
    {"experiment_id", "e.experiment_id", true, false},  // order_by only
};

Result<const ExperimentAttribute*> ResolveExperimentAttribute(const std::string& key,
                                                              bool for_order_by,
                                                              const std::string& where) {
  for (const ExperimentAttribute& a : kExperimentAttributes) {
    if (a.name == key && (a.filterable || for_order_by)) return &a;
  }
  std::string valid = for_order_by
                          ? "['creation_time', 'experiment_id', 'last_update_time', 'name']"
                          : "['creation_time', 'last_update_time', 'name']";
  return Err(InvalidArgument("Invalid attribute key " + Quoted(key) +
                             " specified. Valid keys are " + valid + where));
}

Status CompileExperimentComparison(const Comparison& c, SqlBuilder& b) {
  const std::string where = At(c.ident.pos);
  ASSIGN_OR_RETURN(ExperimentEntity entity, ResolveExperimentEntity(c.ident, where));
  if (entity == ExperimentEntity::kTag) {
    if (!OneOf(c.op, kStringOps)) return InvalidComparator(c, "tag", kStringOps);
    RETURN_IF_ERROR(ExpectString(c, "tag"));
    const std::string t = b.Alias("t");
    b << "EXISTS (SELECT 1 FROM experiment_tags " << t << " WHERE " << t
      << ".experiment_id = e.experiment_id AND " << t << ".key = ";
    b.Bind(c.ident.key);
    b << " AND ";
    AppendStringCompare(b, t + ".value", c.op, c.value);
    b << ")";
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(const ExperimentAttribute* attr,
                   ResolveExperimentAttribute(c.ident.key, false, where));
  if (attr->numeric) return CompileNumericAttribute(c, attr->name, attr->column, b);
  if (!OneOf(c.op, kStringOps)) return InvalidComparator(c, "attribute", kStringOps);
  RETURN_IF_ERROR(ExpectString(c, "attributes"));
  AppendStringCompare(b, attr->column, c.op, c.value);
  return Status::Ok();
}

// Shared driver: parse, compile each comparison, join with AND, parenthesize.
template <typename CompileFn>
Result<SqlFragment> CompileFilter(std::string_view filter, sql::Backend backend,
                                  CompileFn compile) {
  Parser parser(filter, "filter");
  ASSIGN_OR_RETURN(std::vector<Comparison> comparisons, parser.ParseFilter());
  SqlBuilder b(backend);
  if (comparisons.empty()) return b.Take();
  b << "(";
  for (size_t i = 0; i < comparisons.size(); ++i) {
    if (i > 0) b << " AND ";
    RETURN_IF_ERROR(compile(comparisons[i], b));
  }
  b << ")";
  return b.Take();
}

std::string OrderWhere(std::string_view clause) {
  return " in order_by clause " + Quoted(clause, kMaxEchoedInput);
}

// ---------------------------------------------------------------------------
// Model registry.

enum class RegistryEntity { kAttribute, kTag };

Result<RegistryEntity> ResolveRegistryEntity(const Identifier& id, const std::string& where) {
  if (!id.has_prefix || id.prefix == "attribute") return RegistryEntity::kAttribute;
  if (id.prefix == "tag" || id.prefix == "tags") return RegistryEntity::kTag;
  return Err(InvalidArgument("Invalid entity type " + Quoted(id.prefix) +
                             ". Valid entity types are ('attribute', 'tag', 'tags')" + where));
}

// EXISTS over a registry tag table; `owner` correlates it with the outer row.
Status CompileRegistryTag(const Comparison& c, std::string_view table, std::string_view owner,
                          SqlBuilder& b) {
  if (!OneOf(c.op, kStringOps)) return InvalidComparator(c, "tag", kStringOps);
  RETURN_IF_ERROR(ExpectString(c, "tag"));
  const std::string t = b.Alias("t");
  b << "EXISTS (SELECT 1 FROM " << table << " " << t << " WHERE " << t << ".model_id = m.model_id";
  if (!owner.empty()) b << " AND " << t << ".version = " << owner;
  b << " AND " << t << ".key = ";
  b.Bind(c.ident.key);
  b << " AND ";
  AppendStringCompare(b, t + ".value", c.op, c.value);
  b << ")";
  return Status::Ok();
}

Status CompileRegisteredModelComparison(const Comparison& c, SqlBuilder& b) {
  const std::string where = At(c.ident.pos);
  ASSIGN_OR_RETURN(RegistryEntity entity, ResolveRegistryEntity(c.ident, where));
  if (entity == RegistryEntity::kTag) {
    return CompileRegistryTag(c, "registered_model_tags", "", b);
  }
  if (c.ident.key != "name") {
    return InvalidArgument("Invalid attribute key " + Quoted(c.ident.key) +
                           " specified. Valid keys are '{'name'}'" + where);
  }
  if (c.value.kind == ValueKind::kList) {
    return InvalidArgument(
        "Only the 'run_id' attribute supports comparison with a list of quoted string values." +
        At(c.op_pos));
  }
  if (!OneOf(c.op, kStringOps)) return InvalidComparator(c, "attribute", kStringOps);
  RETURN_IF_ERROR(ExpectString(c, "attributes"));
  AppendStringCompare(b, "m.name", c.op, c.value);
  return Status::Ok();
}

Status CompileModelVersionComparison(const Comparison& c, SqlBuilder& b) {
  const std::string where = At(c.ident.pos);
  ASSIGN_OR_RETURN(RegistryEntity entity, ResolveRegistryEntity(c.ident, where));
  if (entity == RegistryEntity::kTag) {
    return CompileRegistryTag(c, "model_version_tags", "v.version", b);
  }
  const std::string& key = c.ident.key;
  if (key == "version_number") {
    if (c.value.kind == ValueKind::kString) {
      // MLflow's SQL store compares a quoted number with the integer column too.
      int64_t n = 0;
      const char* first = c.value.text.data();
      const char* last = first + c.value.text.size();
      auto [ptr, ec] = std::from_chars(first, last, n);
      if (ec != std::errc() || ptr != last || c.value.text.empty()) {
        return InvalidArgument("Expected an integer value for version_number. Found " +
                               Quoted(c.value.text) + At(c.value.pos));
      }
      if (!OneOf(c.op, kNumericOps)) return InvalidComparator(c, "attribute", kNumericOps);
      b << "v.version" << SqlOp(c.op);
      b.Bind(n);
      return Status::Ok();
    }
    return CompileNumericAttribute(c, "version_number", "v.version", b);
  }
  std::string_view column;
  if (key == "name") {
    column = "m.name";
  } else if (key == "run_id") {
    column = "v.run_id";
  } else if (key == "source_path") {
    column = "v.source";
  } else {
    return InvalidArgument("Invalid attribute key " + Quoted(key) +
                           " specified. Valid keys are "
                           "'['name', 'run_id', 'source_path', 'version_number']'" +
                           where);
  }
  if (c.value.kind == ValueKind::kNumber) {
    return InvalidArgument(
        "Only the '{'creation_timestamp', 'last_updated_timestamp', 'version_number'}' "
        "attributes support comparison with numeric values." +
        At(c.value.pos));
  }
  if ((c.op == Op::kIn || c.op == Op::kNotIn) && key != "run_id") {
    return InvalidArgument(
        "Only the 'run_id' attribute supports comparison with a list of quoted string values." +
        At(c.op_pos));
  }
  static constexpr std::initializer_list<Op> kRunIdOps = {Op::kEq, Op::kNe, Op::kLike, Op::kILike,
                                                          Op::kIn};
  if (!OneOf(c.op, key == "run_id" ? kRunIdOps : kStringOps)) {
    return InvalidComparator(c, "attribute", key == "run_id" ? kRunIdOps : kStringOps);
  }
  RETURN_IF_ERROR(ExpectString(c, "attributes"));
  AppendStringCompare(b, column, c.op, c.value);
  return Status::Ok();
}

struct RegistryOrderKey {
  std::string_view name;    // as the user writes it
  std::string_view column;  // what it sorts
  bool text;
};

// Shared by both registry order_by compilers: parses each clause, maps it
// through `keys`, refuses duplicates (two spellings of one column too).
Status CompileRegistryOrderTerms(std::span<const std::string> order_by,
                                 std::span<const RegistryOrderKey> keys, std::string_view valid,
                                 SqlBuilder& b, std::set<std::string_view>& columns) {
  if (order_by.size() > kMaxOrderByKeys) {
    return InvalidArgument("order_by has more than " + std::to_string(kMaxOrderByKeys) +
                           " entries");
  }
  for (const std::string& clause : order_by) {
    Parser parser(clause, "order_by clause");
    ASSIGN_OR_RETURN(OrderTerm term, parser.ParseOrderBy());
    const std::string where = OrderWhere(clause);
    if (term.ident.has_prefix && term.ident.prefix != "attribute") {
      return InvalidArgument("Invalid order_by entity: " + Quoted(term.ident.prefix) + where);
    }
    const RegistryOrderKey* key = nullptr;
    for (const RegistryOrderKey& k : keys) {
      if (k.name == term.ident.key) key = &k;
    }
    if (key == nullptr) {
      return InvalidArgument("Invalid order by key " + Quoted(term.ident.key) +
                             " specified. Valid keys are " + std::string(valid) + where);
    }
    if (!columns.insert(key->column).second) {
      return InvalidArgument("`order_by` contains duplicate fields: " +
                             Quoted(clause, kMaxEchoedInput));
    }
    if (!b.empty()) b << ", ";
    b << (key->text ? TextSortExpr(key->column, b.backend()) : std::string(key->column))
      << (term.ascending ? " ASC" : " DESC");
  }
  return Status::Ok();
}

}  // namespace

Result<SqlFragment> CompileRegisteredModelFilter(std::string_view filter, sql::Backend backend) {
  return CompileFilter(filter, backend, CompileRegisteredModelComparison);
}

Result<SqlFragment> CompileRegisteredModelOrderBy(std::span<const std::string> order_by,
                                                  sql::Backend backend) {
  static constexpr RegistryOrderKey kKeys[] = {
      {"name", "m.name", true},
      {"timestamp", "m.last_updated_time", false},
      {"last_updated_timestamp", "m.last_updated_time", false},
      {"creation_timestamp", "m.creation_time", false},
  };
  SqlBuilder b(backend);
  std::set<std::string_view> columns;
  RETURN_IF_ERROR(CompileRegistryOrderTerms(
      order_by, kKeys, "'['creation_timestamp', 'last_updated_timestamp', 'name', 'timestamp']'", b,
      columns));
  if (!columns.contains("m.name")) {
    if (!b.empty()) b << ", ";
    b << TextSortExpr("m.name", backend) << " ASC";
  }
  return b.Take();
}

Result<SqlFragment> CompileModelVersionFilter(std::string_view filter, sql::Backend backend) {
  return CompileFilter(filter, backend, CompileModelVersionComparison);
}

Result<SqlFragment> CompileModelVersionOrderBy(std::span<const std::string> order_by,
                                               sql::Backend backend) {
  static constexpr RegistryOrderKey kKeys[] = {
      {"name", "m.name", true},
      {"version_number", "v.version", false},
      {"creation_timestamp", "v.creation_time", false},
      {"last_updated_timestamp", "v.last_updated_time", false},
  };
  static const std::vector<std::string> kDefault = {"last_updated_timestamp DESC", "name ASC",
                                                    "version_number DESC"};
  SqlBuilder b(backend);
  std::set<std::string_view> columns;
  RETURN_IF_ERROR(CompileRegistryOrderTerms(
      order_by.empty() ? std::span<const std::string>(kDefault) : order_by, kKeys,
      "'['creation_timestamp', 'last_updated_timestamp', 'name', 'version_number']'", b, columns));
  if (!columns.contains("m.name")) b << ", " << TextSortExpr("m.name", backend) << " ASC";
  if (!columns.contains("v.version")) b << ", v.version DESC";
  return b.Take();
}

std::vector<sql::Param> BindParams(const std::vector<SqlValue>& values) {
  std::vector<sql::Param> out;
  out.reserve(values.size());
  for (const SqlValue& v : values) {
    std::visit(
        [&out](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            out.emplace_back(std::string_view(x));
          } else {
            out.emplace_back(x);
          }
        },
        v);
  }
  return out;
}

namespace {

Result<SqlFragment> CompileRunOrderBy(std::span<const std::string> order_by, RunJoins& joins,
                                      sql::Backend backend) {
  if (order_by.size() > kMaxOrderByKeys) {
    return Err(
        InvalidArgument("order_by has more than " + std::to_string(kMaxOrderByKeys) + " entries"));
  }
  SqlBuilder b(backend);
  std::set<std::pair<RunEntity, std::string>> seen;
  bool ordered_by_start_time = false;
  for (const std::string& clause : order_by) {
    Parser parser(clause, "order_by clause");
    ASSIGN_OR_RETURN(OrderTerm term, parser.ParseOrderBy());
    const std::string where = OrderWhere(clause);
    ASSIGN_OR_RETURN(RunEntity entity, ResolveRunEntity(term.ident, where));
    std::string key = term.ident.key;
    const RunAttribute* attr = nullptr;
    if (entity == RunEntity::kAttribute) {
      ASSIGN_OR_RETURN(attr, ResolveRunAttribute(key, true, where));
      key = std::string(attr->name);
      if (key == "start_time") ordered_by_start_time = true;
    } else if (entity == RunEntity::kDataset) {
      return Err(InvalidArgument(
          "Invalid order_by entity type 'dataset'. Valid values are ['metric', 'parameter', "
          "'tag', 'attribute']" +
          where));
    }
    if (!seen.emplace(entity, key).second) {
      return Err(InvalidArgument("`order_by` contains duplicate fields: " +
                                 Quoted(clause, kMaxEchoedInput)));
    }
    if (!b.empty()) b << ", ";
    const std::string_view dir = term.ascending ? " ASC" : " DESC";
    // Rank first (always ascending), then the value in the requested
    // direction: real values, then NaN (metrics), then missing, both ways.
    switch (entity) {
      case RunEntity::kMetric: {
        const std::string m = joins.AliasFor("latest_metrics", key);
        b << "COALESCE(" << m << ".is_nan, 2) ASC, " << m << ".value" << dir;
        break;
      }
      case RunEntity::kParam:
      case RunEntity::kTag: {
        const std::string t = joins.AliasFor(entity == RunEntity::kParam ? "params" : "tags", key);
        b << "CASE WHEN " << t << ".run_uuid IS NULL THEN 1 ELSE 0 END ASC, "
          << TextSortExpr(t + ".value", backend) << dir;
        break;
      }
      case RunEntity::kAttribute: {
        if (attr->nullable) {
          b << "CASE WHEN " << attr->column << " IS NULL THEN 1 ELSE 0 END ASC, ";
        }
        b << (attr->numeric ? std::string(attr->column) : TextSortExpr(attr->column, backend))
          << dir;
        break;
      }
      case RunEntity::kDataset:
        break;  // rejected above
    }
  }
  if (!b.empty()) b << ", ";
  if (!ordered_by_start_time) b << "r.start_time DESC, ";
  b << "r.run_uuid ASC";
  return b.Take();
}

}  // namespace

Result<RunSearchSql> CompileRunSearch(std::string_view filter,
                                      std::span<const std::string> order_by,
                                      sql::Backend backend) {
  RunJoins joins(backend);
  ASSIGN_OR_RETURN(SqlFragment where,
                   CompileFilter(filter, backend, [&](const Comparison& c, SqlBuilder& b) {
                     return CompileRunComparison(c, joins, b);
                   }));
  ASSIGN_OR_RETURN(SqlFragment order, CompileRunOrderBy(order_by, joins, backend));
  return RunSearchSql{.joins = joins.Take(), .where = std::move(where), .order_by = std::move(order)};
}

Result<SqlFragment> CompileExperimentFilter(std::string_view filter, sql::Backend backend) {
  return CompileFilter(filter, backend, CompileExperimentComparison);
}

Result<SqlFragment> CompileExperimentOrderBy(std::span<const std::string> order_by,
                                             sql::Backend backend) {
  SqlBuilder b(backend);
  if (order_by.empty()) {
    b << "e.creation_time DESC, e.experiment_id ASC";  // MLflow 2.12's default
    return b.Take();
  }
  if (order_by.size() > kMaxOrderByKeys) {
    return Err(
        InvalidArgument("order_by has more than " + std::to_string(kMaxOrderByKeys) + " entries"));
  }
  bool has_experiment_id = false;
  for (const std::string& clause : order_by) {
    Parser parser(clause, "order_by clause");
    ASSIGN_OR_RETURN(OrderTerm term, parser.ParseOrderBy());
    const std::string where = OrderWhere(clause);
    ASSIGN_OR_RETURN(ExperimentEntity entity, ResolveExperimentEntity(term.ident, where));
    if (entity != ExperimentEntity::kAttribute) {
      return Err(InvalidArgument("Invalid order_by entity: tag" + where));
    }
    ASSIGN_OR_RETURN(const ExperimentAttribute* attr,
                     ResolveExperimentAttribute(term.ident.key, true, where));
    if (attr->name == "experiment_id") has_experiment_id = true;
    if (!b.empty()) b << ", ";
    b << (attr->numeric ? std::string(attr->column) : TextSortExpr(attr->column, backend))
      << (term.ascending ? " ASC" : " DESC");
  }
  // MLflow's tie-breaker when the user did not order by experiment_id.
  if (!has_experiment_id) b << ", e.experiment_id DESC";
  return b.Take();
}

}  // namespace mlforge::tracking

// CSV into columns, in parallel: the file is mapped, cut into chunks at
// record boundaries (quote-aware), each chunk parsed on its own thread into
// its own columns, then the chunks are stitched. Errors carry a byte offset
// and become "file:line: ..." at the end, the earliest in the file winning.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "base/parallel.h"
#include "monitor/internal.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace internal {

bool IsMissingText(std::string_view s) {
  return s.empty() || s == "NA" || s == "N/A" || s == "NaN" || s == "nan" || s == "null" ||
         s == "NULL" || s == "None";
}

}  // namespace internal

namespace {

using internal::IsMissingText;

enum class Mode : uint8_t { kSkip, kNumeric, kCategorical };

struct ParseError {
  size_t offset = SIZE_MAX;
  bool in_field = false;  // offset is a field's start: name its column
  std::string message;  // without the "file:line: " prefix
};

struct ChunkColumn {
  std::vector<double> numbers;
  std::vector<uint32_t> codes;
  std::unordered_map<std::string_view, uint32_t> dict;
  std::vector<std::string_view> dict_order;
  uint64_t invalid = 0;
  size_t first_invalid_offset = SIZE_MAX;
  std::string first_invalid_text;
  bool saw_text = false;  // a non-number in a numeric column whose kind is not forced
};

struct Chunk {
  const char* begin;
  const char* end;
  std::vector<ChunkColumn> cols;  // by selected index
  std::deque<std::string> owned;  // unescaped quoted fields the dictionary points at
  int64_t rows = 0;
  ParseError error;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Plain decimals ("-12.345") with at most 15 digits: the digits as an
// integer (exact below 2^53) divided by an exact power of ten is one
// correctly rounded operation, so the result is the double strtod returns
// (Clinger's fast path). Anything else goes to std::from_chars.
bool FastDecimal(std::string_view s, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
                                      1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  uint64_t mantissa = 0;
  int digits = 0, fraction = -1;
  size_t start = i;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      mantissa = mantissa * 10 + static_cast<uint64_t>(c - '0');
      if (++digits > 15) return false;
      if (fraction >= 0) ++fraction;
    } else if (c == '.' && fraction < 0) {
      fraction = 0;
    } else {
      return false;
    }
  }
  if (digits == 0 || i == start) return false;
  double v = static_cast<double>(mantissa);
  if (fraction > 0) v /= kPow10[fraction];
  *out = neg ? -v : v;
  return true;
}

bool ParseNumber(std::string_view s, double* out) {
  s = Trim(s);
  if (FastDecimal(s, out)) return true;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec == std::errc::result_out_of_range) {
    // Like strtod: overflow is +-inf, underflow is 0.
    *out = std::strtod(std::string(s).c_str(), nullptr);
    return true;
  }
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Reads one field starting at p; sets *value (a view into the text, or into
// *scratch when quotes were unescaped) and returns the position after it.
// Returns nullptr on a malformed quoted field (message in *why).
const char* ReadField(const char* p, const char* end, std::string_view* value, std::string* scratch,
                      bool* unescaped, const char** why) {
  *unescaped = false;
  if (p < end && *p == '"') {
    const char* s = ++p;
    bool escapes = false;
    for (;;) {
      const void* q = std::memchr(p, '"', static_cast<size_t>(end - p));
      if (q == nullptr) {
        *why = "unterminated quoted field";
        return nullptr;
      }
      p = static_cast<const char*>(q);
      if (p + 1 < end && p[1] == '"') {
        escapes = true;
        p += 2;
        continue;
      }
      break;
    }
    std::string_view raw(s, static_cast<size_t>(p - s));
    ++p;  // closing quote
    if (p < end && *p != ',' && *p != '\n' && !(*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
      *why = "unexpected text after a closing quote";
      return nullptr;
    }
    if (escapes) {
      scratch->clear();
      for (size_t i = 0; i < raw.size(); ++i) {
        scratch->push_back(raw[i]);
        if (raw[i] == '"') ++i;
      }
      *value = *scratch;
      *unescaped = true;
    } else {
      *value = raw;
    }
    return p;
  }
  const char* s = p;
  while (p < end && *p != ',' && *p != '\n') ++p;
  std::string_view v(s, static_cast<size_t>(p - s));
  if (!v.empty() && v.back() == '\r' && (p == end || *p == '\n')) v.remove_suffix(1);
  *value = v;
  return p;
}

// After a field: true if another field of the record follows (p moves past
// the comma); false at the end of the record (p moves past CR LF / LF).
bool NextField(const char*& p, const char* end) {
  if (p < end && *p == ',') {
    ++p;
    return true;
  }
  if (p < end && *p == '\r') ++p;
  if (p < end && *p == '\n') ++p;
  return false;
}

struct Plan {
  std::string_view text;
  std::vector<std::string> names;  // selected columns, output order
  std::vector<int> field_to_col;   // file field -> selected index or -1
  std::vector<Mode> modes;         // by selected index
  std::vector<bool> forced;        // kind forced by options
  size_t fields = 0;
};

void ParseChunk(const Plan& plan, Chunk& chunk) {
  const char* p = chunk.begin;
  const char* end = chunk.end;
  const char* base = plan.text.data();
  chunk.cols.resize(plan.names.size());
  std::string scratch;
  auto fail = [&](const char* at, std::string msg, bool in_field = false) {
    chunk.error.offset = static_cast<size_t>(at - base);
    chunk.error.in_field = in_field;
    chunk.error.message = std::move(msg);
  };
  while (p < end) {
    const char* rec = p;
    if (*p == '\n') {
      ++p;
      continue;
    }
    if (*p == '\r' && p + 1 < end && p[1] == '\n') {
      p += 2;
      continue;
    }
    size_t field = 0;
    for (;;) {
      std::string_view value;
      bool unescaped;
      const char* why = nullptr;
      const char* field_start = p;
      p = ReadField(p, end, &value, &scratch, &unescaped, &why);
      if (p == nullptr) return fail(field_start, why, true);
      int col = field < plan.field_to_col.size() ? plan.field_to_col[field] : -1;
      if (col >= 0) {
        ChunkColumn& c = chunk.cols[static_cast<size_t>(col)];
        Mode mode = plan.modes[static_cast<size_t>(col)];
        if (mode == Mode::kNumeric) {
          double d;
          if (IsMissingText(Trim(value))) {
            c.numbers.push_back(kNaN);
          } else if (ParseNumber(value, &d)) {
            c.numbers.push_back(d);
          } else {
            c.numbers.push_back(kNaN);
            if (plan.forced[static_cast<size_t>(col)]) {
              if (c.invalid++ == 0) {
                c.first_invalid_offset = static_cast<size_t>(field_start - base);
                c.first_invalid_text = std::string(value.substr(0, 40));
              }
            } else {
              c.saw_text = true;
            }
          }
        } else if (mode == Mode::kCategorical) {
          if (IsMissingText(value)) {
            c.codes.push_back(Column::kMissingCode);
          } else {
            auto it = c.dict.find(value);
            if (it == c.dict.end()) {
              std::string_view key = value;
              if (unescaped) key = chunk.owned.emplace_back(value);
              it = c.dict.emplace(key, static_cast<uint32_t>(c.dict_order.size())).first;
              c.dict_order.push_back(key);
            }
            c.codes.push_back(it->second);
          }
        }
      }
      ++field;
      if (!NextField(p, end)) break;
    }
    if (field != plan.fields) {
      return fail(rec, "expected " + std::to_string(plan.fields) + " fields (as in the header), found " +
                           std::to_string(field));
    }
    ++chunk.rows;
  }
}

// Chunk boundaries at record starts near every `step` bytes.
std::vector<const char*> CutChunks(const char* begin, const char* end, size_t step) {
  std::vector<const char*> cuts{begin};
  if (begin == end) {
    cuts.push_back(end);
    return cuts;
  }
  bool has_quotes = std::memchr(begin, '"', static_cast<size_t>(end - begin)) != nullptr;
  if (!has_quotes) {
    const char* p = begin;
    while (static_cast<size_t>(end - p) > step) {
      const void* nl = std::memchr(p + step, '\n', static_cast<size_t>(end - (p + step)));
      if (nl == nullptr) break;
      p = static_cast<const char*>(nl) + 1;
      cuts.push_back(p);
    }
  } else {
    // A newline ends a record only outside quotes: track quote parity.
    bool in_quotes = false;
    const char* next_cut = begin + step;
    for (const char* p = begin; p < end; ++p) {
      if (*p == '"') {
        in_quotes = !in_quotes;
      } else if (*p == '\n' && !in_quotes && p >= next_cut && p + 1 < end) {
        cuts.push_back(p + 1);
        next_cut = p + 1 + step;
      }
    }
  }
  if (cuts.back() != end) cuts.push_back(end);
  return cuts;
}

size_t LineOf(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(offset), '\n'));
}

std::string ColumnAt(std::string_view text, size_t offset, const std::vector<std::string>& header) {
  // Which field holds the offset: count commas from the line start (quote-aware).
  size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  if (offset == 0) line_start = 0;
  size_t field = 0;
  bool in_quotes = false;
  for (size_t i = line_start; i < offset && i < text.size(); ++i) {
    if (text[i] == '"') in_quotes = !in_quotes;
    if (text[i] == ',' && !in_quotes) ++field;
  }
  if (field < header.size()) return "column '" + header[field] + "'";
  return "field " + std::to_string(field + 1);
}

Result<Table> ParseImpl(std::string_view text, std::string_view label, const CsvOptions& options) {
  auto at = [&](size_t offset) {
    return std::string(label) + ":" + std::to_string(LineOf(text, offset));
  };
  // Header.
  const char* p = text.data();
  const char* end = text.data() + text.size();
  if (text.size() >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;  // UTF-8 BOM
  while (p < end && (*p == '\n' || *p == '\r')) ++p;
  if (p == end) return Err(InvalidArgument(std::string(label) + ": empty file (no header row)"));
  std::vector<std::string> header;
  std::string scratch;
  for (;;) {
    std::string_view value;
    bool unescaped;
    const char* why = nullptr;
    const char* start = p;
    p = ReadField(p, end, &value, &scratch, &unescaped, &why);
    if (p == nullptr) {
      return Err(InvalidArgument(at(static_cast<size_t>(start - text.data())) + ": header: " + why));
    }
    header.emplace_back(Trim(value));
    if (!NextField(p, end)) break;
  }
  std::unordered_map<std::string_view, size_t> by_name;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty()) {
      return Err(InvalidArgument(at(0) + ": header: column " + std::to_string(i + 1) + " has no name"));
    }
    if (!by_name.emplace(header[i], i).second) {
      return Err(InvalidArgument(at(0) + ": header: column '" + header[i] + "' appears twice"));
    }
  }

  Plan plan;
  plan.text = text;
  plan.fields = header.size();
  plan.field_to_col.assign(header.size(), -1);
  if (options.columns.empty()) {
    plan.names = header;
    for (size_t i = 0; i < header.size(); ++i) plan.field_to_col[i] = static_cast<int>(i);
  } else {
    for (const std::string& name : options.columns) {
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        std::string all;
        for (size_t i = 0; i < header.size() && i < 20; ++i) all += (i ? ", " : "") + header[i];
        return Err(InvalidArgument(std::string(label) + ": no column '" + name + "' (columns: " +
                                   all + (header.size() > 20 ? ", ..." : "") + ")"));
      }
      if (plan.field_to_col[it->second] >= 0) continue;
      plan.field_to_col[it->second] = static_cast<int>(plan.names.size());
      plan.names.push_back(name);
    }
  }
  plan.modes.assign(plan.names.size(), Mode::kNumeric);
  plan.forced.assign(plan.names.size(), false);
  for (const auto& [name, kind] : options.kinds) {
    for (size_t c = 0; c < plan.names.size(); ++c) {
      if (plan.names[c] == name) {
        plan.modes[c] = kind == ColumnKind::kNumeric ? Mode::kNumeric : Mode::kCategorical;
        plan.forced[c] = true;
      }
    }
  }

  int threads = ThreadsOrCores(options.threads);
  size_t body = static_cast<size_t>(end - p);
  size_t step = std::clamp<size_t>(body / (static_cast<size_t>(threads) * 8), 1 << 20, 64 << 20);
  std::vector<const char*> cuts = CutChunks(p, end, step);
  std::vector<Chunk> chunks(cuts.size() - 1);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    chunks[i].begin = cuts[i];
    chunks[i].end = cuts[i + 1];
  }
  std::mutex progress_mu;  // serializes progress calls
  std::atomic<uint64_t> done{static_cast<uint64_t>(p - text.data())};
  auto run_pass = [&](const Plan& pass_plan) {
    ParallelFor(chunks.size(), threads, [&](size_t i) {
      ParseChunk(pass_plan, chunks[i]);
      uint64_t now = done.fetch_add(static_cast<uint64_t>(chunks[i].end - chunks[i].begin)) +
                     static_cast<uint64_t>(chunks[i].end - chunks[i].begin);
      if (options.progress) {
        std::lock_guard lock(progress_mu);
        options.progress(now, text.size());
      }
    });
  };
  auto first_error = [&]() -> Status {
    const ParseError* best = nullptr;
    for (const Chunk& c : chunks) {
      if (c.error.offset != SIZE_MAX && (best == nullptr || c.error.offset < best->offset)) best = &c.error;
    }
    if (best == nullptr) return Status::Ok();
    std::string where = best->in_field ? ColumnAt(text, best->offset, header) + ": " : "";
    return InvalidArgument(at(best->offset) + ": " + where + best->message);
  };
  run_pass(plan);
  RETURN_IF_ERROR(first_error());

  // Columns that turned out to hold text: read again, as categories.
  Plan text_plan = plan;
  bool any_text = false;
  for (size_t c = 0; c < plan.names.size(); ++c) {
    bool text_col = false;
    for (const Chunk& ch : chunks) text_col = text_col || ch.cols[c].saw_text;
    text_plan.modes[c] = text_col ? Mode::kCategorical : Mode::kSkip;
    any_text = any_text || text_col;
  }
  std::vector<std::vector<ChunkColumn>> first_pass;
  if (any_text) {
    for (Chunk& ch : chunks) {
      first_pass.push_back(std::move(ch.cols));
      ch.cols.clear();
      ch.rows = 0;
    }
    done = 0;
    run_pass(text_plan);
    RETURN_IF_ERROR(first_error());
    for (size_t i = 0; i < chunks.size(); ++i) {
      for (size_t c = 0; c < plan.names.size(); ++c) {
        if (text_plan.modes[c] == Mode::kSkip) chunks[i].cols[c] = std::move(first_pass[i][c]);
      }
    }
  }

  Table table;
  for (const Chunk& ch : chunks) table.rows += ch.rows;
  table.columns.resize(plan.names.size());
  ParallelFor(plan.names.size(), threads, [&](size_t c) {
    Column& col = table.columns[c];
    col.name = plan.names[c];
    Mode mode = text_plan.modes[c] == Mode::kCategorical ? Mode::kCategorical : plan.modes[c];
    if (mode == Mode::kNumeric) {
      col.kind = ColumnKind::kNumeric;
      col.numbers.reserve(static_cast<size_t>(table.rows));
      for (const Chunk& ch : chunks) {
        const ChunkColumn& cc = ch.cols[c];
        col.numbers.insert(col.numbers.end(), cc.numbers.begin(), cc.numbers.end());
        if (cc.invalid > 0 && col.invalid == 0) {
          col.first_invalid = at(cc.first_invalid_offset) + ": '" + cc.first_invalid_text + "'";
        }
        col.invalid += cc.invalid;
      }
      return;
    }
    col.kind = ColumnKind::kCategorical;
    col.codes.reserve(static_cast<size_t>(table.rows));
    std::unordered_map<std::string_view, uint32_t> global;
    std::vector<uint32_t> remap;
    for (const Chunk& ch : chunks) {
      const ChunkColumn& cc = ch.cols[c];
      remap.assign(cc.dict_order.size(), 0);
      for (size_t k = 0; k < cc.dict_order.size(); ++k) {
        auto [it, inserted] = global.emplace(cc.dict_order[k], static_cast<uint32_t>(col.dictionary.size()));
        if (inserted) col.dictionary.emplace_back(cc.dict_order[k]);
        remap[k] = it->second;
      }
      for (uint32_t code : cc.codes) {
        col.codes.push_back(code == Column::kMissingCode ? code : remap[code]);
      }
    }
  });
  return table;
}

// A read-only mapping of a whole file. RAII.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) ::munmap(data_, size_);
  }
  Status Open(const std::filesystem::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return InvalidArgument(path.string() + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return InvalidArgument(path.string() + ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        ::close(fd);
        return InvalidArgument(path.string() + ": cannot map: " + std::strerror(errno));
      }
      data_ = m;
      ::madvise(data_, size_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    return Status::Ok();
  }
  std::string_view text() const {
    return size_ ? std::string_view(static_cast<const char*>(data_), size_) : std::string_view();
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

const Column* Table::Find(std::string_view name) const {
  for (const Column& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string_view ColumnKindName(ColumnKind kind) {
  return kind == ColumnKind::kNumeric ? "numeric" : "categorical";
}

Result<Table> ParseCsv(std::string_view text, std::string_view label, const CsvOptions& options) {
  return ParseImpl(text, label, options);
}

Result<Table> ReadCsv(const std::filesystem::path& path, const CsvOptions& options) {
  MappedFile file;
  RETURN_IF_ERROR(file.Open(path));
  return ParseImpl(file.text(), path.string(), options);
}

}  // namespace mlforge::monitor

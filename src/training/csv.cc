// CSV tables for training: a header row, then numeric cells.
#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "training/training.h"

namespace mlforge::training {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

// Reads one record at a time (RFC 4180: fields separated by ',', quoted
// fields may hold ',', '"' doubled, and line breaks). Tracks the physical
// line number where each record starts, for error messages.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) text_.remove_prefix(3);  // UTF-8 BOM
  }

  // Reads the next non-blank record into *fields. False at the end.
  Result<bool> Next(std::vector<std::string>* fields) {
    while (pos_ < text_.size()) {
      record_line_ = line_;
      fields->clear();
      RETURN_IF_ERROR(ReadRecord(fields));
      bool blank = fields->size() == 1 &&
                   (*fields)[0].find_first_not_of(" \t") == std::string::npos && !last_was_quoted_;
      if (!blank) return true;
    }
    return false;
  }
  int64_t record_line() const { return record_line_; }

 private:
  Status ReadRecord(std::vector<std::string>* fields) {
    std::string field;
    bool quoted = false;
    last_was_quoted_ = false;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (quoted) {
        ++pos_;
        if (c == '"') {
          if (pos_ < text_.size() && text_[pos_] == '"') {
            field += '"';
            ++pos_;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') ++line_;
          field += c;
        }
        continue;
      }
      if (c == '"' && field.find_first_not_of(" \t") == std::string::npos) {
        field.clear();
        quoted = true;
        last_was_quoted_ = true;
        ++pos_;
      } else if (c == ',') {
        fields->push_back(std::move(field));
        field.clear();
        ++pos_;
      } else if (c == '\n' || c == '\r') {
        ++pos_;
        if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
        fields->push_back(std::move(field));
        return Status::Ok();
      } else {
        field += c;
        ++pos_;
      }
    }
    if (quoted) {
      return InvalidArgument(fmt::format("line {}: a quoted field is not closed", record_line_));
    }
    fields->push_back(std::move(field));
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  int64_t record_line_ = 1;
  bool last_was_quoted_ = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Shown(std::string_view s) {
  return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 40)) + "...";
}

Result<double> ParseCell(std::string_view raw, int64_t line, const std::string& column,
                         size_t index) {
  std::string_view s = Trim(raw);
  if (s.empty() || s == "nan" || s == "NaN" || s == "NAN") return kMissing;
  std::string_view digits = s.starts_with('+') ? s.substr(1) : s;  // from_chars refuses '+'
  double v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return Err(InvalidArgument(fmt::format("line {}, column '{}' ({}): '{}' is out of range", line,
                                           column, index + 1, Shown(s))));
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return Err(InvalidArgument(fmt::format("line {}, column '{}' ({}): '{}' is not a number", line,
                                           column, index + 1, Shown(s))));
  }
  if (std::isinf(v)) {
    return Err(InvalidArgument(fmt::format("line {}, column '{}' ({}): '{}' is not a finite number",
                                           line, column, index + 1, Shown(s))));
  }
  if (std::isnan(v)) return kMissing;
  return v;
}

Result<std::vector<std::string>> HeaderOf(CsvReader& reader) {
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(bool any, reader.Next(&names));
  if (!any) return Err(InvalidArgument("The CSV data is empty: no header row"));
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    names[i] = std::string(Trim(names[i]));
    if (names[i].empty()) {
      return Err(InvalidArgument(fmt::format("line {}: column {} has no name in the header",
                                             reader.record_line(), i + 1)));
    }
    if (!seen.insert(names[i]).second) {
      return Err(InvalidArgument(fmt::format("line {}: column '{}' appears twice in the header",
                                             reader.record_line(), names[i])));
    }
  }
  return names;
}

}  // namespace

Result<std::vector<std::string>> ReadCsvHeader(std::string_view text) {
  CsvReader reader(text);
  return HeaderOf(reader);
}

Result<Table> ParseCsv(std::string_view text, std::span<const std::string> columns) {
  CsvReader reader(text);
  ASSIGN_OR_RETURN(std::vector<std::string> header, HeaderOf(reader));
  // Positions in the header of the kept columns, in header order.
  std::vector<size_t> keep;
  if (columns.empty()) {
    for (size_t i = 0; i < header.size(); ++i) keep.push_back(i);
  } else {
    for (const std::string& c : columns) {
      bool found = false;
      for (size_t i = 0; i < header.size() && !found; ++i) found = header[i] == c;
      if (!found) return Err(InvalidArgument("The CSV data has no column '" + c + "'"));
    }
    for (size_t i = 0; i < header.size(); ++i) {
      for (const std::string& c : columns) {
        if (header[i] == c) keep.push_back(i);
      }
    }
  }
  Table table;
  for (size_t i : keep) table.columns.push_back(header[i]);
  std::vector<std::string> fields;
  while (true) {
    ASSIGN_OR_RETURN(bool any, reader.Next(&fields));
    if (!any) break;
    if (fields.size() != header.size()) {
      return Err(InvalidArgument(fmt::format("line {} has {} fields; the header has {}",
                                             reader.record_line(), fields.size(), header.size())));
    }
    for (size_t i : keep) {
      ASSIGN_OR_RETURN(double v, ParseCell(fields[i], reader.record_line(), header[i], i));
      table.values.push_back(v);
    }
    ++table.rows;
  }
  return table;
}

}  // namespace mlforge::training

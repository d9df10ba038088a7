#include "serving/codec.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "base/json.h"

namespace mlforge::serving {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// ------------------------------------------------------------ messages

// s shortened for an error message.
std::string Echo(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out(s.substr(0, kMax));
  if (s.size() > kMax) out += "...";
  return out;
}

// "row 3" (requests) or "line 17" (batch files).
struct RowLabel {
  std::string_view unit = "row";
  int64_t base = 0;
  std::string operator()(int64_t r) const { return fmt::format("{} {}", unit, base + r); }
};

// Where a value came from, put into words only when there is an error: the
// per-value path runs once per field of every row of a batch file.
class Where {
 public:
  Where() = default;
  Where(const RowLabel& label, int64_t r) : label_(&label), r_(r) {}
  bool empty() const { return label_ == nullptr; }
  std::string str() const { return label_ ? (*label_)(r_) : std::string(); }

 private:
  const RowLabel* label_ = nullptr;
  int64_t r_ = 0;
};

Status ColumnError(const ColumnSpec& column, const Where& where, std::string_view what) {
  if (where.empty()) return InvalidArgument(fmt::format("Column '{}': {}", column.name, what));
  return InvalidArgument(fmt::format("Column '{}', {}: {}", column.name, where.str(), what));
}

std::string InputList(const ModelSignature& signature) {
  std::string names;
  for (size_t i = 0; i < signature.inputs.size(); ++i) {
    if (i == 8) return names + ", ...";
    names += (i ? ", " : "") + signature.inputs[i].name;
  }
  return names;
}

Status ExtraColumn(std::string_view name, const ModelSignature& signature) {
  return InvalidArgument(fmt::format("Column '{}' is not an input of the model (inputs: {})",
                                     Echo(name), InputList(signature)));
}

Status MissingColumn(const ColumnSpec& column, const ModelSignature& signature) {
  return InvalidArgument(
      fmt::format("Missing column '{}': the model's signature requires it (inputs: {})",
                  column.name, InputList(signature)));
}

Status Malformed(std::string_view what) {
  return Status(ErrorCode::kMalformedRequest, std::string(what));
}
Status BadShape(std::string what) { return Status(ErrorCode::kBadRequest, std::move(what)); }

std::string_view JsonKindName(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "a list";
    case element_type::OBJECT:
      return "an object";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
    default:
      return "a number";
  }
}

bool IsIntegerColumn(const ColumnSpec& c) {
  return c.type == ColumnType::kLong || c.type == ColumnType::kInteger;
}

// ------------------------------------------------------------ values

Status StoreInteger(double v, const ColumnSpec& column, const Where& where, float* dst) {
  if (column.type == ColumnType::kBoolean) {
    return ColumnError(column, where, "expected a boolean, got a number");
  }
  if (column.type == ColumnType::kInteger &&
      (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())) {
    return ColumnError(column, where, "the value does not fit a 32-bit integer column");
  }
  *dst = static_cast<float>(v);
  return Status::Ok();
}

// One JSON value into a feature of `column`. Integer columns take integers
// (3.0 too), boolean columns true/false, float columns any number and null
// (missing, NaN).
Status StoreJson(element e, const ColumnSpec& column, const Where& where, float* dst) {
  switch (e.type()) {
    case element_type::INT64:
      return StoreInteger(static_cast<double>(e.get_int64().value_unsafe()), column, where, dst);
    case element_type::UINT64: {
      if (column.type == ColumnType::kLong) {
        return ColumnError(column, where, "the value does not fit a 64-bit integer column");
      }
      return StoreInteger(static_cast<double>(e.get_uint64().value_unsafe()), column, where, dst);
    }
    case element_type::DOUBLE: {
      const double v = e.get_double().value_unsafe();
      if (IsIntegerColumn(column) && v != std::trunc(v)) {
        return ColumnError(
            column, where,
            fmt::format("expected an integer ({}), got {}", ColumnTypeName(column.type), v));
      }
      if (IsIntegerColumn(column) && std::fabs(v) > 9.2e18) {
        return ColumnError(column, where, "the value does not fit a 64-bit integer column");
      }
      return StoreInteger(v, column, where, dst);
    }
    case element_type::BOOL:
      if (column.type != ColumnType::kBoolean) {
        return ColumnError(column, where,
                           fmt::format("expected {}, got a boolean", ColumnTypeName(column.type)));
      }
      *dst = e.get_bool().value_unsafe() ? 1.0f : 0.0f;
      return Status::Ok();
    case element_type::NULL_VALUE:
      if (column.type == ColumnType::kDouble || column.type == ColumnType::kFloat) {
        *dst = kMissing;
        return Status::Ok();
      }
      return ColumnError(
          column, where,
          fmt::format("missing value (null) in a {} column", ColumnTypeName(column.type)));
    case element_type::STRING:
      return ColumnError(
          column, where,
          fmt::format("expected {}, got the string \"{}\"", ColumnTypeName(column.type),
                      Echo(e.get_string().value_unsafe())));
    default:
      return ColumnError(
          column, where,
          fmt::format("expected {}, got {}", ColumnTypeName(column.type), JsonKindName(e.type())));
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// pandas.read_csv's default missing-value markers (the common ones).
bool IsMissingText(std::string_view s) {
  static constexpr std::string_view kMarkers[] = {"",    "NaN",  "nan",  "NA",   "N/A",
                                                  "n/a", "null", "NULL", "None", "<NA>"};
  for (std::string_view m : kMarkers) {
    if (s == m) return true;
  }
  return false;
}

// One CSV field into a feature of `column`.
Status StoreText(std::string_view raw, const ColumnSpec& column, const Where& where,
                 float* dst) {
  std::string_view s = Trim(raw);
  if (column.type == ColumnType::kBoolean) {
    if (s == "True" || s == "true" || s == "TRUE" || s == "1") {
      *dst = 1.0f;
    } else if (s == "False" || s == "false" || s == "FALSE" || s == "0") {
      *dst = 0.0f;
    } else {
      return ColumnError(column, where, fmt::format("expected a boolean, got \"{}\"", Echo(raw)));
    }
    return Status::Ok();
  }
  if (IsIntegerColumn(column)) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      return ColumnError(column, where,
                         fmt::format("expected an integer ({}), got \"{}\"",
                                     ColumnTypeName(column.type), Echo(raw)));
    }
    return StoreInteger(static_cast<double>(v), column, where, dst);
  }
  if (IsMissingText(s)) {
    *dst = kMissing;
    return Status::Ok();
  }
  if (s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) {
    v = (!s.empty() && s.front() == '-') ? -HUGE_VAL : HUGE_VAL;
  } else if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return ColumnError(
        column, where,
        fmt::format("expected a number ({}), got \"{}\"", ColumnTypeName(column.type), Echo(raw)));
  }
  *dst = static_cast<float>(v);
  return Status::Ok();
}

// ------------------------------------------------------------ columns

// Input column of `name`, or -1. `hint` is where the name usually is (keys
// arrive in signature order), so the common case is one comparison.
int FindColumn(const ModelSignature& signature, std::string_view name, size_t hint) {
  const auto& inputs = signature.inputs;
  if (hint < inputs.size() && inputs[hint].name == name) return static_cast<int>(hint);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// After a row or a header: every required input present; absent optional
// inputs become missing values (NaN) when `row` is given.
Status CheckPresent(const ModelSignature& signature, const std::vector<char>& present, float* row,
                    const Where& where) {
  for (size_t c = 0; c < signature.inputs.size(); ++c) {
    if (present[c]) continue;
    const ColumnSpec& column = signature.inputs[c];
    if (column.required) {
      if (where.empty()) return MissingColumn(column, signature);
      return InvalidArgument(fmt::format(
          "Missing column '{}' in {}: the model's signature requires it", column.name, where.str()));
    }
    if (row) row[c] = kMissing;
  }
  return Status::Ok();
}

simdjson::dom::parser& ThreadParser() {
  // One parser per thread: its buffers are reused across requests.
  thread_local simdjson::dom::parser parser(simdjson::SIMDJSON_MAXSIZE_BYTES);
  thread_local bool configured = false;
  // On failure (out of memory) the next parse reports it.
  if (!configured) configured = parser.allocate(64 * 1024, kMaxRequestDepth) == simdjson::SUCCESS;
  return parser;
}

Result<element> ParseJson(std::string_view body) {
  element root;
  auto error = ThreadParser().parse(body.data(), body.size()).get(root);
  if (error == simdjson::DEPTH_ERROR) {
    return Err(
        Malformed(fmt::format("The JSON body nests deeper than {} levels", kMaxRequestDepth)));
  }
  if (error) {
    return Err(
        Malformed(fmt::format("The body is not valid JSON: {}", simdjson::error_message(error))));
  }
  return root;
}

FeatureBatch Shaped(const ModelSignature& signature, int64_t rows) {
  FeatureBatch batch{.rows = rows, .cols = static_cast<int64_t>(signature.inputs.size())};
  batch.values.resize(static_cast<size_t>(rows * batch.cols));
  return batch;
}

// ------------------------------------------------------------ MLflow shapes

// One record {column: value} into row r of out (already sized).
Status DecodeRecord(element e, const ModelSignature& signature, const RowLabel& label, int64_t r,
                    std::string_view id_column, std::vector<std::string>* ids, float* row,
                    std::vector<char>& present) {
  simdjson::dom::object record;
  if (e.get(record)) {
    return BadShape(
        fmt::format("{} is {}, not an object of column values", label(r), JsonKindName(e.type())));
  }
  std::fill(present.begin(), present.end(), 0);
  bool id_seen = false;
  size_t ordinal = 0;
  for (simdjson::dom::key_value_pair kv : record) {
    if (!id_column.empty() && kv.key == id_column) {
      if (id_seen) return InvalidArgument(fmt::format("{}: the id column appears twice", label(r)));
      id_seen = true;
      ids->push_back(simdjson::minify(kv.value));
    }
    const int c = FindColumn(signature, kv.key, ordinal++);
    if (c < 0) {
      if (id_seen && kv.key == id_column) continue;
      return ExtraColumn(kv.key, signature);
    }
    if (present[static_cast<size_t>(c)]) {
      return ColumnError(signature.inputs[static_cast<size_t>(c)], Where(label, r), "given twice");
    }
    present[static_cast<size_t>(c)] = 1;
    RETURN_IF_ERROR(
        StoreJson(kv.value, signature.inputs[static_cast<size_t>(c)], Where(label, r), &row[c]));
  }
  if (!id_column.empty() && !id_seen) {
    return InvalidArgument(
        fmt::format("{} has no value for the id column '{}'", label(r), id_column));
  }
  return CheckPresent(signature, present, row, Where(label, r));
}

Status DecodeRecordsInto(simdjson::dom::array records, const ModelSignature& signature,
                         const RowLabel& label, FeatureBatch* out) {
  std::vector<char> present(signature.inputs.size());
  int64_t r = 0;
  for (element e : records) {
    float* row = out->values.data() + r * out->cols;
    RETURN_IF_ERROR(DecodeRecord(e, signature, label, r, {}, nullptr, row, present));
    ++r;
  }
  return Status::Ok();
}

// Rows as lists, field i feeding input column field_column[i].
Status DecodeRowLists(simdjson::dom::array rows, const ModelSignature& signature,
                      const std::vector<int>& field_column, FeatureBatch* out) {
  const RowLabel label;
  const size_t width = field_column.size();
  int64_t r = 0;
  for (element e : rows) {
    float* row = out->values.data() + r * out->cols;
    simdjson::dom::array values;
    if (e.get(values)) {
      if (width != 1) {
        return BadShape(fmt::format("{} is {}, not a list of {} values", label(r),
                                    JsonKindName(e.type()), width));
      }
      const ColumnSpec& column = signature.inputs[static_cast<size_t>(field_column[0])];
      RETURN_IF_ERROR(StoreJson(e, column, Where(label, r), &row[field_column[0]]));
      ++r;
      continue;
    }
    size_t i = 0;
    for (element v : values) {
      if (i == width) {
        return InvalidArgument(
            fmt::format("{} has {} values; there are {} columns", label(r), values.size(), width));
      }
      const ColumnSpec& column = signature.inputs[static_cast<size_t>(field_column[i])];
      RETURN_IF_ERROR(StoreJson(v, column, Where(label, r), &row[field_column[i]]));
      ++i;
    }
    if (i < width) {
      return ColumnError(
          signature.inputs[static_cast<size_t>(field_column[i])], Where(label, r),
          fmt::format("no value (the row has {} values; there are {} columns)", i, width));
    }
    ++r;
  }
  return Status::Ok();
}

std::vector<int> IdentityFields(const ModelSignature& signature) {
  std::vector<int> fields(signature.inputs.size());
  for (size_t i = 0; i < fields.size(); ++i) fields[i] = static_cast<int>(i);
  return fields;
}

// Absent optional columns of a column-layout request: NaN in every row.
void FillAbsent(const ModelSignature& signature, const std::vector<char>& present,
                FeatureBatch* out) {
  for (size_t c = 0; c < present.size(); ++c) {
    if (present[c]) continue;
    for (int64_t r = 0; r < out->rows; ++r)
      out->values[static_cast<size_t>(r * out->cols) + c] = kMissing;
  }
}

Result<FeatureBatch> DecodeSplit(element e, const ModelSignature& signature) {
  simdjson::dom::object split;
  if (e.get(split))
    return Err(BadShape("dataframe_split must be an object {\"columns\", \"data\"}"));
  element columns, data;
  bool has_columns = false, has_data = false;
  for (simdjson::dom::key_value_pair kv : split) {
    if (kv.key == "columns") {
      columns = kv.value;
      has_columns = true;
    } else if (kv.key == "data") {
      data = kv.value;
      has_data = true;
    } else if (kv.key != "index") {
      return Err(BadShape(
          fmt::format("dataframe_split takes 'data' and optionally 'columns' and 'index'; got '{}'",
                      Echo(kv.key))));
    }
  }
  if (!has_data) return Err(BadShape("dataframe_split has no 'data'"));
  simdjson::dom::array rows;
  if (data.get(rows)) return Err(BadShape("dataframe_split 'data' must be a list of rows"));
  std::vector<int> fields;
  std::vector<char> present(signature.inputs.size());
  if (has_columns && !columns.is_null()) {
    simdjson::dom::array names;
    if (columns.get(names))
      return Err(BadShape("dataframe_split 'columns' must be a list of names"));
    size_t i = 0;
    for (element n : names) {
      std::string_view name;
      if (n.get(name)) return Err(BadShape("dataframe_split 'columns' must be a list of strings"));
      const int c = FindColumn(signature, name, i++);
      if (c < 0) return Err(ExtraColumn(name, signature));
      if (present[static_cast<size_t>(c)]) {
        return Err(
            ColumnError(signature.inputs[static_cast<size_t>(c)], Where(), "named twice in 'columns'"));
      }
      present[static_cast<size_t>(c)] = 1;
      fields.push_back(c);
    }
    RETURN_IF_ERROR(CheckPresent(signature, present, nullptr, Where()));
  } else {
    // No column names: the values are in signature order.
    fields = IdentityFields(signature);
    std::fill(present.begin(), present.end(), 1);
  }
  FeatureBatch out = Shaped(signature, static_cast<int64_t>(rows.size()));
  RETURN_IF_ERROR(DecodeRowLists(rows, signature, fields, &out));
  FillAbsent(signature, present, &out);
  return out;
}

// {column: [values]}: every column the same length.
Result<FeatureBatch> DecodeColumnar(simdjson::dom::object columns,
                                    const ModelSignature& signature) {
  std::vector<char> present(signature.inputs.size());
  int64_t rows = -1;
  std::string_view first_name;
  size_t ordinal = 0;
  // Pass 1: names and lengths, so the batch is allocated once.
  for (simdjson::dom::key_value_pair kv : columns) {
    const int c = FindColumn(signature, kv.key, ordinal++);
    if (c < 0) return Err(ExtraColumn(kv.key, signature));
    const ColumnSpec& column = signature.inputs[static_cast<size_t>(c)];
    if (present[static_cast<size_t>(c)]) return Err(ColumnError(column, Where(), "given twice"));
    present[static_cast<size_t>(c)] = 1;
    simdjson::dom::array values;
    const int64_t n = kv.value.get(values) ? 1 : static_cast<int64_t>(values.size());
    if (rows < 0) {
      rows = n;
      first_name = kv.key;
    } else if (n != rows) {
      return Err(ColumnError(column, Where(),
                             fmt::format("{} values, but column '{}' has {} (ragged columns)", n,
                                         Echo(first_name), rows)));
    }
  }
  RETURN_IF_ERROR(CheckPresent(signature, present, nullptr, Where()));
  FeatureBatch out = Shaped(signature, std::max<int64_t>(rows, 0));
  const RowLabel label;
  for (simdjson::dom::key_value_pair kv : columns) {
    const int c = FindColumn(signature, kv.key, 0);
    const ColumnSpec& column = signature.inputs[static_cast<size_t>(c)];
    simdjson::dom::array values;
    if (kv.value.get(values)) {
      RETURN_IF_ERROR(StoreJson(kv.value, column, Where(label, 0), &out.values[static_cast<size_t>(c)]));
      continue;
    }
    int64_t r = 0;
    for (element v : values) {
      RETURN_IF_ERROR(
          StoreJson(v, column, Where(label, r), &out.values[static_cast<size_t>(r * out.cols + c)]));
      ++r;
    }
  }
  FillAbsent(signature, present, &out);
  return out;
}

// instances / inputs given as a list: records, rows in signature order, or
// (one input column) scalars.
Result<FeatureBatch> DecodeInstanceList(simdjson::dom::array items,
                                        const ModelSignature& signature) {
  FeatureBatch out = Shaped(signature, static_cast<int64_t>(items.size()));
  if (items.size() == 0) return out;
  const element_type first = (*items.begin()).type();
  if (first == element_type::OBJECT) {
    RETURN_IF_ERROR(DecodeRecordsInto(items, signature, RowLabel{}, &out));
    return out;
  }
  RETURN_IF_ERROR(DecodeRowLists(items, signature, IdentityFields(signature), &out));
  return out;
}

// ------------------------------------------------------------ CSV

// Splits one CSV line into fields. Quoted fields may hold commas and ""
// (an escaped quote); unescaped text goes to *scratch, which must have room
// for the whole line so the views stay valid.
Status SplitCsvLine(std::string_view line, std::vector<std::string_view>* fields,
                    std::string* scratch) {
  fields->clear();
  scratch->clear();
  scratch->reserve(line.size());
  size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      const size_t start = scratch->size();
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            scratch->push_back('"');
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        scratch->push_back(line[i++]);
      }
      if (!closed) return Malformed("a quoted field is not closed on its line");
      fields->emplace_back(scratch->data() + start, scratch->size() - start);
      if (i < line.size() && line[i] != ',') return Malformed("text after a quoted field");
    } else {
      const size_t comma = line.find(',', i);
      const size_t end = comma == std::string_view::npos ? line.size() : comma;
      fields->push_back(line.substr(i, end - i));
      i = end;
    }
    if (i >= line.size()) break;
    ++i;  // the comma
    if (i == line.size()) {
      fields->push_back({});
      break;
    }
  }
  return Status::Ok();
}

std::string_view NextLine(std::string_view text, size_t* pos) {
  const size_t nl = text.find('\n', *pos);
  const size_t end = nl == std::string_view::npos ? text.size() : nl;
  std::string_view line = text.substr(*pos, end - *pos);
  *pos = nl == std::string_view::npos ? text.size() : nl + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view MediaType(std::string_view content_type, std::string_view* params) {
  const size_t semi = content_type.find(';');
  *params = semi == std::string_view::npos ? std::string_view() : content_type.substr(semi + 1);
  return Trim(content_type.substr(0, semi));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// ------------------------------------------------------------ OIP

enum class TensorType { kBool, kInt, kUint, kFloat };

struct DatatypeInfo {
  std::string_view name;
  TensorType type;
  double min, max;  // integer range
};

constexpr DatatypeInfo kDatatypes[] = {
    {"BOOL", TensorType::kBool, 0, 1},
    {"INT8", TensorType::kInt, -128.0, 127.0},
    {"INT16", TensorType::kInt, -32768.0, 32767.0},
    {"INT32", TensorType::kInt, -2147483648.0, 2147483647.0},
    {"INT64", TensorType::kInt, -9223372036854775808.0, 9223372036854775807.0},
    {"UINT8", TensorType::kUint, 0, 255.0},
    {"UINT16", TensorType::kUint, 0, 65535.0},
    {"UINT32", TensorType::kUint, 0, 4294967295.0},
    {"UINT64", TensorType::kUint, 0, 18446744073709551615.0},
    {"FP16", TensorType::kFloat, 0, 0},
    {"FP32", TensorType::kFloat, 0, 0},
    {"FP64", TensorType::kFloat, 0, 0},
};

const DatatypeInfo* FindDatatype(std::string_view name) {
  for (const DatatypeInfo& d : kDatatypes) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

struct Tensor {
  std::string_view name;
  const DatatypeInfo* datatype = nullptr;
  std::vector<int64_t> shape;
  element data;
  int64_t count = 1;  // product of shape
};

Status TensorError(const Tensor& t, std::string_view what) {
  return InvalidArgument(fmt::format("Input tensor '{}': {}", Echo(t.name), what));
}

Result<Tensor> ReadTensor(element e, size_t index) {
  simdjson::dom::object object;
  if (e.get(object)) return Err(BadShape(fmt::format("inputs[{}] is not an object", index)));
  Tensor t;
  bool has_name = false, has_shape = false, has_datatype = false, has_data = false;
  for (simdjson::dom::key_value_pair kv : object) {
    if (kv.key == "name") {
      if (kv.value.get(t.name))
        return Err(BadShape(fmt::format("inputs[{}].name is not a string", index)));
      has_name = true;
    } else if (kv.key == "shape") {
      simdjson::dom::array dims;
      if (kv.value.get(dims))
        return Err(BadShape(fmt::format("inputs[{}].shape is not a list", index)));
      for (element d : dims) {
        int64_t v = 0;
        if (d.get(v) || v < 0) {
          return Err(
              BadShape(fmt::format("inputs[{}].shape holds something other than a size", index)));
        }
        t.shape.push_back(v);
      }
      has_shape = true;
    } else if (kv.key == "datatype") {
      std::string_view name;
      if (kv.value.get(name))
        return Err(BadShape(fmt::format("inputs[{}].datatype is not a string", index)));
      t.datatype = FindDatatype(name);
      if (t.datatype == nullptr) {
        return Err(InvalidArgument(fmt::format(
            "inputs[{}].datatype '{}' is not supported (BOOL, INT8-64, UINT8-64, FP16, FP32, FP64)",
            index, Echo(name))));
      }
      has_datatype = true;
    } else if (kv.key == "data") {
      t.data = kv.value;
      has_data = true;
    } else if (kv.key == "parameters") {
      simdjson::dom::object params;
      if (!kv.value.get(params) && params["binary_data_size"].error() == simdjson::SUCCESS) {
        return Err(BadShape("Binary tensor data is not supported; send `data` as JSON"));
      }
    }
  }
  if (!has_name || !has_shape || !has_datatype || !has_data) {
    return Err(
        BadShape(fmt::format("inputs[{}] needs 'name', 'shape', 'datatype' and 'data'", index)));
  }
  for (int64_t d : t.shape) {
    if (d != 0 && t.count > std::numeric_limits<int64_t>::max() / d) {
      return Err(TensorError(t, "the shape is too large"));
    }
    t.count *= d;
  }
  return t;
}

// One tensor element, checked against the tensor's datatype, as a double.
Status TensorValue(const Tensor& t, element e, double* out) {
  const DatatypeInfo& dt = *t.datatype;
  switch (e.type()) {
    case element_type::BOOL:
      if (dt.type != TensorType::kBool) {
        return TensorError(t, fmt::format("a boolean in a {} tensor", dt.name));
      }
      *out = e.get_bool().value_unsafe() ? 1.0 : 0.0;
      return Status::Ok();
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: {
      double v = e.type() == element_type::INT64 ? static_cast<double>(e.get_int64().value_unsafe())
                 : e.type() == element_type::UINT64
                     ? static_cast<double>(e.get_uint64().value_unsafe())
                     : e.get_double().value_unsafe();
      if (dt.type == TensorType::kBool) return TensorError(t, "a number in a BOOL tensor");
      if (dt.type != TensorType::kFloat) {
        if (e.type() == element_type::DOUBLE && v != std::trunc(v)) {
          return TensorError(t, fmt::format("{} in a {} tensor is not an integer", v, dt.name));
        }
        if (v < dt.min || v > dt.max) {
          return TensorError(t, fmt::format("{} is out of range for {}", v, dt.name));
        }
      }
      *out = v;
      return Status::Ok();
    }
    default:
      return TensorError(
          t, fmt::format("expected {} values, got {}", dt.name, JsonKindName(e.type())));
  }
}

// The datatype a column accepts: integer columns integer tensors, boolean
// columns BOOL, float columns any numeric tensor.
Status CheckColumnDatatype(const Tensor& t, const ColumnSpec& column) {
  const TensorType tt = t.datatype->type;
  bool ok = true;
  if (IsIntegerColumn(column)) ok = tt == TensorType::kInt || tt == TensorType::kUint;
  if (column.type == ColumnType::kBoolean) ok = tt == TensorType::kBool;
  if (ok) return Status::Ok();
  return ColumnError(column, Where(),
                     fmt::format("a {} column cannot take a {} tensor ('{}')",
                                 ColumnTypeName(column.type), t.datatype->name, Echo(t.name)));
}

// The data's top level holds the element count (flat) or the first
// dimension (nested). Checked before anything is allocated from the shape,
// so a shape claiming a huge batch costs nothing.
Status CheckDataSize(const Tensor& t) {
  simdjson::dom::array top;
  if (t.data.get(top)) return TensorError(t, "'data' is not a list");
  const bool nested = top.size() > 0 && (*top.begin()).type() == element_type::ARRAY;
  const int64_t want = nested ? (t.shape.empty() ? 0 : t.shape[0]) : t.count;
  if (static_cast<int64_t>(top.size()) != want) {
    return TensorError(t, fmt::format("'data' holds {} values but the shape [{}] needs {}",
                                      top.size(), fmt::join(t.shape, ", "), t.count));
  }
  return Status::Ok();
}

// Walks `data` (flat, or nested to the shape) calling sink(i, value) for the
// i-th element in row-major order.
template <typename Sink>
Status WalkTensorData(const Tensor& t, Sink&& sink) {
  simdjson::dom::array top;
  if (t.data.get(top)) return TensorError(t, "'data' is not a list");
  int64_t index = 0;
  // Flat: a list of scalars of the full element count.
  const bool flat = top.size() == 0 || (*top.begin()).type() != element_type::ARRAY;
  if (flat) {
    if (static_cast<int64_t>(top.size()) != t.count) {
      return TensorError(t, fmt::format("'data' holds {} values but the shape [{}] needs {}",
                                        top.size(), fmt::join(t.shape, ", "), t.count));
    }
    for (element e : top) {
      double v = 0;
      RETURN_IF_ERROR(TensorValue(t, e, &v));
      RETURN_IF_ERROR(sink(index++, v));
    }
    return Status::Ok();
  }
  // Nested: every level's length must be that dimension.
  struct Walker {
    const Tensor& t;
    Sink& sink;
    int64_t& index;
    Status Walk(element e, size_t level) {
      if (level == t.shape.size()) {
        double v = 0;
        RETURN_IF_ERROR(TensorValue(t, e, &v));
        return sink(index++, v);
      }
      simdjson::dom::array items;
      if (e.get(items) || static_cast<int64_t>(items.size()) != t.shape[level]) {
        return TensorError(t, fmt::format("nested 'data' does not match the shape [{}]",
                                          fmt::join(t.shape, ", ")));
      }
      for (element item : items) RETURN_IF_ERROR(Walk(item, level + 1));
      return Status::Ok();
    }
  };
  Walker walker{t, sink, index};
  return walker.Walk(t.data, 0);
}

Status StoreTensorValue(const ColumnSpec& column, double v, int64_t row, float* dst) {
  if (IsIntegerColumn(column)) {
    RowLabel label;
    return StoreInteger(v, column, Where(label, row), dst);
  }
  *dst = static_cast<float>(v);
  return Status::Ok();
}

}  // namespace

// ------------------------------------------------------------ public

FeatureBatch EmptyBatchFor(const ModelSignature& signature) { return Shaped(signature, 0); }

Result<FeatureBatch> DecodeInvocationsJson(std::string_view body, const ModelSignature& signature) {
  ASSIGN_OR_RETURN(element root, ParseJson(body));
  simdjson::dom::object object;
  if (root.get(object)) {
    return Err(BadShape(fmt::format(
        "The input must be a JSON object with exactly one of the fields dataframe_split, "
        "dataframe_records, instances, inputs; got {}",
        JsonKindName(root.type()))));
  }
  element data;
  std::string_view format;
  int formats = 0;
  for (simdjson::dom::key_value_pair kv : object) {
    if (kv.key == "dataframe_split" || kv.key == "dataframe_records" || kv.key == "instances" ||
        kv.key == "inputs") {
      ++formats;
      format = kv.key;
      data = kv.value;
    }
  }
  if (formats != 1) {
    return Err(
        BadShape("The input must be a JSON object with exactly one of the fields dataframe_split, "
                 "dataframe_records, instances, inputs"));
  }
  if (format == "dataframe_split") return DecodeSplit(data, signature);
  simdjson::dom::array list;
  if (format == "dataframe_records") {
    if (data.get(list)) return Err(BadShape("dataframe_records must be a list of records"));
    FeatureBatch out = Shaped(signature, static_cast<int64_t>(list.size()));
    RETURN_IF_ERROR(DecodeRecordsInto(list, signature, RowLabel{}, &out));
    return out;
  }
  simdjson::dom::object columns;
  if (!data.get(columns)) return DecodeColumnar(columns, signature);
  if (data.get(list)) {
    return Err(
        BadShape(fmt::format("'{}' must be a list of rows or an object of columns", format)));
  }
  return DecodeInstanceList(list, signature);
}

Result<FeatureBatch> DecodeInvocationsCsv(std::string_view body, const ModelSignature& signature) {
  size_t pos = 0;
  std::string_view header;
  int64_t header_line = 0;
  while (pos < body.size() && header.empty()) {
    header = NextLine(body, &pos);
    ++header_line;
  }
  if (header.empty()) return Err(BadShape("The CSV body has no header row"));
  ASSIGN_OR_RETURN(CsvLayout layout, CsvLayout::FromHeader(header, signature));
  FeatureBatch out = EmptyBatchFor(signature);
  RETURN_IF_ERROR(layout.DecodeLines(body.substr(pos), header_line + 1, &out, nullptr));
  return out;
}

Result<FeatureBatch> DecodeInvocationsRequest(std::string_view content_type, std::string_view body,
                                              const ModelSignature& signature) {
  std::string_view params;
  const std::string_view media = MediaType(content_type, &params);
  // Parameters: only charset=utf-8 (MLflow answers others with 415).
  while (!params.empty()) {
    const size_t semi = params.find(';');
    std::string_view p = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.empty()) continue;
    const size_t eq = p.find('=');
    std::string_view key = Trim(p.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? "" : Trim(p.substr(eq + 1));
    if (!value.empty() && value.front() == '"' && value.size() >= 2)
      value = value.substr(1, value.size() - 2);
    if (!EqualsIgnoreCase(key, "charset")) {
      return Err(BadShape(fmt::format("Unrecognized content type parameter '{}'", Echo(key))));
    }
    if (!EqualsIgnoreCase(value, "utf-8"))
      return Err(BadShape("The scoring server only supports UTF-8"));
  }
  if (EqualsIgnoreCase(media, "application/json")) return DecodeInvocationsJson(body, signature);
  if (EqualsIgnoreCase(media, "text/csv")) return DecodeInvocationsCsv(body, signature);
  return Err(BadShape(fmt::format(
      "This predictor only supports the content types application/json and text/csv; got '{}'",
      Echo(content_type))));
}

void AppendInvocationsResponse(const PredictionBatch& predictions, std::string* out) {
  out->append("{\"predictions\":[");
  const size_t cols = static_cast<size_t>(predictions.cols);
  for (int64_t r = 0; r < predictions.rows; ++r) {
    if (r) out->push_back(',');
    const double* row = predictions.values.data() + r * predictions.cols;
    if (cols == 1) {
      json::AppendDouble(*out, row[0]);
      continue;
    }
    out->push_back('[');
    for (size_t c = 0; c < cols; ++c) {
      if (c) out->push_back(',');
      json::AppendDouble(*out, row[c]);
    }
    out->push_back(']');
  }
  out->append("]}");
}

Result<InferRequest> DecodeInferRequest(std::string_view body, const ModelSignature& signature) {
  ASSIGN_OR_RETURN(element root, ParseJson(body));
  simdjson::dom::object object;
  if (root.get(object)) return Err(BadShape("The infer request must be a JSON object"));
  InferRequest request;
  simdjson::dom::array inputs;
  bool has_inputs = false;
  for (simdjson::dom::key_value_pair kv : object) {
    if (kv.key == "id") {
      std::string_view id;
      if (kv.value.get(id)) return Err(BadShape("'id' must be a string"));
      request.has_id = true;
      request.id.assign(id);
    } else if (kv.key == "inputs") {
      if (kv.value.get(inputs)) return Err(BadShape("'inputs' must be a list of tensors"));
      has_inputs = true;
    } else if (kv.key == "outputs") {
      simdjson::dom::array outputs;
      if (kv.value.get(outputs)) return Err(BadShape("'outputs' must be a list"));
      for (element o : outputs) {
        std::string_view name;
        if (o["name"].get(name))
          return Err(BadShape("each requested output needs a string 'name'"));
        if (name != kInferOutputName) {
          return Err(InvalidArgument(fmt::format("The model has no output '{}'; its output is '{}'",
                                                 Echo(name), kInferOutputName)));
        }
      }
    }
  }
  if (!has_inputs || inputs.size() == 0) return Err(BadShape("The infer request has no 'inputs'"));

  std::vector<Tensor> tensors;
  size_t index = 0;
  for (element e : inputs) {
    ASSIGN_OR_RETURN(Tensor t, ReadTensor(e, index++));
    tensors.push_back(std::move(t));
  }
  const int64_t width = static_cast<int64_t>(signature.inputs.size());
  const Tensor& first = tensors.front();
  const bool names_a_column = FindColumn(signature, first.name, 0) >= 0;
  const bool matrix =
      tensors.size() == 1 && ((first.shape.size() == 2 && first.shape[1] == width && width > 1) ||
                              (!names_a_column && (first.shape.size() == 2 || width == 1)));
  if (matrix) {
    // One tensor [N, F] holding every column in signature order.
    const Tensor& t = first;
    const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
    if (t.shape.size() > 2 || t.shape.empty() || cols != width) {
      return Err(TensorError(
          t, fmt::format("shape [{}] does not fit the model's {} inputs ({}): "
                         "send [N, {}] or one tensor per column",
                         fmt::join(t.shape, ", "), width, InputList(signature), width)));
    }
    for (const ColumnSpec& column : signature.inputs)
      RETURN_IF_ERROR(CheckColumnDatatype(t, column));
    RETURN_IF_ERROR(CheckDataSize(t));
    request.features = Shaped(signature, t.shape[0]);
    float* values = request.features.values.data();
    RETURN_IF_ERROR(WalkTensorData(t, [&](int64_t i, double v) {
      const ColumnSpec& column = signature.inputs[static_cast<size_t>(i % width)];
      return StoreTensorValue(column, v, i / width, &values[i]);
    }));
    return request;
  }
  // One tensor per column.
  std::vector<char> present(signature.inputs.size());
  std::vector<int> column_of(tensors.size());
  int64_t rows = -1;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    const int c = FindColumn(signature, t.name, k);
    if (c < 0) return Err(ExtraColumn(t.name, signature));
    const ColumnSpec& column = signature.inputs[static_cast<size_t>(c)];
    if (present[static_cast<size_t>(c)]) return Err(ColumnError(column, Where(), "given twice"));
    present[static_cast<size_t>(c)] = 1;
    column_of[k] = c;
    if (t.shape.empty() || t.shape.size() > 2 || (t.shape.size() == 2 && t.shape[1] != 1)) {
      return Err(ColumnError(
          column, Where(),
          fmt::format("tensor shape [{}]; a column is [N] or [N, 1]", fmt::join(t.shape, ", "))));
    }
    if (rows < 0) {
      rows = t.shape[0];
    } else if (t.shape[0] != rows) {
      return Err(ColumnError(
          column, Where(),
          fmt::format("{} rows, but tensor '{}' has {}", t.shape[0], Echo(tensors[0].name), rows)));
    }
    RETURN_IF_ERROR(CheckColumnDatatype(t, column));
    RETURN_IF_ERROR(CheckDataSize(t));
  }
  RETURN_IF_ERROR(CheckPresent(signature, present, nullptr, Where()));
  request.features = Shaped(signature, rows);
  float* values = request.features.values.data();
  for (size_t k = 0; k < tensors.size(); ++k) {
    const int c = column_of[k];
    const ColumnSpec& column = signature.inputs[static_cast<size_t>(c)];
    RETURN_IF_ERROR(WalkTensorData(tensors[k], [&](int64_t r, double v) {
      return StoreTensorValue(column, v, r, &values[r * width + c]);
    }));
  }
  FillAbsent(signature, present, &request.features);
  return request;
}

void AppendInferResponse(const InferResponseHeader& header, const PredictionBatch& predictions,
                         std::string* out) {
  out->append("{\"model_name\":");
  json::AppendQuoted(*out, header.model_name);
  if (!header.model_version.empty()) {
    out->append(",\"model_version\":");
    json::AppendQuoted(*out, header.model_version);
  }
  if (header.id != nullptr) {
    out->append(",\"id\":");
    json::AppendQuoted(*out, *header.id);
  }
  out->append(",\"outputs\":[{\"name\":");
  json::AppendQuoted(*out, kInferOutputName);
  out->append(",\"shape\":[");
  out->append(std::to_string(predictions.rows));
  if (predictions.cols != 1) {
    out->push_back(',');
    out->append(std::to_string(predictions.cols));
  }
  out->append("],\"datatype\":\"FP64\",\"data\":[");
  for (size_t i = 0; i < predictions.values.size(); ++i) {
    if (i) out->push_back(',');
    json::AppendDouble(*out, predictions.values[i]);
  }
  out->append("]}]}");
}

void AppendInferModelMetadata(std::string_view model_name, const std::vector<std::string>& versions,
                              std::string_view platform, const ModelSignature& signature,
                              std::string* out) {
  json::Writer w(out);
  w.StartObject();
  w.Field("name", model_name);
  if (!versions.empty()) {
    w.Key("versions").StartArray();
    for (const std::string& v : versions) w.String(v);
    w.EndArray();
  }
  w.Field("platform", platform);
  w.Key("inputs").StartArray();
  for (const ColumnSpec& column : signature.inputs) {
    std::string_view datatype = IsIntegerColumn(column)               ? "INT64"
                                : column.type == ColumnType::kBoolean ? "BOOL"
                                : column.type == ColumnType::kFloat   ? "FP32"
                                                                      : "FP64";
    w.StartObject().Field("name", column.name).Field("datatype", datatype);
    w.Key("shape").StartArray().Int(-1).EndArray().EndObject();
  }
  w.EndArray();
  w.Key("outputs").StartArray().StartObject();
  w.Field("name", kInferOutputName).Field("datatype", "FP64");
  w.Key("shape").StartArray().Int(-1);
  if (signature.outputs.size() > 1) w.Int(static_cast<int64_t>(signature.outputs.size()));
  w.EndArray().EndObject().EndArray();
  w.EndObject();
}

Result<CsvLayout> CsvLayout::FromHeader(std::string_view header_line,
                                        const ModelSignature& signature,
                                        std::string_view id_column) {
  CsvLayout layout;
  layout.inputs_ = signature.inputs;
  std::vector<std::string_view> fields;
  std::string scratch;
  Status split = SplitCsvLine(header_line, &fields, &scratch);
  if (!split.ok()) return Err(Malformed("The CSV header is not valid: " + split.message()));
  std::vector<char> present(signature.inputs.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string_view name = Trim(fields[i]);
    layout.field_names_.emplace_back(name);
    if (!id_column.empty() && name == id_column) {
      if (layout.id_field_ >= 0)
        return Err(InvalidArgument(fmt::format("The id column '{}' appears twice", Echo(name))));
      layout.id_field_ = static_cast<int>(i);
    }
    const int c = FindColumn(signature, name, i);
    if (c < 0) {
      if (layout.id_field_ == static_cast<int>(i)) {
        layout.field_column_.push_back(-1);
        continue;
      }
      return Err(ExtraColumn(name, signature));
    }
    if (present[static_cast<size_t>(c)]) {
      return Err(
          ColumnError(signature.inputs[static_cast<size_t>(c)], Where(), "appears twice in the header"));
    }
    present[static_cast<size_t>(c)] = 1;
    layout.field_column_.push_back(c);
  }
  if (!id_column.empty() && layout.id_field_ < 0) {
    return Err(InvalidArgument(
        fmt::format("The id column '{}' is not in the CSV header", Echo(id_column))));
  }
  RETURN_IF_ERROR(CheckPresent(signature, present, nullptr, Where()));
  for (size_t c = 0; c < present.size(); ++c) {
    if (!present[c]) layout.absent_columns_.push_back(c);
  }
  return layout;
}

Status CsvLayout::DecodeLines(std::string_view text, int64_t first_line, FeatureBatch* out,
                              std::vector<std::string>* ids) const {
  const RowLabel label{.unit = "line", .base = first_line};
  std::vector<std::string_view> fields;
  std::string scratch;
  size_t pos = 0;
  for (int64_t n = 0; pos < text.size(); ++n) {
    const std::string_view line = NextLine(text, &pos);
    if (line.empty()) continue;
    Status split = SplitCsvLine(line, &fields, &scratch);
    if (!split.ok()) return Malformed(fmt::format("{}: {}", label(n), split.message()));
    if (fields.size() != field_column_.size()) {
      if (fields.size() < field_column_.size()) {
        return InvalidArgument(
            fmt::format("{}: no value for column '{}' ({} fields; the header has {})", label(n),
                        field_names_[fields.size()], fields.size(), field_column_.size()));
      }
      return InvalidArgument(fmt::format("{}: {} fields; the header has {}", label(n),
                                         fields.size(), field_column_.size()));
    }
    out->values.resize(out->values.size() + static_cast<size_t>(out->cols));
    float* row = out->values.data() + out->rows * out->cols;
    for (size_t i = 0; i < fields.size(); ++i) {
      const int c = field_column_[i];
      if (c >= 0) {
        RETURN_IF_ERROR(StoreText(fields[i], inputs_[static_cast<size_t>(c)], Where(label, n), &row[c]));
      }
    }
    for (size_t c : absent_columns_) row[c] = kMissing;
    if (id_field_ >= 0 && ids != nullptr) ids->emplace_back(fields[static_cast<size_t>(id_field_)]);
    ++out->rows;
  }
  return Status::Ok();
}

Status DecodeJsonLines(std::string_view text, const ModelSignature& signature,
                       std::string_view id_column, int64_t first_line, FeatureBatch* out,
                       std::vector<std::string>* ids) {
  const RowLabel label{.unit = "line", .base = first_line};
  std::vector<char> present(signature.inputs.size());
  std::vector<std::string> discarded;
  size_t pos = 0;
  for (int64_t n = 0; pos < text.size(); ++n) {
    std::string_view line = Trim(NextLine(text, &pos));
    if (line.empty()) continue;
    auto root = ParseJson(line);
    if (!root)
      return Status(root.error().code(), fmt::format("{}: {}", label(n), root.error().message()));
    out->values.resize(out->values.size() + static_cast<size_t>(out->cols));
    float* row = out->values.data() + out->rows * out->cols;
    Status s =
        DecodeRecord(*root, signature, label, n, id_column, ids ? ids : &discarded, row, present);
    if (!s.ok()) {
      // Column errors name the column; say where the line is too.
      if (s.message().find(label(n)) == std::string::npos) {
        return Status(s.code(), fmt::format("{}: {}", label(n), s.message()));
      }
      return s;
    }
    discarded.clear();
    ++out->rows;
  }
  return Status::Ok();
}

}  // namespace mlforge::serving

#include "serving/codec.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/json.h"

namespace mlforge::serving {
namespace {

// a: double, b: long, c: boolean, d: double and optional.
ModelSignature Sig() {
  ModelSignature s;
  s.inputs = {ColumnSpec{.name = "a", .type = ColumnType::kDouble},
              ColumnSpec{.name = "b", .type = ColumnType::kLong},
              ColumnSpec{.name = "c", .type = ColumnType::kBoolean},
              ColumnSpec{.name = "d", .type = ColumnType::kDouble, .required = false}};
  s.outputs = {ColumnSpec{.name = "prediction"}};
  return s;
}

// Expected rows (NaN compares equal to NaN here).
void ExpectRows(const FeatureBatch& b, std::vector<std::vector<float>> rows) {
  ASSERT_EQ(b.rows, static_cast<int64_t>(rows.size()));
  ASSERT_EQ(b.cols, 4);
  ASSERT_EQ(b.values.size(), rows.size() * 4);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < 4; ++c) {
      const float got = b.at(static_cast<int64_t>(r), static_cast<int64_t>(c));
      if (std::isnan(rows[r][c])) {
        EXPECT_TRUE(std::isnan(got)) << "row " << r << " col " << c;
      } else {
        EXPECT_EQ(got, rows[r][c]) << "row " << r << " col " << c;
      }
    }
  }
}

// An error of `code` whose message mentions `needle` (usually the column).
template <typename T>
void ExpectError(const Result<T>& r, ErrorCode code, std::string_view needle) {
  ASSERT_FALSE(r.has_value()) << "expected an error mentioning " << needle;
  EXPECT_EQ(r.error().code(), code) << r.error().message();
  EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
}

Result<FeatureBatch> Json(std::string_view body) { return DecodeInvocationsJson(body, Sig()); }

const float kNaN = NAN;

// ------------------------------------------------------------ MLflow JSON

TEST(InvocationsJsonTest, DataframeSplitInAnyColumnOrder) {
  auto b = Json(R"({"dataframe_split": {"columns": ["c", "a", "b", "d"], "index": [7, 8],
                    "data": [[true, 1.5, 3, null], [false, -2, -4, 0.25]]}})");
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ExpectRows(*b, {{1.5f, 3, 1, kNaN}, {-2, -4, 0, 0.25f}});
}

TEST(InvocationsJsonTest, DataframeSplitWithoutColumnsIsSignatureOrder) {
  auto b = Json(R"({"dataframe_split": {"data": [[1, 2, true, 3]]}})");
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ExpectRows(*b, {{1, 2, 1, 3}});
}

TEST(InvocationsJsonTest, OptionalColumnMayBeAbsent) {
  auto b = Json(R"({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, true]]}})");
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ExpectRows(*b, {{1, 2, 1, kNaN}});
}

TEST(InvocationsJsonTest, DataframeRecords) {
  auto b = Json(R"({"dataframe_records": [{"b": 1, "a": 0.5, "c": true, "d": 2},
                                          {"a": 1e3, "b": 3.0, "c": false}], "params": {"x": 1}})");
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ExpectRows(*b, {{0.5f, 1, 1, 2}, {1000, 3, 0, kNaN}});
}

TEST(InvocationsJsonTest, InstancesAsRowsAndAsRecords) {
  auto rows = Json(R"({"instances": [[1, 2, true, 3], [4, 5, false, null]]})");
  ASSERT_TRUE(rows.has_value()) << rows.error().message();
  ExpectRows(*rows, {{1, 2, 1, 3}, {4, 5, 0, kNaN}});
  auto records = Json(R"({"instances": [{"a": 1, "b": 2, "c": true}]})");
  ASSERT_TRUE(records.has_value()) << records.error().message();
  ExpectRows(*records, {{1, 2, 1, kNaN}});
}

TEST(InvocationsJsonTest, InputsAsColumnsAndAsRows) {
  auto columns = Json(R"({"inputs": {"a": [1, 2], "b": [3, 4], "c": [true, false], "d": [5, 6]}})");
  ASSERT_TRUE(columns.has_value()) << columns.error().message();
  ExpectRows(*columns, {{1, 3, 1, 5}, {2, 4, 0, 6}});
  auto rows = Json(R"({"inputs": [[1, 2, true, 3]]})");
  ASSERT_TRUE(rows.has_value()) << rows.error().message();
  ExpectRows(*rows, {{1, 2, 1, 3}});
}

TEST(InvocationsJsonTest, SingleColumnModelTakesScalars) {
  ModelSignature one;
  one.inputs = {ColumnSpec{.name = "x"}};
  auto b = DecodeInvocationsJson(R"({"instances": [1, 2.5, null]})", one);
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ASSERT_EQ(b->rows, 3);
  EXPECT_EQ(b->values[1], 2.5f);
  EXPECT_TRUE(std::isnan(b->values[2]));
}

TEST(InvocationsJsonTest, SignatureMismatchesNameTheColumn) {
  using E = ErrorCode;
  // Missing column.
  ExpectError(Json(R"({"dataframe_split": {"columns": ["a", "c"], "data": [[1, true]]}})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(Json(R"({"dataframe_records": [{"a": 1, "c": true}]})"), E::kInvalidParameterValue, "'b'");
  ExpectError(Json(R"({"inputs": {"a": [1], "c": [true]}})"), E::kInvalidParameterValue, "'b'");
  // Extra column.
  ExpectError(Json(R"({"dataframe_split": {"columns": ["a", "b", "c", "zz"], "data": [[1, 2, true, 3]]}})"),
              E::kInvalidParameterValue, "'zz'");
  ExpectError(Json(R"({"dataframe_records": [{"a": 1, "b": 2, "c": true, "zz": 1}]})"),
              E::kInvalidParameterValue, "'zz'");
  // Wrong types.
  ExpectError(Json(R"({"dataframe_records": [{"a": "1.5", "b": 2, "c": true}]})"),
              E::kInvalidParameterValue, "'a'");
  ExpectError(Json(R"({"dataframe_records": [{"a": 1, "b": 2.5, "c": true}]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(Json(R"({"dataframe_records": [{"a": 1, "b": null, "c": true}]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(Json(R"({"dataframe_records": [{"a": 1, "b": 2, "c": 1}]})"),
              E::kInvalidParameterValue, "'c'");
  ExpectError(Json(R"({"dataframe_records": [{"a": [1], "b": 2, "c": true}]})"),
              E::kInvalidParameterValue, "'a'");
  ExpectError(Json(R"({"dataframe_records": [{"a": 1, "a": 2, "b": 2, "c": true}]})"),
              E::kInvalidParameterValue, "'a'");
  // Ragged rows and columns.
  ExpectError(Json(R"({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, true], [1, 2]]}})"),
              E::kInvalidParameterValue, "'c'");
  ExpectError(Json(R"({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, true, 4]]}})"),
              E::kInvalidParameterValue, "4 values");
  ExpectError(Json(R"({"inputs": {"a": [1, 2], "b": [3], "c": [true, false]}})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(Json(R"({"instances": [[1, 2, true, 3], [1, 2]]})"), E::kInvalidParameterValue, "'c'");
}

TEST(InvocationsJsonTest, WrongShapesAreBadRequests) {
  using E = ErrorCode;
  ExpectError(Json("[1, 2]"), E::kBadRequest, "exactly one");
  ExpectError(Json(R"({"data": [[1]]})"), E::kBadRequest, "exactly one");
  ExpectError(Json(R"({"instances": [], "inputs": []})"), E::kBadRequest, "exactly one");
  ExpectError(Json(R"({"dataframe_split": [[1, 2]]})"), E::kBadRequest, "dataframe_split");
  ExpectError(Json(R"({"dataframe_split": {"columns": ["a"]}})"), E::kBadRequest, "'data'");
  ExpectError(Json(R"({"dataframe_split": {"data": [], "extra": 1}})"), E::kBadRequest, "extra");
  ExpectError(Json(R"({"dataframe_records": {"a": 1}})"), E::kBadRequest, "list");
  ExpectError(Json(R"({"dataframe_records": [1, 2]})"), E::kBadRequest, "row 0");
}

TEST(InvocationsJsonTest, BadJsonAndNestingBombsAreMalformed) {
  ExpectError(Json(R"({"instances": [1, 2)"), ErrorCode::kMalformedRequest, "JSON");
  ExpectError(Json(""), ErrorCode::kMalformedRequest, "JSON");
  std::string bomb = R"({"instances": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  ExpectError(Json(bomb), ErrorCode::kMalformedRequest, "deeper");
}

TEST(InvocationsJsonTest, ManyRowsAreFine) {
  std::string body = R"({"instances": [)";
  for (int i = 0; i < 20000; ++i) body += (i ? "," : "") + std::string("[1.5, 2, true, null]");
  body += "]}";
  auto b = Json(body);
  ASSERT_TRUE(b.has_value()) << b.error().message();
  EXPECT_EQ(b->rows, 20000);
  EXPECT_EQ(b->at(19999, 0), 1.5f);
}

// ------------------------------------------------------------ CSV

TEST(InvocationsCsvTest, HeaderOrderQuotesMissingAndCrlf) {
  auto b = DecodeInvocationsRequest("text/csv; charset=UTF-8",
                                    "c,\"a\",b,d\r\nTrue,1.5,3,\r\nfalse,\"-2e1\",-4,NaN\r\n\r\n", Sig());
  ASSERT_TRUE(b.has_value()) << b.error().message();
  ExpectRows(*b, {{1.5f, 3, 1, kNaN}, {-20, -4, 0, kNaN}});
}

TEST(InvocationsCsvTest, ErrorsNameColumnAndLine) {
  using E = ErrorCode;
  ExpectError(DecodeInvocationsCsv("a,c\n1,True\n", Sig()), E::kInvalidParameterValue, "'b'");
  ExpectError(DecodeInvocationsCsv("a,b,c,zz\n1,2,True,3\n", Sig()), E::kInvalidParameterValue, "'zz'");
  ExpectError(DecodeInvocationsCsv("a,b,c\n1,2,True\nx,2,True\n", Sig()), E::kInvalidParameterValue,
              "Column 'a', line 3");
  ExpectError(DecodeInvocationsCsv("a,b,c\n1,2.5,True\n", Sig()), E::kInvalidParameterValue, "'b'");
  ExpectError(DecodeInvocationsCsv("a,b,c\n1,2,yes\n", Sig()), E::kInvalidParameterValue, "'c'");
  ExpectError(DecodeInvocationsCsv("a,b,c\n1,2\n", Sig()), E::kInvalidParameterValue, "'c'");
  ExpectError(DecodeInvocationsCsv("a,b,c\n1,2,True,4\n", Sig()), E::kInvalidParameterValue, "line 2");
  ExpectError(DecodeInvocationsCsv("a,b,c\n\"1,2,True\n", Sig()), E::kMalformedRequest, "line 2");
  ExpectError(DecodeInvocationsCsv("", Sig()), E::kBadRequest, "header");
}

TEST(InvocationsRequestTest, ContentTypes) {
  EXPECT_TRUE(DecodeInvocationsRequest("application/json", R"({"instances": [[1, 2, true, 3]]})", Sig()));
  EXPECT_TRUE(DecodeInvocationsRequest("application/json; charset=utf-8",
                                       R"({"instances": [[1, 2, true, 3]]})", Sig()));
  ExpectError(DecodeInvocationsRequest("application/json; charset=latin-1", "{}", Sig()),
              ErrorCode::kBadRequest, "UTF-8");
  ExpectError(DecodeInvocationsRequest("application/json; format=pandas-split", "{}", Sig()),
              ErrorCode::kBadRequest, "format");
  ExpectError(DecodeInvocationsRequest("text/plain", "a", Sig()), ErrorCode::kBadRequest, "text/plain");
}

TEST(InvocationsResponseTest, OneColumnIsAListSeveralAreRows) {
  std::string out;
  AppendInvocationsResponse(PredictionBatch{.rows = 2, .cols = 1, .values = {0.25, 3}}, &out);
  EXPECT_EQ(out, R"({"predictions":[0.25,3.0]})");
  out.clear();
  AppendInvocationsResponse(PredictionBatch{.rows = 2, .cols = 2, .values = {0.25, 0.75, 1, 0}}, &out);
  EXPECT_EQ(out, R"({"predictions":[[0.25,0.75],[1.0,0.0]]})");
}

// ------------------------------------------------------------ OIP v2

Result<InferRequest> Infer(std::string_view body) { return DecodeInferRequest(body, Sig()); }

TEST(InferRequestTest, OneTensorPerColumn) {
  auto r = Infer(R"({"id": "req-1", "inputs": [
      {"name": "c", "shape": [2], "datatype": "BOOL", "data": [true, false]},
      {"name": "a", "shape": [2, 1], "datatype": "FP32", "data": [[1.5], [2]]},
      {"name": "b", "shape": [2], "datatype": "INT64", "data": [3, -4]}]})");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(r->has_id);
  EXPECT_EQ(r->id, "req-1");
  ExpectRows(r->features, {{1.5f, 3, 1, kNaN}, {2, -4, 0, kNaN}});
}

TEST(InferRequestTest, OneMatrixFlatOrNested) {
  ModelSignature sig;
  sig.inputs = {ColumnSpec{.name = "x"}, ColumnSpec{.name = "y"}, ColumnSpec{.name = "z"}};
  for (std::string_view body : {
           R"({"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}]})",
           R"({"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4, 5, 6]]}]})",
           R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "INT32", "data": [[1, 2, 3], [4, 5, 6]]}]})",
       }) {
    auto r = DecodeInferRequest(body, sig);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->has_id);
    EXPECT_EQ(r->features.rows, 2);
    EXPECT_EQ(r->features.values, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(InferRequestTest, Errors) {
  using E = ErrorCode;
  const std::string a = R"({"name": "a", "shape": [1], "datatype": "FP64", "data": [1]})";
  const std::string c = R"({"name": "c", "shape": [1], "datatype": "BOOL", "data": [true]})";
  auto with_b = [&](std::string_view b) {
    return Infer(R"({"inputs": [)" + a + "," + std::string(b) + "," + c + "]}");
  };
  ExpectError(Infer(R"({"inputs": [)" + a + "," + c + "]}"), E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "INT64", "data": [1]},
                        {"name": "zz", "shape": [1], "datatype": "FP32", "data": [1]})"),
              E::kInvalidParameterValue, "'zz'");
  ExpectError(with_b(R"({"name": "b", "shape": [2], "datatype": "INT64", "data": [1]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "INT64", "data": [1.5]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "UINT8", "data": [300]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "FP32", "data": [1]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "BYTES", "data": ["x"]})"),
              E::kInvalidParameterValue, "BYTES");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "INT64", "data": ["1"]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "INT64", "data": [[1, 2]]})"),
              E::kInvalidParameterValue, "'b'");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "INT64", "data": [1],
                         "parameters": {"binary_data_size": 8}})"),
              E::kBadRequest, "Binary");
  ExpectError(with_b(R"({"name": "b", "shape": [1], "datatype": "INT64"})"), E::kBadRequest, "'data'");
  ExpectError(Infer(R"({"inputs": [{"name": "m", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]})"),
              E::kInvalidParameterValue, "4 inputs");
  ExpectError(Infer(R"({"inputs": []})"), E::kBadRequest, "inputs");
  ExpectError(Infer(R"({"id": 5, "inputs": []})"), E::kBadRequest, "id");
  ExpectError(Infer(R"({"inputs": [)" + a + R"(], "outputs": [{"name": "proba"}]})"),
              E::kInvalidParameterValue, "proba");
  ExpectError(Infer(R"({"inputs": [{"name": "m", "shape": [4611686018427387904, 4611686018427387904],
                        "datatype": "FP64", "data": [1]}]})"),
              E::kInvalidParameterValue, "shape");
  ExpectError(Infer("{\"inputs\": [" + std::string(5000, '[')), E::kMalformedRequest, "");
}

TEST(InferResponseTest, Shape) {
  std::string out;
  const std::string id = "r1";
  AppendInferResponse({.model_name = "m", .model_version = "3", .id = &id},
                      PredictionBatch{.rows = 2, .cols = 1, .values = {0.5, 1}}, &out);
  auto v = json::Parse(out);
  ASSERT_TRUE(v.has_value()) << out;
  EXPECT_EQ(v->Find("model_name")->as_string(), "m");
  EXPECT_EQ(v->Find("model_version")->as_string(), "3");
  EXPECT_EQ(v->Find("id")->as_string(), "r1");
  const json::Value& o = v->Find("outputs")->items()[0];
  EXPECT_EQ(o.Find("name")->as_string(), "predict");
  EXPECT_EQ(o.Find("datatype")->as_string(), "FP64");
  EXPECT_EQ(json::Serialize(*o.Find("shape")), "[2]");
  EXPECT_EQ(json::Serialize(*o.Find("data")), "[0.5,1.0]");
  out.clear();
  AppendInferResponse({.model_name = "m"}, PredictionBatch{.rows = 1, .cols = 3, .values = {0.1, 0.2, 0.7}}, &out);
  EXPECT_EQ(out,
            R"({"model_name":"m","outputs":[{"name":"predict","shape":[1,3],"datatype":"FP64","data":[0.1,0.2,0.7]}]})");
}

TEST(InferMetadataTest, OneTensorPerColumn) {
  std::string out;
  AppendInferModelMetadata("m", {"1"}, "xgboost", Sig(), &out);
  auto v = json::Parse(out);
  ASSERT_TRUE(v.has_value()) << out;
  ASSERT_EQ(v->Find("inputs")->items().size(), 4u);
  EXPECT_EQ(v->Find("inputs")->items()[1].Find("datatype")->as_string(), "INT64");
  EXPECT_EQ(v->Find("inputs")->items()[2].Find("datatype")->as_string(), "BOOL");
  EXPECT_EQ(v->Find("outputs")->items()[0].Find("name")->as_string(), "predict");
}

// ------------------------------------------------------------ lines

TEST(CsvLayoutTest, IdColumnAndLineNumbers) {
  auto layout = CsvLayout::FromHeader("id,b,a,c", Sig(), "id");
  ASSERT_TRUE(layout.has_value()) << layout.error().message();
  FeatureBatch out = EmptyBatchFor(Sig());
  std::vector<std::string> ids;
  ASSERT_TRUE(layout->DecodeLines("r1,1,0.5,True\nr2,2,1.5,False", 2, &out, &ids).ok());
  ASSERT_TRUE(layout->DecodeLines("r3,3,2.5,True\n", 4, &out, &ids).ok());
  ExpectRows(out, {{0.5f, 1, 1, kNaN}, {1.5f, 2, 0, kNaN}, {2.5f, 3, 1, kNaN}});
  EXPECT_EQ(ids, (std::vector<std::string>{"r1", "r2", "r3"}));
  Status s = layout->DecodeLines("r4,4,x,True\n", 10, &out, &ids);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(s.message().find("Column 'a', line 10"), std::string::npos) << s.message();
  EXPECT_FALSE(CsvLayout::FromHeader("b,a,c", Sig(), "id").has_value());
}

TEST(JsonLinesTest, RecordsWithIdsAndLineNumbers) {
  FeatureBatch out = EmptyBatchFor(Sig());
  std::vector<std::string> ids;
  Status s = DecodeJsonLines("{\"id\": 7, \"a\": 1, \"b\": 2, \"c\": true}\n\n"
                             "{\"a\": 3, \"b\": 4, \"c\": false, \"id\": \"x\"}\n",
                             Sig(), "id", 1, &out, &ids);
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectRows(out, {{1, 2, 1, kNaN}, {3, 4, 0, kNaN}});
  EXPECT_EQ(ids, (std::vector<std::string>{"7", "\"x\""}));
  s = DecodeJsonLines("{\"id\": 1, \"a\": 1, \"b\": 2, \"c\": true}\n{\"id\": 2, \"a\": 1, \"c\": true}\n",
                      Sig(), "id", 5, &out, &ids);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(s.message().find("line 6"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'b'"), std::string::npos) << s.message();
  s = DecodeJsonLines("{\"a\": 1,\n", Sig(), "", 1, &out, nullptr);
  EXPECT_EQ(s.code(), ErrorCode::kMalformedRequest);
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace mlforge::serving

#include "serving/batch_predict.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/json.h"
#include "serving/codec.h"

namespace mlforge::serving {
namespace {

struct Chunk {
  int64_t seq = 0;
  int64_t first_line = 0;  // 1-based line number of the chunk's first line
  std::string text;        // whole lines
};

struct Output {
  Status status;
  std::string text;
  int64_t rows = 0;
};

// Appends a value as CSV/JSON number text (NaN as NaN in CSV, null in JSON).
void AppendNumber(std::string& out, double v, LineFormat format) {
  if (std::isnan(v) || std::isinf(v)) {
    if (format == LineFormat::kJsonl) {
      out.append("null");
    } else {
      out.append(std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf"));
    }
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void AppendCsvField(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// An id as the input had it: raw CSV text, or JSON text from JSON Lines.
void AppendId(std::string& out, const std::string& id, LineFormat in, LineFormat out_format) {
  if (in == out_format) {
    if (out_format == LineFormat::kCsv) {
      AppendCsvField(out, id);
    } else {
      out.append(id);
    }
  } else if (out_format == LineFormat::kJsonl) {
    json::AppendQuoted(out, id);  // CSV text -> JSON string
  } else {
    // JSON -> CSV: a string's content, anything else its JSON text.
    auto v = json::Parse(id);
    AppendCsvField(out,
                   v && v->is_string() ? std::string_view(v->as_string()) : std::string_view(id));
  }
}

class Pipeline {
 public:
  Pipeline(const ModelRuntime& runtime, const BatchPredictOptions& options,
           std::optional<CsvLayout> layout)
      : runtime_(runtime),
        options_(options),
        layout_(std::move(layout)),
        max_in_flight_(2 * std::max(1, options.threads) + 2) {
    for (const ColumnSpec& c : runtime.signature().outputs) output_names_.push_back(c.name);
    if (output_names_.empty()) output_names_.push_back("prediction");
  }

  std::string Header() const {
    std::string h;
    if (!options_.id_column.empty()) {
      AppendCsvField(h, options_.id_column);
      h.push_back(',');
    }
    for (size_t i = 0; i < output_names_.size(); ++i) {
      if (i) h.push_back(',');
      AppendCsvField(h, output_names_[i]);
    }
    h.push_back('\n');
    return h;
  }

  // Reader side (caller's thread). Blocks while too many chunks are in flight.
  // Returns false when the run is stopping.
  bool Push(Chunk chunk) {
    std::unique_lock lock(mu_);
    can_read_.wait(lock, [&] { return stop_ || chunk.seq - next_to_write_ < max_in_flight_; });
    if (stop_) return false;
    queue_.push_back(std::move(chunk));
    have_work_.notify_one();
    return true;
  }

  void FinishInput(int64_t total_chunks, Status read_status) {
    std::lock_guard lock(mu_);
    total_chunks_ = total_chunks;
    read_status_ = std::move(read_status);
    input_done_ = true;
    have_work_.notify_all();
    have_output_.notify_all();
  }

  void Work() {
    while (true) {
      Chunk chunk;
      {
        std::unique_lock lock(mu_);
        have_work_.wait(lock, [&] { return stop_ || !queue_.empty() || input_done_; });
        if (stop_ || queue_.empty()) return;
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      Output output = Process(chunk);
      std::lock_guard lock(mu_);
      done_.emplace(chunk.seq, std::move(output));
      have_output_.notify_all();
    }
  }

  // Writer thread: emits chunks in order. Returns the first error.
  Status Write(std::ostream& out, int64_t* rows) {
    for (int64_t seq = 0;; ++seq) {
      Output output;
      {
        std::unique_lock lock(mu_);
        have_output_.wait(
            lock, [&] { return done_.count(seq) > 0 || (input_done_ && seq >= total_chunks_); });
        if (done_.count(seq) == 0) return read_status_;  // all written
        output = std::move(done_[seq]);
        done_.erase(seq);
        next_to_write_ = seq + 1;
        can_read_.notify_all();
      }
      if (!output.status.ok()) return output.status;
      out.write(output.text.data(), static_cast<std::streamsize>(output.text.size()));
      if (!out) return Internal("Cannot write the output");
      *rows += output.rows;
      if (options_.progress) options_.progress(*rows);
    }
  }

  void Stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    can_read_.notify_all();
    have_work_.notify_all();
    have_output_.notify_all();
  }

 private:
  Output Process(const Chunk& chunk) const {
    Output result;
    FeatureBatch batch = EmptyBatchFor(runtime_.signature());
    std::vector<std::string> ids;
    std::vector<std::string>* id_sink = options_.id_column.empty() ? nullptr : &ids;
    result.status = layout_ ? layout_->DecodeLines(chunk.text, chunk.first_line, &batch, id_sink)
                            : DecodeJsonLines(chunk.text, runtime_.signature(), options_.id_column,
                                              chunk.first_line, &batch, id_sink);
    if (!result.status.ok()) return result;
    auto predictions = runtime_.Predict(batch);
    if (!predictions) {
      result.status =
          Status(predictions.error().code(),
                 fmt::format("lines {}..: {}", chunk.first_line, predictions.error().message()));
      return result;
    }
    const LineFormat format = options_.output_format;
    const int64_t cols = predictions->cols;
    result.text.reserve(static_cast<size_t>(batch.rows * (cols * 20 + 24)));
    for (int64_t r = 0; r < predictions->rows; ++r) {
      const double* row = predictions->values.data() + r * cols;
      if (format == LineFormat::kCsv) {
        if (id_sink) {
          AppendId(result.text, ids[static_cast<size_t>(r)], options_.input_format, format);
          result.text.push_back(',');
        }
        for (int64_t c = 0; c < cols; ++c) {
          if (c) result.text.push_back(',');
          AppendNumber(result.text, row[c], format);
        }
      } else {
        result.text.push_back('{');
        if (id_sink) {
          json::AppendQuoted(result.text, options_.id_column);
          result.text.push_back(':');
          AppendId(result.text, ids[static_cast<size_t>(r)], options_.input_format, format);
          result.text.push_back(',');
        }
        for (int64_t c = 0; c < cols; ++c) {
          if (c) result.text.push_back(',');
          json::AppendQuoted(result.text, c < static_cast<int64_t>(output_names_.size())
                                              ? output_names_[static_cast<size_t>(c)]
                                              : fmt::format("output_{}", c));
          result.text.push_back(':');
          AppendNumber(result.text, row[c], format);
        }
        result.text.push_back('}');
      }
      result.text.push_back('\n');
    }
    result.rows = predictions->rows;
    return result;
  }

  const ModelRuntime& runtime_;
  const BatchPredictOptions& options_;
  const std::optional<CsvLayout> layout_;
  const int64_t max_in_flight_;
  std::vector<std::string> output_names_;

  // Guards everything below: the hand-offs between reader, workers, writer.
  std::mutex mu_;
  std::condition_variable can_read_, have_work_, have_output_;
  std::deque<Chunk> queue_;
  std::map<int64_t, Output> done_;
  int64_t next_to_write_ = 0;
  int64_t total_chunks_ = 0;
  bool input_done_ = false;
  bool stop_ = false;
  Status read_status_;
};

}  // namespace

Result<BatchPredictStats> BatchPredict(const ModelRuntime& runtime, std::istream& in,
                                       std::ostream& out, const BatchPredictOptions& options) {
  if (options.threads < 1 || options.batch_rows < 1) {
    return Err(InvalidArgument("threads and batch rows must be at least 1"));
  }
  std::string line;
  int64_t line_no = 0;
  std::optional<CsvLayout> layout;
  if (options.input_format == LineFormat::kCsv) {
    // The header: the first non-empty line.
    while (line.empty() || line == "\r") {
      if (!std::getline(in, line))
        return Err(InvalidArgument("The CSV input is empty: it needs a header row"));
      ++line_no;
    }
    if (line.back() == '\r') line.pop_back();
    auto parsed = CsvLayout::FromHeader(line, runtime.signature(), options.id_column);
    if (!parsed) {
      return Err(Status(parsed.error().code(),
                        fmt::format("line {} (header): {}", line_no, parsed.error().message())));
    }
    layout = std::move(*parsed);
  }

  Pipeline pipeline(runtime, options, std::move(layout));
  if (options.output_format == LineFormat::kCsv) {
    const std::string header = pipeline.Header();
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
  }
  BatchPredictStats stats;
  Status write_status;
  std::vector<std::jthread> workers;
  for (int i = 0; i < options.threads; ++i) workers.emplace_back([&] { pipeline.Work(); });
  std::jthread writer([&] {
    write_status = pipeline.Write(out, &stats.rows);
    // Done or failed: stop reading and working either way.
    pipeline.Stop();
  });

  // Reader: the input in large blocks, cut after every batch_rows-th line.
  // (Line by line, the reader cost as much CPU as a worker.)
  constexpr size_t kReadBlock = 1 << 20;
  std::vector<char> block(kReadBlock);
  int64_t seq = 0;
  Chunk chunk{.seq = 0, .first_line = line_no + 1};
  int64_t lines = 0;
  bool stopped = false;
  auto push = [&] {
    if (!pipeline.Push(std::move(chunk))) return false;
    chunk = Chunk{.seq = ++seq, .first_line = line_no + 1};
    lines = 0;
    return true;
  };
  while (!stopped && in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const char* p = block.data();
    const char* const end = p + in.gcount();
    const char* segment = p;  // start of what is not in chunk.text yet
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) break;
      ++line_no;
      p = nl + 1;
      if (++lines == options.batch_rows) {
        chunk.text.append(segment, p);
        segment = p;
        if (!push()) {
          stopped = true;
          break;
        }
      }
    }
    if (!stopped) chunk.text.append(segment, end);
  }
  if (!stopped && !chunk.text.empty()) {
    if (chunk.text.back() != '\n') {  // the last line had no newline
      chunk.text.push_back('\n');
      ++line_no;
      ++lines;
    }
    stopped = !push();
  }
  Status read_status = in.bad() ? InvalidArgument("Cannot read the input") : Status::Ok();
  pipeline.FinishInput(seq, std::move(read_status));
  writer.join();
  workers.clear();  // joins
  if (!write_status.ok()) return Err(write_status);
  out.flush();
  if (!out) return Err(Internal("Cannot write the output"));
  return stats;
}

}  // namespace mlforge::serving

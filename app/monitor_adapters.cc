#include "app/monitor_adapters.h"

namespace mlforge::app {

void MonitorPredictionSink::OnPrediction(const serving::CapturedPrediction& p) {
  using Sampling = monitor::LiveMonitor::Sampling;
  const Sampling decision = monitor_.Decide(p.deployment, p.request_id);
  if (decision == Sampling::kOff) return;
  monitor::CapturedRequest r;
  r.deployment = std::string(p.deployment);
  r.timestamp_ms = p.timestamp_ms;
  r.latency_ms = p.latency_ms;
  r.error = p.error;
  if (decision == Sampling::kSample && !p.error && p.features != nullptr && p.outputs != nullptr &&
      p.signature != nullptr) {
    r.sampled = true;
    r.request_id = std::string(p.request_id);
    r.feature_names.reserve(p.signature->inputs.size());
    for (const serving::ColumnSpec& c : p.signature->inputs) r.feature_names.push_back(c.name);
    r.rows = p.features->rows;
    r.features = p.features->values;
    r.output_names = p.outputs->output_names;
    r.outputs = p.outputs->values;
  }
  monitor_.Capture(std::move(r));
}

}  // namespace mlforge::app

// Adapts monitor's live capture to serving's PredictionSink: the glue that
// lets serving hand finished requests to the monitors without either
// subsystem including the other.
#pragma once

#include "monitor/monitor.h"
#include "serving/serving.h"

namespace mlforge::app {

// Thread-safe (LiveMonitor is). On the request path: one sampling decision,
// rows copied only when sampled, one non-blocking push. The monitor must
// outlive the sink.
class MonitorPredictionSink final : public serving::PredictionSink {
 public:
  explicit MonitorPredictionSink(monitor::LiveMonitor& monitor) : monitor_(monitor) {}
  void OnPrediction(const serving::CapturedPrediction& prediction) override;

 private:
  monitor::LiveMonitor& monitor_;
};

}  // namespace mlforge::app

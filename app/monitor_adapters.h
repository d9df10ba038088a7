// Adapts monitor's live capture to serving's PredictionSink: the glue that
// lets serving hand finished requests to the monitors without either
// subsystem including the other.
#pragma once

#include "monitor/monitor.h"
#include "serving/serving.h"

namespace mlforge {
namespace data {
class DatasetService;
}
namespace registry {
class RegistryService;
}
namespace tracking {
class TrackingService;
}
}  // namespace mlforge

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

// Reference profiles from training data: a dataset version's CSV files
// (read from the dataset object store), or the dataset version a model
// version's run logged as its input. Thread-safe (the services are); they
// must outlive it.
class TrainingDataReferences final : public monitor::ReferenceSource {
 public:
  TrainingDataReferences(registry::RegistryService& registry, tracking::TrackingService& tracking,
                         data::DatasetService& datasets)
      : registry_(registry), tracking_(tracking), datasets_(datasets) {}

  Result<monitor::DatasetProfile> ProfileDataset(std::string_view version_id) override;
  Result<monitor::DatasetProfile> ProfileModelVersion(std::string_view model,
                                                      int64_t version) override;

 private:
  registry::RegistryService& registry_;
  tracking::TrackingService& tracking_;
  data::DatasetService& datasets_;
};

}  // namespace mlforge::app

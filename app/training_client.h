// The client side of built-in training, shared by `mlforge train` and
// `mlforge demo`: a training::RunLogger over the tracking server's REST API,
// model registration, and libgomp's wait policy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "training/training.h"

namespace mlforge {
class Clock;
}

namespace mlforge::app {

class ServerApi;

// Records a run through the MLflow REST API (runs/create, log-batch,
// log-inputs, artifact uploads, runs/update); creates the experiment when
// missing. Externally synchronized; `api` and `clock` must outlive it.
std::unique_ptr<training::RunLogger> MakeHttpRunLogger(ServerApi& api, const Clock& clock);

// $USER, else the passwd entry's name, else "unknown".
std::string UserName();

// Creates the registered model `model` if missing, then a version with source
// runs:/<run_id>/model; stores its number in *version.
Status RegisterModelVersion(ServerApi& api, const std::string& model, const std::string& run_id,
                            int64_t* version);

// libgomp (under libxgboost) spin-waits between parallel regions by default;
// with more runnable threads than cores (a CI box, a shared trainer) that
// makes boosting 10-40 times slower. It reads its wait policy from the
// environment when it is loaded, before main(), so unless the user chose a
// policy, the verb sets OMP_WAIT_POLICY=PASSIVE and executes itself again,
// once. If that fails, training goes on with the default policy.
void PreferPassiveOpenMpWaits();

}  // namespace mlforge::app

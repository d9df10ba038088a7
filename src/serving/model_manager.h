// The model manager behind ServingEngine (serving.h). Private to src/serving.
//
// One manager thread owns every load, warm-up, swap and unload: it re-reads
// the deployments and resolves their routes every poll interval (or at once
// on Refresh), loads and warms the versions a deployment now needs, and only
// when all of them are ready publishes a new routing table (an atomic
// shared_ptr swap). A revision that cannot be loaded leaves the old snapshot
// serving. Objects owning threads (batchers, shadow mirrors) are destroyed
// only by the manager, once nothing else holds them, so no thread ever joins
// itself.
#pragma once

#include "serving/serving.h"

namespace mlforge::serving {

// Legal DeploymentState changes (the one place they are listed; staying in
// a state is always legal):
//   PENDING  -> READY, FAILED        (first revision loaded / failed)
//   FAILED   -> PENDING              (retrying, or a new revision)
//   READY    -> UPDATING             (a new revision or alias target loads)
//   UPDATING -> READY, DEGRADED      (swapped / failed: the old one serves on)
//   DEGRADED -> UPDATING, READY      (retrying / back to what is served)
bool IsLegalTransition(DeploymentState from, DeploymentState to);


}  // namespace mlforge::serving

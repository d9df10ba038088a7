// Adapts the model registry to serving's ModelSource: a route's alias or
// number is resolved with RegistryService::Resolve (models:/ URIs), and the
// package is the version's pinned copy in the artifact store.
#pragma once

#include "serving/serving.h"

namespace mlforge {
namespace registry {
class RegistryService;
}
namespace blob {
class ArtifactStore;
}
}  // namespace mlforge

namespace mlforge::app {

// Thread-safe (the registry and the store are). Both must outlive it.
class RegistryModelSource final : public serving::ModelSource {
 public:
  RegistryModelSource(registry::RegistryService& registry, blob::ArtifactStore& artifacts)
      : registry_(registry), artifacts_(artifacts) {}

  Result<serving::ResolvedModel> Resolve(const serving::RouteSpec& route) override;

 private:
  registry::RegistryService& registry_;
  blob::ArtifactStore& artifacts_;
};

}  // namespace mlforge::app

#include "app/model_source_adapter.h"

#include <fmt/core.h>

#include "blob/blob.h"
#include "registry/registry.h"

namespace mlforge::app {

Result<serving::ResolvedModel> RegistryModelSource::Resolve(const serving::RouteSpec& route) {
  const std::string uri = route.alias.empty()
                              ? fmt::format("models:/{}/{}", route.model_name, route.version)
                              : fmt::format("models:/{}@{}", route.model_name, route.alias);
  ASSIGN_OR_RETURN(registry::ModelVersion version, registry_.Resolve(uri));
  // The pinned package is a directory of views; the artifact store resolves
  // files (never directories), so find its MLmodel and take the folder.
  auto mlmodel = artifacts_.Resolve(version.storage_path + "/MLmodel");
  if (!mlmodel) {
    return Err(Status(mlmodel.error().code(),
                      fmt::format("{} version {} has no MLmodel file in its pinned package: {}",
                                  version.name, version.version, mlmodel.error().message())));
  }
  serving::ResolvedModel resolved;
  resolved.model_name = version.name;
  resolved.version = version.version;
  resolved.package_dir = mlmodel->parent_path();
  return resolved;
}

}  // namespace mlforge::app

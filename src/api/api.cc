#include "api/api.h"

#include "api/handlers.h"
#include "http/http.h"

namespace mlforge::api {

void RegisterMlflowRoutes(http::Router& router, const MlflowContext& context) {
  RegisterTrackingRoutes(router, context);
  RegisterArtifactRoutes(router, context);
  RegisterRegistryRoutes(router, context);
  router.Add(http::Method::kGet, "/health", [](http::Request&, http::Response& response) {
    response.content_type = "text/plain";
    response.body = "OK";
  });
  router.Add(http::Method::kGet, "/version",
             [version = context.version](http::Request&, http::Response& response) {
               response.content_type = "text/plain";
               response.body = version;
             });
}

}  // namespace mlforge::api

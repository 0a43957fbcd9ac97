#include "http/oci_response.h"

namespace shoal::oci {

awaitable<void> respond_api_base(http::Exchange& ex) {
  http::Head head;
  head.result(bhttp::status::ok);
  head.set("Docker-Distribution-API-Version", "registry/2.0");
  head.set(bhttp::field::content_type, "application/json");
  co_await ex.respond(std::move(head), "{}");
}

}  // namespace shoal::oci

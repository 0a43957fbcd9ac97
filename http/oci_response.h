// Registry responses both sides send the same way.
#pragma once

#include "http/server.h"

namespace shoal::oci {

// GET /v2/: 200 with Docker-Distribution-API-Version, which clients check for.
awaitable<void> respond_api_base(http::Exchange& ex);

}  // namespace shoal::oci

// The page at /ui/swarms/<digest>: one self-contained HTML document (inline script and
// style, no external resources) that polls GET /swarms/<digest> every second and draws
// a peers x pieces map on a canvas plus a progress bar per peer. Element #summary
// carries data-peers and data-pieces (what was last drawn) for tests and scripts.
#pragma once

#include <string>
#include <string_view>

namespace shoal::tracker {

// `digest` must already be validated (sha256:<hex>): it is written into the page as is.
std::string swarm_page_html(std::string_view digest);

}  // namespace shoal::tracker

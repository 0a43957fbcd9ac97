// `shoal get --parallel C --requests N [--streams M]`: a load generator. N GETs of one
// path over C connections (a thread each, each connection reused, M streams at once
// on HTTP/2), bodies discarded but digest-checked, then one summary a person or a
// benchmark script can read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http/client.h"
#include "core/digest.h"

namespace shoal::cli::get {

struct LoadPlan {
  Url base;
  std::string path;
  http::Headers headers;
  std::optional<Digest> expected;  // each body must hash to it
  unsigned connections = 1;
  unsigned streams = 1;  // in flight per connection, where the protocol multiplexes
  uint64_t requests = 1;
};

struct LoadSummary {
  uint64_t requests = 0, failures = 0, bytes = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;  // one per request, failed ones included
  http::Protocol protocol = http::Protocol::automatic;
  unsigned connections = 0, streams = 1;
  std::string first_error;  // "" when nothing failed
};

// `first` is the connection already opened (it decided the protocol); the others
// open the same protocol. Never fails as a whole: failures are counted.
LoadSummary run_load(const LoadPlan& plan, std::unique_ptr<http::Transport> first,
                     const http::ClientOptions& options);

// Nearest-rank percentile (q in 0..1) of sorted values; 0 for none.
double percentile(const std::vector<double>& sorted, double q);
// Human-readable, a few lines; and one JSON object on one line (no newline).
std::string format_summary(const LoadSummary& s);
std::string format_summary_json(const LoadSummary& s);

}  // namespace shoal::cli::get

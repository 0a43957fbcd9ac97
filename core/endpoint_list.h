// Where a component finds a set of servers of one role (the origins of a ring):
// "URL,URL,..." given statically, or "dns:NAME:PORT", every A/AAAA record of NAME
// being one member, re-resolved by whoever holds the list. Every origin of a ring and
// every client is given the same text, so they all see the same members in the same
// order (sorted, deduplicated).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/url.h"

namespace shoal {

class EndpointList {
 public:
  // Errc::bad_request with a message naming the bad element.
  static Result<EndpointList> parse(std::string_view text);
  static EndpointList of(std::vector<Url> urls);

  bool from_dns() const { return !dns_name_.empty(); }
  bool empty() const { return !from_dns() && urls_.empty(); }
  // The members now: the static list, or one http://ADDRESS:PORT per DNS record
  // (blocking getaddrinfo). Errc::unavailable when the name does not resolve.
  Result<std::vector<Url>> resolve() const;
  // The static list; empty for dns: lists.
  const std::vector<Url>& urls() const { return urls_; }
  std::string str() const;  // as given, normalised

 private:
  std::vector<Url> urls_;
  std::string dns_name_;
  uint16_t dns_port_ = 0;
};

// The URLs sorted by str() with duplicates removed: the canonical member order.
std::vector<Url> canonical_members(std::vector<Url> urls);

}  // namespace shoal

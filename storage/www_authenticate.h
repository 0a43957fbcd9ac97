// The WWW-Authenticate header of a registry's 401 (RFC 9110 section 11.6.1), read the
// way the Docker registry token flow needs it: which scheme, and for Bearer the realm,
// service and scope to ask the token server for. Quoted values may hold commas
// (scope="repository:a:pull,push"), so splitting on commas is not enough.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace shoal::storage {

struct AuthChallenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercase, values unquoted

  std::string param(const std::string& name) const;  // "" if absent
};

// Every challenge in the header, in order. Errc::protocol_error for an empty header,
// an unterminated quoted string, or a parameter without a scheme before it.
Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header);

// The first challenge of `scheme` (lowercase), or nullptr.
const AuthChallenge* find_challenge(const std::vector<AuthChallenge>& all, std::string_view scheme);

}  // namespace shoal::storage

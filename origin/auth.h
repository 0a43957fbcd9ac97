// Bearer-token check for writes (and optionally reads); the token may also come as
// the password of Basic auth, for registry clients. Tokens are compared through
// their SHA-256 with CRYPTO_memcmp, so timing reveals neither content nor length.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"

namespace shoal::origin {

class TokenAuth {
 public:
  enum class Verdict { allowed, missing, wrong };

  TokenAuth() = default;  // no tokens: everything allowed
  // One token per line; blank lines and lines starting with '#' ignored. Throws
  // std::runtime_error at start-up if the file is unreadable or holds no token.
  static TokenAuth from_file(const std::string& path);
  static TokenAuth from_tokens(const std::vector<std::string>& tokens);

  bool enabled() const { return !hashes_.empty(); }
  Verdict check(std::string_view authorization_header) const;
  // The first token given: what this origin presents to the other origins of its ring,
  // which share the token file. "" without tokens.
  const std::string& own_token() const { return own_token_; }

 private:
  std::vector<Digest> hashes_;
  std::string own_token_;
};

}  // namespace shoal::origin

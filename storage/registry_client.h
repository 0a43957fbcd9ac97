// A blocking client of an upstream OCI/Docker registry (distribution spec v1.1), for
// pull-through: manifests by tag or digest, blobs streamed to a sink (following the
// redirect a registry may give to where a blob really lives), with the three ways a
// registry lets a client in: no auth, Basic, and the Docker token flow (a 401 naming a
// token server; a token per scope from it, kept until it expires).
//
// RegistryAuth is shared by every thread and keeps the tokens; a RegistryClient holds
// one connection and belongs to one thread (like http::Client).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"
#include "core/url.h"
#include "http/client.h"

namespace shoal::storage {

struct Credentials {
  std::string user;
  std::string password;
};

// What Authorization to send for each scope ("repository:library/alpine:pull"), learned
// from the registry's 401s. Thread-safe.
class RegistryAuth {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RegistryAuth(std::optional<Credentials> credentials)
      : credentials_(std::move(credentials)) {}

  const std::optional<Credentials>& credentials() const { return credentials_; }
  // The Authorization value to try first for `scope`, or "" (none known yet).
  std::string header_for(const std::string& scope, Clock::time_point now) const;
  void remember_token(const std::string& scope, std::string token, Clock::time_point expires);
  void remember_basic();  // the registry asked for Basic: send it from now on

 private:
  const std::optional<Credentials> credentials_;
  mutable std::mutex mu_;
  bool basic_ = false;
  struct Token {
    std::string value;
    Clock::time_point expires;
  };
  std::map<std::string, Token> tokens_;
};

// "Basic <base64(user:password)>".
std::string basic_authorization(const Credentials& c);

struct UpstreamManifest {
  std::string bytes;
  std::string media_type;
  Digest digest;  // of the bytes, checked against what named them
};

// The digest of a manifest's `bytes`, checked against the reference asked for when it
// is a digest, else against the registry's Docker-Content-Digest when it sent one.
// Errc::digest_mismatch naming both.
Result<Digest> verified_manifest_digest(std::string_view bytes, std::string_view ref,
                                        std::string_view content_digest_header);

// "https://host:5000" and "/token?x=1" from an absolute URL (a redirect's Location, a
// token realm); Url itself refuses queries. Errc::protocol_error if it is not one.
Result<std::pair<Url, std::string>> split_absolute_url(std::string_view url);

class RegistryClient {
 public:
  RegistryClient(Url base, RegistryAuth& auth, http::ClientOptions options);

  // GET /v2/: reachable, and with these credentials accepted. One line when not.
  Result<void> ping();
  Result<UpstreamManifest> get_manifest(std::string_view repository, std::string_view ref);
  // The blob's size, or nullopt when the registry does not hold it.
  Result<std::optional<uint64_t>> head_blob(std::string_view repository, const Digest& d);
  // Streams the blob's bytes to `sink`; how many. Errc::not_found when absent.
  Result<uint64_t> get_blob(std::string_view repository, const Digest& d,
                            const http::BodySink& sink);

 private:
  // One request with the auth dance: the remembered Authorization first, and after a
  // 401 a token (or Basic) and one more try. `sink` streams a GET's 2xx body.
  Result<http::Response> send(std::string_view method, const std::string& path,
                              const std::string& scope, const http::Headers& extra,
                              const http::BodySink* sink);
  Result<http::Response> send_once(std::string_view method, const std::string& path,
                                   const http::Headers& headers, const http::BodySink* sink);
  Result<void> authenticate(const http::Response& refused, const std::string& scope);
  Result<void> fetch_token(const std::string& realm, const std::string& service,
                           const std::string& token_scope, const std::string& scope);
  Result<http::Response> follow(http::Response redirect, std::string_view method,
                                const http::BodySink* sink);

  Url base_;
  RegistryAuth& auth_;
  http::ClientOptions options_;
  http::Client client_;
};

}  // namespace shoal::storage

#include "storage/registry_client.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/oci/manifest.h"
#include "core/oci/oci.h"
#include "core/sha256.h"
#include "core/text.h"
#include "storage/www_authenticate.h"

namespace shoal::storage {
namespace {

constexpr int kMaxRedirects = 5;
constexpr size_t kMaxTokenResponse = 64 << 10;
// The registry auth spec's default lifetime when the token server names none.
constexpr std::chrono::seconds kDefaultTokenLifetime{60};
// Renewed this long before it runs out, so a slow request does not carry a dead token.
constexpr std::chrono::seconds kTokenMargin{5};

constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string query_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string pull_scope(std::string_view repository) {
  return "repository:" + std::string(repository) + ":pull";
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

Error refused(const http::Response& r, const std::string& what) {
  return Error(http::errc_for_status(r.status),
               "upstream registry answered " + std::to_string(r.status) + " to " + what);
}

}  // namespace

std::string RegistryAuth::header_for(const std::string& scope, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  if (auto it = tokens_.find(scope); it != tokens_.end() && now < it->second.expires)
    return "Bearer " + it->second.value;
  if (basic_ && credentials_) return basic_authorization(*credentials_);
  return "";
}

void RegistryAuth::remember_token(const std::string& scope, std::string token,
                                  Clock::time_point expires) {
  std::lock_guard lock(mu_);
  tokens_.insert_or_assign(scope, Token{std::move(token), expires});
}

void RegistryAuth::remember_basic() {
  std::lock_guard lock(mu_);
  basic_ = true;
}

std::string basic_authorization(const Credentials& c) {
  return "Basic " + base64(c.user + ":" + c.password);
}

Result<Digest> verified_manifest_digest(std::string_view bytes, std::string_view ref,
                                        std::string_view content_digest_header) {
  const Digest actual = Sha256::of(bytes.data(), bytes.size());
  const bool by_digest = ref.starts_with("sha256:");
  std::string_view claimed = by_digest ? ref : content_digest_header;
  if (claimed.empty() || claimed == actual.str()) return actual;
  return Error(Errc::digest_mismatch, "the upstream manifest for " + std::string(ref) +
                                          " hashes to " + actual.str() + ", not " +
                                          std::string(claimed) + "; refused");
}

Result<std::pair<Url, std::string>> split_absolute_url(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return Error(Errc::protocol_error, "not an absolute URL: " + std::string(url));
  size_t path_start = url.find_first_of("/?", scheme_end + 3);
  if (path_start == std::string_view::npos) path_start = url.size();
  auto base = Url::parse(url.substr(0, path_start));
  if (!base) return Error(Errc::protocol_error, "bad URL " + std::string(url) + ": " +
                                                    base.error().message);
  std::string target(url.substr(path_start));
  if (target.empty() || target[0] == '?') target = "/" + target;
  return std::pair{*base, target};
}

RegistryClient::RegistryClient(Url base, RegistryAuth& auth, http::ClientOptions options)
    : base_(std::move(base)), auth_(auth), options_(options), client_(base_, options_) {}

Result<void> RegistryClient::ping() {
  auto r = send("GET", "/v2/", "", {}, nullptr);
  if (!r) return r.error();
  if (r->status == 401) return Error(Errc::unauthorized, "upstream registry " + base_.str() +
                                                             " rejected the credentials");
  if (!r->success()) return refused(*r, "GET /v2/");
  return {};
}

Result<UpstreamManifest> RegistryClient::get_manifest(std::string_view repository,
                                                      std::string_view ref) {
  const std::string path = "/v2/" + std::string(repository) + "/manifests/" + std::string(ref);
  std::string bytes;
  const http::BodySink sink = [&](const char* p, size_t n) -> Result<void> {
    if (bytes.size() + n > oci::kMaxManifestBytes)
      return Error(Errc::too_large, "the upstream manifest is over 4 MiB");
    bytes.append(p, n);
    return {};
  };
  auto r = send("GET", path, pull_scope(repository), {{"Accept", std::string(kManifestAccept)}},
                &sink);
  if (!r) return r.error();
  if (!r->success()) return refused(*r, "GET " + path);
  auto digest = verified_manifest_digest(bytes, ref, r->header("Docker-Content-Digest"));
  if (!digest) return digest.error();
  std::string type = r->header("Content-Type");
  if (type.empty()) type = oci::manifest_media_type(bytes);
  return UpstreamManifest{std::move(bytes), std::move(type), *digest};
}

Result<std::optional<uint64_t>> RegistryClient::head_blob(std::string_view repository,
                                                          const Digest& d) {
  const std::string path = "/v2/" + std::string(repository) + "/blobs/" + d.str();
  auto r = send("HEAD", path, pull_scope(repository), {}, nullptr);
  if (!r) return r.error();
  if (r->status == 404) return std::optional<uint64_t>();
  if (!r->success()) return refused(*r, "HEAD " + path);
  auto size = text::parse_uint<uint64_t>(r->header("Content-Length"));
  if (!size) return Error(Errc::protocol_error, "upstream HEAD " + path + " gave no length");
  return std::optional<uint64_t>(*size);
}

Result<uint64_t> RegistryClient::get_blob(std::string_view repository, const Digest& d,
                                          const http::BodySink& sink) {
  const std::string path = "/v2/" + std::string(repository) + "/blobs/" + d.str();
  uint64_t received = 0;
  const http::BodySink counting = [&](const char* p, size_t n) {
    received += n;
    return sink(p, n);
  };
  auto r = send("GET", path, pull_scope(repository), {}, &counting);
  if (!r) return r.error();
  if (!r->success()) return refused(*r, "GET " + path);
  return received;
}

Result<http::Response> RegistryClient::send(std::string_view method, const std::string& path,
                                            const std::string& scope, const http::Headers& extra,
                                            const http::BodySink* sink) {
  for (int attempt = 0;; ++attempt) {
    http::Headers headers = extra;
    if (auto auth = auth_.header_for(scope, RegistryAuth::Clock::now()); !auth.empty())
      headers.emplace_back("Authorization", auth);
    auto r = send_once(method, path, headers, sink);
    if (!r) return r;
    if (is_redirect(r->status)) return follow(std::move(*r), method, sink);
    if (r->status != 401 || attempt == 1) return r;
    if (auto ok = authenticate(*r, scope); !ok) return ok.error();
  }
}

Result<http::Response> RegistryClient::send_once(std::string_view method, const std::string& path,
                                                 const http::Headers& headers,
                                                 const http::BodySink* sink) {
  if (sink) return client_.download(base_.target(path), headers, *sink);
  return client_.request(method, base_.target(path), headers);
}

// A blob elsewhere (object storage behind the registry): its URL is presigned, so our
// Authorization goes only to the registry's own host.
Result<http::Response> RegistryClient::follow(http::Response redirect, std::string_view method,
                                              const http::BodySink* sink) {
  for (int hop = 0; hop < kMaxRedirects && is_redirect(redirect.status); ++hop) {
    std::string location = redirect.header("Location");
    if (location.empty())
      return Error(Errc::protocol_error, "upstream redirect without a Location");
    Url target_base = base_;
    std::string target = location;
    if (location[0] != '/') {
      auto split = split_absolute_url(location);
      if (!split) return split.error();
      std::tie(target_base, target) = *split;
    } else {
      target = location;
    }
    http::Client hop_client(target_base, options_);
    auto r = sink ? hop_client.download(target, {}, *sink)
                  : hop_client.request(method, target, {});
    if (!r) return r;
    redirect = std::move(*r);
  }
  if (is_redirect(redirect.status))
    return Error(Errc::protocol_error, "upstream registry redirected too many times");
  return redirect;
}

Result<void> RegistryClient::authenticate(const http::Response& refused_response,
                                          const std::string& scope) {
  auto challenges = parse_www_authenticate(refused_response.header("WWW-Authenticate"));
  if (!challenges) return challenges.error();
  if (const auto* bearer = find_challenge(*challenges, "bearer")) {
    const std::string realm = bearer->param("realm");
    if (realm.empty())
      return Error(Errc::protocol_error, "upstream Bearer challenge without a realm");
    std::string token_scope = bearer->param("scope");
    if (token_scope.empty()) token_scope = scope;
    return fetch_token(realm, bearer->param("service"), token_scope, scope);
  }
  if (find_challenge(*challenges, "basic")) {
    if (!auth_.credentials())
      return Error(Errc::unauthorized, "upstream registry " + base_.str() +
                                           " wants credentials (upstream_credentials)");
    auth_.remember_basic();
    return {};
  }
  return Error(Errc::unauthorized, "upstream registry asks for an unsupported auth scheme");
}

Result<void> RegistryClient::fetch_token(const std::string& realm, const std::string& service,
                                         const std::string& token_scope,
                                         const std::string& scope) {
  auto split = split_absolute_url(realm);
  if (!split) return split.error();
  auto& [realm_base, target] = *split;
  char sep = target.find('?') == std::string::npos ? '?' : '&';
  if (!service.empty()) {
    target += sep + std::string("service=") + query_escape(service);
    sep = '&';
  }
  // Several scopes in one challenge are separated by spaces; each is its own parameter.
  for (size_t at = 0; at < token_scope.size();) {
    size_t end = std::min(token_scope.find(' ', at), token_scope.size());
    if (end > at) {
      target += sep + std::string("scope=") + query_escape(token_scope.substr(at, end - at));
      sep = '&';
    }
    at = end + 1;
  }
  http::Headers headers;
  if (auth_.credentials()) headers.emplace_back("Authorization", basic_authorization(*auth_.credentials()));
  http::Client token_client(realm_base, options_);
  auto r = token_client.request("GET", target, headers);
  if (!r) return r.error();
  if (!r->success() || r->body.size() > kMaxTokenResponse)
    return Error(r->status == 401 ? Errc::unauthorized : http::errc_for_status(r->status),
                 "the token server " + realm + " answered " + std::to_string(r->status));
  auto json = nlohmann::json::parse(r->body, nullptr, false);
  if (!json.is_object()) return Error(Errc::protocol_error, "the token server's answer is not JSON");
  std::string token = json.value("token", std::string());
  if (token.empty()) token = json.value("access_token", std::string());
  if (token.empty()) return Error(Errc::protocol_error, "the token server gave no token");
  std::chrono::seconds lifetime = kDefaultTokenLifetime;
  if (auto it = json.find("expires_in"); it != json.end() && it->is_number_integer())
    lifetime = std::chrono::seconds(std::max<int64_t>(it->get<int64_t>(), 0));
  auth_.remember_token(scope, std::move(token),
                       RegistryAuth::Clock::now() + lifetime - std::min(lifetime, kTokenMargin));
  return {};
}

}  // namespace shoal::storage

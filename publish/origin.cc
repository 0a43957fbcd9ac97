#include "publish/origin.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "core/file_io.h"
#include "core/sha256.h"
#include "core/text.h"

namespace shoal::publish {
namespace {

constexpr uint64_t kMaxPackage = 256u << 20;

std::string tag_of(const std::string& name) { return "hls/" + name; }

}  // namespace

Origin::Origin(Url url, http::Headers auth, const http::ClientOptions& options)
    : url_(std::move(url)), auth_(std::move(auth)), client_(url_, options) {}

http::Headers Origin::with_auth(http::Headers h) const {
  h.insert(h.end(), auth_.begin(), auth_.end());
  return h;
}

Error Origin::refused(std::string_view what, const http::Response& r) const {
  return Error(http::errc_for_status(r.status), "origin " + url_.str() + " refused the " +
                                                    std::string(what) + ": " +
                                                    http::describe_failure(r));
}

Result<bool> Origin::has_blob(const Digest& d) {
  if (known_.contains(d)) return true;
  auto r = client_.request("HEAD", "/blobs/" + d.str(), with_auth({}));
  if (!r) return r.error();
  if (r->status == 404) return false;
  if (!r->success()) return refused("HEAD of " + d.str(), *r);
  known_.insert(d);
  return true;
}

Result<hls::BlobRef> Origin::put_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(errno, "open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return Error(Errc::bad_request, path + " is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  auto digest = Sha256::of_fd(fd.get());
  if (!digest) return Error(digest.error().code, "read " + path + ": " + digest.error().message);
  auto have = has_blob(*digest);
  if (!have) return have.error();
  if (*have) {
    ++counts_.present;
    return hls::BlobRef{*digest, size};
  }
  // Read a second time while sending: segments are small and the page cache has them.
  uint64_t at = 0;
  http::BodySource source = [&](char* buf, size_t len) -> Result<size_t> {
    auto n = pread_some(fd.get(), buf, std::min<uint64_t>(len, size - at), at);
    if (!n) return Error(n.error().code, "read " + path + ": " + n.error().message);
    if (*n == 0) return Error(Errc::conflict, path + " got shorter while it was uploaded");
    at += *n;
    return n;
  };
  auto r = client_.upload("PUT", "/blobs/" + digest->str(),
                          with_auth({{"Content-Type", "application/octet-stream"}}), size, source);
  if (!r) return r.error();
  if (!r->success()) return refused("upload of " + path, *r);
  known_.insert(*digest);
  ++counts_.uploaded;
  counts_.bytes_uploaded += size;
  return hls::BlobRef{*digest, size};
}

Result<hls::BlobRef> Origin::put_bytes(std::string_view bytes) {
  Digest d = Sha256::of(bytes.data(), bytes.size());
  auto have = has_blob(d);
  if (!have) return have.error();
  if (*have) {
    ++counts_.present;
    return hls::BlobRef{d, bytes.size()};
  }
  auto r = client_.request("PUT", "/blobs/" + d.str(),
                           with_auth({{"Content-Type", "application/octet-stream"}}), bytes);
  if (!r) return r.error();
  if (!r->success()) return refused("upload of the package manifest", *r);
  known_.insert(d);
  ++counts_.uploaded;
  counts_.bytes_uploaded += bytes.size();
  return hls::BlobRef{d, bytes.size()};
}

Result<void> Origin::put_tag(const std::string& tag, const Digest& d) {
  auto r =
      client_.request("PUT", "/tags/" + tag, with_auth({{"Content-Type", "text/plain"}}), d.str());
  if (!r) return r.error();
  if (!r->success()) return refused("tag " + tag, *r);
  return {};
}

Result<std::string> Origin::get_blob(const Digest& d, uint64_t max_bytes) {
  std::string body;
  auto sink = [&](const char* data, size_t n) -> Result<void> {
    if (body.size() + n > max_bytes)
      return Error(Errc::too_large, d.str() + " is larger than a package manifest can be");
    body.append(data, n);
    return {};
  };
  auto r = client_.download("/blobs/" + d.str(), with_auth({}), sink);
  if (!r) return r.error();
  if (!r->success()) return refused("download of " + d.str(), *r);
  if (Sha256::of(body.data(), body.size()) != d)
    return Error(Errc::digest_mismatch,
                 "origin " + url_.str() + " sent bytes that are not " + d.str());
  return body;
}

Result<std::optional<std::pair<Digest, hls::Package>>> Origin::current(const std::string& name) {
  using Current = std::optional<std::pair<Digest, hls::Package>>;
  auto r = client_.request("GET", "/tags/" + tag_of(name), with_auth({}));
  if (!r) return r.error();
  if (r->status == 404) return Current{};
  if (!r->success()) return refused("lookup of tag " + tag_of(name), *r);
  auto d = Digest::parse(text::trim_space(r->body));
  if (!d) return Error(Errc::protocol_error, "tag " + tag_of(name) + " holds no valid digest");
  auto body = get_blob(*d, kMaxPackage);
  if (!body) return body.error();
  auto p = hls::parse_package(*body);
  if (!p) return Error(p.error().code, "package " + d->str() + ": " + p.error().message);
  return Current{std::pair{*d, std::move(*p)}};
}

Result<Digest> Origin::publish(const hls::Package& package) {
  auto blob = put_bytes(hls::to_json(package));
  if (!blob) return blob.error();
  if (auto ok = put_tag(tag_of(package.name), blob->digest); !ok) return ok.error();
  return blob->digest;
}

}  // namespace shoal::publish

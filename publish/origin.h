// The origin as `shoal hls` sees it: a store of blobs by digest and of hls/NAME tags.
// A file is hashed first (streamed) and sent only when the origin does not have it
// yet, so publishing the same bytes twice moves nothing but HEAD requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "core/digest.h"
#include "core/hls/package.h"
#include "core/url.h"
#include "http/client.h"

namespace shoal::publish {

// Where segment files go as blobs. An interface because ingest also runs against an
// in-memory fake in the unit tests.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual Result<hls::BlobRef> put_file(const std::string& path) = 0;
};

class Origin : public BlobSink {
 public:
  struct Counts {
    uint64_t uploaded = 0;  // blobs sent
    uint64_t present = 0;   // blobs the origin already had
    uint64_t bytes_uploaded = 0;
  };

  Origin(Url url, http::Headers auth, const http::ClientOptions& options);

  Result<hls::BlobRef> put_file(const std::string& path) override;
  Result<hls::BlobRef> put_bytes(std::string_view bytes);
  // The package hls/NAME points at; nullopt when there is no such tag.
  Result<std::optional<std::pair<Digest, hls::Package>>> current(const std::string& name);
  // Stores the manifest and moves hls/NAME to it.
  Result<Digest> publish(const hls::Package& package);

  const Counts& counts() const { return counts_; }
  const Url& url() const { return url_; }

 private:
  Result<bool> has_blob(const Digest& d);
  Result<void> put_tag(const std::string& tag, const Digest& d);
  Result<std::string> get_blob(const Digest& d, uint64_t max_bytes);
  Error refused(std::string_view what, const http::Response& r) const;
  http::Headers with_auth(http::Headers h) const;

  Url url_;
  http::Headers auth_;
  http::Client client_;
  Counts counts_;
  std::unordered_set<Digest> known_;  // digests the origin is known to hold
};

}  // namespace shoal::publish

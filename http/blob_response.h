// The one way Shoal serves a blob, whoever holds it (origin, peer agent, edge): an
// immutable representation named by its digest, so ETag, If-None-Match and single
// ranges are decided here once, and the body comes from a file (sendfile), from memory,
// or from a file still being written (a swarm download, a cache fill).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "core/change_signal.h"
#include "core/digest.h"
#include "http/exchange.h"

namespace shoal::http {

// 200 with ETag and Docker-Content-Digest (the digest), immutable Cache-Control,
// Accept-Ranges and an octet-stream type.
Head blob_head(const Digest& d);

// The request's If-None-Match names this blob's ETag (strong or weak form) or "*":
// the client's copy is current and a 304 answers it.
bool not_modified(const Exchange& ex, const Digest& d);

struct BodySpan {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Applies the request's Range header to `head` for a blob of `size` bytes: the
// span to send (the whole blob without a usable range; 206 and Content-Range for a
// single range), or nullopt for an unsatisfiable range, answered with a 416.
awaitable<std::optional<BodySpan>> apply_range(Exchange& ex, Head& head, uint64_t size);

// The conditions of a blob request, in order: a 304 (with `head`'s headers) when
// If-None-Match names the blob, a 416 for an unsatisfiable range; both answer the
// request and give nullopt. Otherwise the span of the `size` bytes to send, `head`
// made a 206 for a range. A caller that counts 304s reads ex.status() afterwards.
awaitable<std::optional<BodySpan>> begin_blob(Exchange& ex, Head& head, const Digest& d,
                                              uint64_t size);

// The whole response for a blob of `size` bytes in `fd`, sent with sendfile.
awaitable<void> respond_blob_file(Exchange& ex, Head head, const Digest& d, int fd,
                                  uint64_t size);
// The whole response for a blob held in memory.
awaitable<void> respond_blob_bytes(Exchange& ex, Head head, const Digest& d,
                                   std::string_view bytes);
// The head alone for a blob of `size` bytes not at hand (HEAD without the content).
awaitable<void> respond_blob_head(Exchange& ex, Head head, const Digest& d, uint64_t size);

// A blob file still being written: its bytes become readable front to back (or in
// any order, as `readable_end` says) and `changed` is notified when more are.
struct GrowingFile {
  // Asked again before each send: a download opens its file only once a piece is in.
  std::function<int()> fd;
  uint64_t size = 0;  // of the whole blob
  ChangeSignal& changed;
  // The end of the bytes that may be sent now from `pos` (pos or less: none yet), or
  // nullopt once no more will come (the download or fill failed).
  std::function<std::optional<uint64_t>(uint64_t pos)> readable_end;
};

// How a streamed blob response ended. A body left short closes the connection (see
// Exchange::start_body), so the client sees a truncated response.
struct StreamEnd {
  bool source_failed = false;  // the file stopped growing before the span was sent
  uint64_t sent = 0;           // body bytes of the span sent
};

// Answers like respond_blob_file, sending each part of the span once it is readable
// and waiting on `file.changed` in between.
awaitable<StreamEnd> stream_blob(Exchange& ex, Head head, const Digest& d, GrowingFile file);

}  // namespace shoal::http

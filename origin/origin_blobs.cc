// Blob routes: monolithic PUT, GET/HEAD with ranges and conditional requests, DELETE.
#include "core/sha256.h"
#include "core/torrent/announce_list.h"
#include "http/blob_response.h"
#include "http/offload.h"
#include "http/outbound.h"
#include "http/util.h"
#include "origin/body.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;

std::string committed_json(const Digest& d, uint64_t size) {
  return R"({"digest":")" + d.str() + R"(","size":)" + std::to_string(size) + "}";
}

// The served metainfo changes with the tracker list, so its ETag names that too.
std::string metainfo_etag(const Digest& d, const std::vector<std::string>& trackers) {
  if (trackers.empty()) return "\"metainfo-" + d.str() + "\"";
  std::string joined;
  for (const auto& t : trackers) joined += t + "\n";
  const std::string list_hash = Sha256::of(joined.data(), joined.size()).hex().substr(0, 16);
  return "\"metainfo-" + d.str() + "-" + list_hash + "\"";
}

}  // namespace

awaitable<void> Origin::get_blob(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  // Another origin's push is about to refer to d (hold_for_push).
  if (ex.query_param("touch") && is_replica_write(ex)) touch_blob(*d);
  if (auto pulled = co_await pull_blob(ex, "", digest_text); !pulled)
    co_return co_await respond_failure(ex, pulled.error(), "BLOB_UNKNOWN");
  auto blob = store_->open_blob(*d);
  const bool elsewhere = cluster_.enabled() || opts_.backend;
  if (!blob && blob.error().is(Errc::not_found) && elsewhere && !is_replica_write(ex)) {
    co_return co_await serve_from_ring(ex, *d);
  }
  if (blob && budget_) budget_->touch(*d);
  if (!blob) co_return co_await respond_failure(ex, blob.error(), "BLOB_UNKNOWN");

  co_await http::respond_blob_file(ex, http::blob_head(*d), *d, blob->fd.get(), blob->size);
}

awaitable<void> Origin::put_blob(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  if (!ex.length_known()) co_return co_await respond_length_required(ex);
  if (ex.content_length().value_or(0) > opts_.max_upload_size) {
    co_return co_await respond_failure(
        ex, Error(Errc::too_large, "body is over max_upload_size (" +
                                       std::to_string(opts_.max_upload_size) + " bytes)"), "");
  }
  if (auto ok = quorum_possible(ex, &*d); !ok) co_return co_await respond_failure(ex, ok.error(), "");
  http::Head head;
  head.set(field::location, "/blobs/" + d->str());
  head.set("Docker-Content-Digest", d->str());
  head.set(field::content_type, "application/json");
  if (store_->contains(*d)) {  // content-addressed: nothing to rewrite
    if (auto ok = co_await replicate(ex, *d); !ok)
      co_return co_await respond_failure(ex, ok.error(), "");
    head.result(status::ok);
    co_return co_await ex.respond(std::move(head), committed_json(*d, 0));
  }
  auto temp = store_->create_temp();
  if (!temp) co_return co_await respond_failure(ex, temp.error(), "");
  // Named, not a temporary inside the co_await expression (see ARCHITECTURE, toolchain).
  const BodySink sink = [&](const char* p, size_t n) { return temp->append(p, n); };
  auto received = co_await stream_body(ex, opts_.max_upload_size, sink);
  if (!received) co_return co_await respond_failure(ex, received.error(), "");
  auto commit_blob = [&] { return store_->commit(*temp, *d); };
  auto committed = co_await http::offload(commit_blob);
  if (!committed) co_return co_await respond_failure(ex, committed.error(), "");
  on_committed(*d);
  if (auto ok = co_await replicate(ex, *d); !ok) co_return co_await respond_failure(ex, ok.error(), "");
  head.result(*committed == BlobStore::Committed::created ? status::created : status::ok);
  co_await ex.respond(std::move(head), committed_json(*d, *received));
}

awaitable<void> Origin::delete_blob(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  auto removed = co_await remove_blob(ex, *d);
  if (!removed) co_return co_await respond_failure(ex, removed.error(), "BLOB_UNKNOWN");
  http::Head head;
  head.result(status::no_content);
  co_await ex.respond(std::move(head), "");
}

awaitable<Result<void>> Origin::remove_blob(const http::Exchange& ex, const Digest& d) {
  // In a ring every copy goes, or the repair walk would bring the blob back.
  const bool everywhere = cluster_.enabled() && !is_replica_write(ex);
  auto removed = store_->remove(d);
  forget_blob(d);
  if (opts_.backend && !is_replica_write(ex)) {
    // Else the next fill would bring it back from there.
    auto remove_durable = [&]() -> Result<bool> {
      auto held = opts_.backend->head(d, "");
      if (!held) return held.error();
      if (auto ok = opts_.backend->remove(d); !ok) return ok.error();
      return held->has_value();
    };
    auto gone = co_await http::outbound(remove_durable);
    if (!gone) co_return gone.error();
    if (!removed && removed.error().is(Errc::not_found) && *gone) removed = {};
  }
  if (everywhere) {
    auto remove_elsewhere = [&] { return delete_in_ring(d); };
    auto elsewhere = co_await http::outbound(remove_elsewhere);
    if (!elsewhere) co_return elsewhere.error();
    if (!removed && removed.error().is(Errc::not_found) && *elsewhere) removed = {};
  }
  if (!removed) co_return removed.error();
  // Not a braced list: GCC frees the initializer_list of a coroutine twice.
  blob_removed(std::vector<Digest>(1, d));  // its copy jobs, seeding, metainfo; the deletions log
  co_return Result<void>{};
}

awaitable<void> Origin::get_metainfo(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  // Made from the blob on first use (hashing: off the event loop), then read from disk.
  // An origin without a copy asks the owners: every owner makes the same bytes.
  auto make = [&] { return metainfo_->get_or_make(*d); };
  auto ask_owners = [&] { return from_owners(*d, "/blobs/" + d->str() + "/metainfo"); };
  if (auto pulled = co_await pull_blob(ex, "", digest_text); !pulled)
    co_return co_await respond_failure(ex, pulled.error(), "BLOB_UNKNOWN");
  bool here = store_->contains(*d) || is_replica_write(ex) || !cluster_.enabled();
  Result<std::string> bencoded = Error(Errc::not_found, "");
  if (opts_.backend && here && owns(*d) && !store_->contains(*d)) {
    // An owner with an empty disk in front of a filled bucket: fetch, then hash.
    if (auto filled = co_await fill_here(*d); !filled) bencoded = filled.error();
    here = store_->contains(*d);
    if (!here) co_return co_await respond_failure(ex, bencoded.error(), "BLOB_UNKNOWN");
  }
  if (here) {
    if (budget_) budget_->touch(*d);  // agents pulling it: not the time to evict it
    bencoded = co_await http::offload(make);
  } else {
    bencoded = co_await http::outbound(ask_owners);
  }
  // Stored without trackers; this origin's list goes in as it is served (replacing an
  // owner's), outside the info dict, so a standard client finds the swarm on its own.
  if (bencoded) bencoded = with_announce_list(*bencoded, opts_.trackers);
  if (!bencoded) co_return co_await respond_failure(ex, bencoded.error(), "BLOB_UNKNOWN");
  http::Head head;
  head.result(status::ok);
  head.set(field::content_type, "application/x-bittorrent");
  head.set(field::etag, metainfo_etag(*d, opts_.trackers));
  // The info dict never changes, the tracker list may (configuration): not immutable.
  head.set(field::cache_control, "public, max-age=3600");
  co_await ex.respond(std::move(head), *bencoded);
}

awaitable<void> Origin::get_swarm(http::Exchange& ex, std::string_view digest_text) {
  auto d = Digest::parse(digest_text);
  if (!d) co_return co_await respond_failure(ex, d.error(), "BLOB_UNKNOWN");
  if (!seeder_) {
    co_return co_await ex.respond_error(status::not_found, "BLOB_UNKNOWN",
                                        "this origin seeds nothing (no tracker configured)");
  }
  // get_peer_info waits for libtorrent's network thread: not on the event loop.
  auto st = co_await http::offload([&] { return seeder_->swarm(*d); });
  if (!st) co_return co_await respond_failure(ex, st.error(), "BLOB_UNKNOWN");
  co_await ex.respond_json(
      status::ok, "{\"digest\":\"" + d->str() + "\",\"pieces\":" + std::to_string(st->pieces) +
                      ",\"pieces_sent\":" + std::to_string(st->pieces_sent) +
                      ",\"peers\":" + std::to_string(st->peers) +
                      ",\"complete_peers\":" + std::to_string(st->complete_peers) +
                      ",\"uploaded_bytes\":" + std::to_string(st->uploaded_bytes) + "}");
}

}  // namespace shoal::origin

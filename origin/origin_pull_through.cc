// Pull-through from an upstream registry (upstream_registry): a miss for a manifest or
// blob of a matching repository is fetched upstream, checked against its digest, and
// stored the way a push is (committed, copied to its owners in the ring, seeded), so
// every later pull is served by Shoal alone. Tags resolved upstream are re-asked after
// upstream_tag_ttl; while upstream is down, the tag the ring stored keeps being served.
// (docs/ARCHITECTURE.md, "Pull-through".)
#include "core/log.h"
#include "core/oci/manifest.h"
#include "core/oci/oci.h"
#include "http/outbound.h"
#include "origin/origin.h"

namespace shoal::origin {

awaitable<Result<void>> Origin::pull_manifest(const http::Exchange& ex, std::string_view name,
                                              std::string_view ref) {
  if (!pull_ || !pull_->matches(name) || is_replica_write(ex)) co_return Result<void>{};
  const bool by_digest = oci::is_digest_reference(ref);
  const std::string tag_name = std::string(name) + ":" + std::string(ref);
  if (by_digest) {
    auto d = Digest::parse(ref);
    if (!d || store_->contains(*d) || co_await ring_holds(*d)) co_return Result<void>{};
  } else {
    if (!oci::valid_tag(ref)) co_return Result<void>{};
    auto cached = pull_->upstream().tags().find(name, ref, SteadyClock::now());
    if (cached && cached->fresh) co_return Result<void>{};
  }
  auto fetch = [&] { return pull_->upstream().manifest(name, ref); };
  auto got = co_await http::outbound(fetch);
  if (!got) {
    if (got.error().is(Errc::digest_mismatch) || by_digest) co_return got.error();
    // Upstream down or the tag gone there: what the ring stored is still an answer.
    auto stored = co_await read_tag(tag_name);
    if (stored && stored->exists()) {
      log::warn("upstream tag not resolved; serving the stored one",
                {{"tag", tag_name}, {"error", got.error().message}});
      co_return Result<void>{};
    }
    co_return got.error();
  }
  if (auto kept = co_await keep_pulled_manifest(ex, name, *got); !kept) co_return kept;
  if (!by_digest) {
    auto stored = co_await read_tag(tag_name);
    if (!stored || stored->digest != got->digest) {
      auto tagged = co_await write_tag(tag_name, TagChange{got->digest, {}}, false);
      if (!tagged) co_return tagged.error();
      auto marked = co_await http::offload([&] { return repos_.add_tag(name, ref); });
      if (!marked) co_return marked;
    }
    pull_->upstream().tags().put(name, ref, got->digest, SteadyClock::now());
  }
  log::info("manifest pulled through",
            {{"name", name}, {"reference", ref}, {"digest", got->digest.str()}});
  co_return Result<void>{};
}

awaitable<Result<void>> Origin::keep_pulled_manifest(const http::Exchange& ex,
                                                     std::string_view name,
                                                     const storage::UpstreamManifest& m) {
  // Its layers and child manifests are fetched on their first miss, from this repository.
  if (auto parsed = oci::parse_manifest(m.bytes, m.media_type); parsed) {
    for (const Digest& d : parsed->blobs) pull_->note_repository(d, std::string(name));
    for (const Digest& d : parsed->manifests) pull_->note_repository(d, std::string(name));
  }
  if (store_->contains(m.digest)) co_return Result<void>{};
  auto store_manifest = [&]() -> Result<void> {
    auto temp = store_->create_temp();
    if (!temp) return temp.error();
    if (auto ok = temp->append(m.bytes.data(), m.bytes.size()); !ok) return ok;
    if (auto ok = store_->commit(*temp, m.digest); !ok) return ok.error();
    return repos_.add_manifest(name, m.digest);
  };
  if (auto stored = co_await http::offload(store_manifest); !stored) co_return stored;
  on_committed(m.digest);
  co_return co_await replicate(ex, m.digest);
}

awaitable<Result<void>> Origin::pull_blob(const http::Exchange& ex, std::string_view name,
                                          std::string_view digest_text) {
  if (!pull_ || is_replica_write(ex)) co_return Result<void>{};
  auto d = Digest::parse(digest_text);
  if (!d || store_->contains(*d)) co_return Result<void>{};
  std::string repository(name);
  if (repository.empty()) repository = pull_->repository_of(*d).value_or("");
  if (repository.empty() || !pull_->matches(repository)) co_return Result<void>{};
  if (cluster_.enabled() && co_await ring_holds(*d)) co_return Result<void>{};
  auto fetch = [&] {
    return pull_->once(*d, [&] { return fetch_upstream_blob(repository, *d); });
  };
  auto outcome = co_await http::outbound(fetch);
  if (!outcome.result) co_return outcome.result;
  if (!outcome.ran) co_return Result<void>{};
  on_committed(*d);
  if (auto copied = co_await replicate(ex, *d); !copied) {
    // Here already: the repair walk gets it to its owners later.
    log::warn("pulled blob not yet on its owners",
              {{"digest", d->str()}, {"error", copied.error().message}});
  }
  co_return Result<void>{};
}

Result<void> Origin::fetch_upstream_blob(const std::string& repository, const Digest& d) {
  if (store_->contains(d)) return {};
  auto temp = store_->create_temp();
  if (!temp) return temp.error();
  const http::BodySink sink = [&](const char* p, size_t n) { return temp->append(p, n); };
  auto got = pull_->upstream().get(d, repository, sink);
  if (!got) return got.error();
  // Hashed while it streamed in: a wrong blob is refused here and never stored.
  if (auto placed = store_->commit(*temp, d); !placed) {
    log::error("upstream blob refused",
               {{"digest", d.str()}, {"repository", repository}, {"error", placed.error().message}});
    return Error(placed.error().code, "the upstream registry's " + d.str() + " in " + repository +
                                          " is not what its digest names: " +
                                          placed.error().message);
  }
  log::info("blob pulled through",
            {{"digest", d.str()}, {"repository", repository}, {"size", *got}});
  return {};
}

}  // namespace shoal::origin

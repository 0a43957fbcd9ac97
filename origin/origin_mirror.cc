// Resumable uploads in a ring outlive the origin that receives them: each session is
// mirrored to one other origin (the first up member of the order of "upload:<id>"
// other than this one), in the background after each chunk, so the mirror trails by
// at most the chunk in flight. When the receiving origin dies, the client finds the
// session on the mirror (GET /uploads/<id>) and continues there from the mirror's
// offset; that origin then mirrors to the next one. At the commit the mirror catches
// up and commits its own copy, hashed as it arrived: when it is one of the blob's
// owners, that is a durable copy the push's quorum counts without another transfer.
#include "core/file_io.h"
#include "core/log.h"
#include "core/text.h"
#include "http/outbound.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

std::string upload_key(const std::string& id) { return "upload:" + id; }

}  // namespace

std::optional<Url> Origin::mirror_of(const std::string& upload_id) const {
  for (const Owner& o : cluster_.order(upload_key(upload_id), SteadyClock::now())) {
    if (!o.self && o.up) return o.url;
  }
  return std::nullopt;
}

Result<void> Origin::sync_mirror(const std::string& id, uint64_t offset) {
  auto target = mirror_of(id);
  if (!target) return Error(Errc::unavailable, "no other origin is up to mirror upload " + id);
  http::Client client(*target, peer_client_options());
  auto fail = [&](Error e) {
    if (e.is(Errc::unavailable) || e.is(Errc::timed_out)) {
      cluster_.report_failure(*target, SteadyClock::now());
    }
    return e;
  };
  auto status = client.request("GET", "/uploads/" + id, peer_headers());
  if (!status) return fail(status.error());
  uint64_t at = 0;
  if (status->status == 404) {
    auto made = client.request("POST", "/uploads?id=" + id, peer_headers());
    if (!made) return fail(made.error());
    if (!made->success()) return Error(http::errc_for_status(made->status),
                                       http::describe_failure(*made));
  } else if (status->success()) {
    auto known = text::parse_uint<uint64_t>(status->header("upload-offset"));
    if (!known) return Error(Errc::protocol_error, "mirror sent no Upload-Offset");
    at = *known;
  } else {
    return fail(Error(http::errc_for_status(status->status), http::describe_failure(*status)));
  }
  if (at > offset) return Error(Errc::conflict, "the mirror of upload " + id + " is ahead");
  if (at == offset) return {};
  auto fd = uploads_.open_read(id);
  if (!fd) return fd.error();
  uint64_t pos = at;
  http::BodySource source = [&](char* buf, size_t len) -> Result<size_t> {
    if (stopping_.load()) return Error(Errc::cancelled, "the origin is stopping");
    auto n = pread_some(fd->get(), buf, std::min<uint64_t>(len, offset - pos), pos);
    if (!n) return n;
    if (*n == 0) return Error(Errc::io_error, "upload " + id + " shrank while mirrored");
    pos += *n;
    copied_bytes_->inc(static_cast<double>(*n));
    return n;
  };
  http::Headers h = peer_headers();
  h.emplace_back("Content-Range", "bytes " + std::to_string(at) + "-" +
                                      std::to_string(offset - 1) + "/*");
  h.emplace_back("Content-Type", "application/octet-stream");
  auto r = client.upload("PATCH", "/uploads/" + id, h, offset - at, source);
  if (!r) return fail(r.error());
  if (!r->success()) return Error(http::errc_for_status(r->status), http::describe_failure(*r));
  return {};
}

void Origin::mirror_later(const std::string& id, uint64_t offset) {
  std::shared_ptr<Mirroring> m;
  {
    std::lock_guard lock(mirrors_mu_);
    auto& slot = mirrors_[id];
    if (!slot) slot = std::make_shared<Mirroring>();
    m = slot;
  }
  {
    std::lock_guard lock(m->mu);
    m->want = std::max(m->want, offset);
    if (m->queued) return;  // the running task picks the new offset up
    m->queued = true;
  }
  post_ring([this, id, m] {
    std::lock_guard run(m->run);  // one transfer per session at a time
    uint64_t want;
    {
      std::lock_guard lock(m->mu);
      m->queued = false;
      want = m->want;
    }
    if (auto ok = sync_mirror(id, want); !ok) {
      log::warn("cannot mirror an upload", {{"upload", id}, {"error", ok.error().message}});
    }
  });
}

Result<Url> Origin::finish_mirror(const std::string& id, uint64_t offset, const Digest& d) {
  std::shared_ptr<Mirroring> m;
  {
    std::lock_guard lock(mirrors_mu_);
    auto it = mirrors_.find(id);
    if (it != mirrors_.end()) {
      m = it->second;
      mirrors_.erase(it);
    }
  }
  std::unique_lock<std::mutex> run;
  if (m) run = std::unique_lock(m->run);  // after any transfer still running
  if (auto ok = sync_mirror(id, offset); !ok) return ok.error();
  auto target = mirror_of(id);
  if (!target) return Error(Errc::unavailable, "the mirror went away");
  http::Client client(*target, peer_client_options());
  auto r = client.request("PUT", "/uploads/" + id + "?digest=" + d.str(), peer_headers());
  if (!r) return r.error();
  if (!r->success()) return Error(http::errc_for_status(r->status), http::describe_failure(*r));
  return *target;
}

}  // namespace shoal::origin

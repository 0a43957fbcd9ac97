#include "origin/seeder.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/load_torrent.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_status.hpp>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/torrent/bt_settings.h"
#include "core/log.h"
#include "origin/sent_pieces.h"

namespace shoal::origin {

namespace {

lt::settings_pack seeder_settings(const SeederOptions& o) {
  lt::settings_pack sp = swarm_base_settings(o.listen, o.fingerprint);
  // Every tracker of the list, not only the first that answers: the origin is the one
  // peer everybody must find, whichever tracker a client picked from the tier, and
  // even when the trackers do not share a peer store. (Few origins: little load.)
  sp.set_bool(lt::settings_pack::announce_to_all_trackers, true);
  // Uploaded blocks feed SentPieces (GET /blobs/<digest>/swarm).
  sp.set_int(lt::settings_pack::alert_mask, lt::alert_category::error | lt::alert_category::upload);
  sp.set_int(lt::settings_pack::alert_queue_size, 1 << 16);
  return sp;
}

}  // namespace

struct Seeder::Impl {
  explicit Impl(const SeederOptions& o) : opts(o), session(lt::session_params(seeder_settings(o))) {
    alerts = std::thread([this] { drain_alerts(); });
  }
  ~Impl() {
    stop = true;
    alerts.join();
  }
  void drain_alerts();

  SeederOptions opts;
  lt::session session;
  mutable std::mutex mu;
  struct Seeded {
    lt::torrent_handle handle;
    SentPieces sent;
  };
  std::map<Digest, Seeded> seeded;
  // The alert thread's way from a handle to its blob's counts (map nodes do not move).
  std::map<lt::torrent_handle, SentPieces*> sent_by_handle;
  // Seeding starts in the background after a commit, and an agent may be handed pieces
  // before it does: they count once the blob is seeded (remove() forgets them).
  std::map<Digest, std::set<PieceIndex>> sent_before_seeding;
  std::atomic<bool> stop{false};
  std::thread alerts;
};

// libtorrent drops alerts nobody pops: one thread pops them all and counts the
// uploaded blocks; everything else the origin needs comes from torrent_status.
void Seeder::Impl::drain_alerts() {
  std::vector<lt::alert*> batch;
  while (!stop) {
    session.wait_for_alert(std::chrono::milliseconds(200));
    session.pop_alerts(&batch);
    std::lock_guard lock(mu);
    for (lt::alert* a : batch) {
      auto* up = lt::alert_cast<lt::block_uploaded_alert>(a);
      if (!up) continue;
      auto s = sent_by_handle.find(up->handle);
      if (s == sent_by_handle.end()) continue;
      s->second->record(PieceIndex{static_cast<uint32_t>(static_cast<int>(up->piece_index))},
                        static_cast<uint32_t>(up->block_index));
    }
  }
}

Seeder::Seeder(SeederOptions opts) : impl_(std::make_unique<Impl>(opts)) {}

Seeder::~Seeder() = default;

Result<void> Seeder::add(const Digest& digest, const std::string& blob_path,
                         const std::string& metainfo) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->seeded.count(digest)) return {};
  }
  lt::add_torrent_params atp;
  try {
    atp = lt::load_torrent_buffer(
        lt::span<char const>(metainfo.data(), static_cast<std::ptrdiff_t>(metainfo.size())));
  } catch (const std::exception& e) {
    return Error(Errc::protocol_error,
                 "metainfo of " + digest.str() + " does not load: " + e.what());
  }
  atp.save_path = std::filesystem::path(blob_path).parent_path().string();
  // The configured list, one tier (as the served metainfo lists it), not the
  // metainfo's own: load_torrent_buffer fills tracker_tiers from it.
  atp.trackers = impl_->opts.trackers;
  atp.tracker_tiers.assign(atp.trackers.size(), 0);
  const auto total = static_cast<uint64_t>(atp.ti ? atp.ti->total_size() : 0);
  const auto piece_length = static_cast<uint32_t>(atp.ti ? atp.ti->piece_length() : 0);
  atp.flags |= lt::torrent_flags::seed_mode;
  if (impl_->opts.super_seeding) atp.flags |= lt::torrent_flags::super_seeding;
  atp.flags &= ~(lt::torrent_flags::auto_managed | lt::torrent_flags::paused);
  lt::error_code ec;
  lt::torrent_handle h = impl_->session.add_torrent(std::move(atp), ec);
  if (ec) return Error(Errc::io_error, "cannot seed " + digest.str() + ": " + ec.message());
  std::lock_guard lock(impl_->mu);
  auto [it, added] =
      impl_->seeded.insert_or_assign(digest, Impl::Seeded{h, SentPieces(total, piece_length)});
  impl_->sent_by_handle.insert_or_assign(h, &it->second.sent);
  if (auto early = impl_->sent_before_seeding.extract(digest)) {
    for (PieceIndex piece : early.mapped()) it->second.sent.record_piece(piece);
  }
  return {};
}

void Seeder::remove(const Digest& digest) {
  std::lock_guard lock(impl_->mu);
  impl_->sent_before_seeding.erase(digest);
  auto it = impl_->seeded.find(digest);
  if (it == impl_->seeded.end()) return;
  impl_->session.remove_torrent(it->second.handle);
  impl_->sent_by_handle.erase(it->second.handle);
  impl_->seeded.erase(it);
}

void Seeder::mark_sent(const Digest& digest, PieceIndex piece) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->seeded.find(digest);
  if (it != impl_->seeded.end()) {
    it->second.sent.record_piece(piece);
  } else {
    impl_->sent_before_seeding[digest].insert(piece);
  }
}

size_t Seeder::torrents() const {
  std::lock_guard lock(impl_->mu);
  return impl_->seeded.size();
}

Result<SwarmStatus> Seeder::swarm(const Digest& digest) const {
  lt::torrent_handle h;
  SwarmStatus st;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->seeded.find(digest);
    if (it == impl_->seeded.end())
      return Error(Errc::not_found, "blob " + digest.str() + " is not seeded");
    h = it->second.handle;
    st.pieces = it->second.sent.pieces();
    st.pieces_sent = it->second.sent.pieces_sent();
  }
  // torrent_status, not get_peer_info: the latter crashed libtorrent 2.0.8's network
  // thread while connections closed (ARCHITECTURE, "Bytes by source").
  lt::torrent_status ts = h.status();
  st.peers = static_cast<uint32_t>(std::max(ts.num_peers, 0));
  st.complete_peers = static_cast<uint32_t>(std::max(ts.num_seeds, 0));
  st.uploaded_bytes = static_cast<uint64_t>(ts.all_time_upload);
  return st;
}

uint64_t Seeder::uploaded_bytes() const {
  // status() waits for libtorrent's network thread: not under the lock the alert
  // thread needs.
  std::vector<lt::torrent_handle> handles;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& [d, entry] : impl_->seeded) handles.push_back(entry.handle);
  }
  uint64_t total = 0;
  for (const lt::torrent_handle& h : handles) {
    total += static_cast<uint64_t>(h.status(lt::torrent_handle::query_accurate_download_counters)
                                       .all_time_upload);
  }
  return total;
}

uint16_t Seeder::listen_port() const { return impl_->session.listen_port(); }

}  // namespace shoal::origin

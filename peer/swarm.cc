#include "peer/swarm.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/load_torrent.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "core/torrent/bt_settings.h"
#include "core/log.h"
#include "peer/announce_bits.h"
#include "peer/blob_disk_io.h"
#include "peer/rate_pacer.h"

namespace shoal::peer {
namespace {

using namespace std::chrono_literals;
using Kind = SwarmEvent::Kind;

lt::settings_pack swarm_settings(const SwarmOptions& o) {
  lt::settings_pack sp = swarm_base_settings(o.listen, o.fingerprint);
  sp.set_int(lt::settings_pack::max_out_request_queue, 1500);
  // Requests in flight cover 1 s of download instead of 3: plenty to keep a fast link
  // busy, and a reader's time-critical pieces wait less behind requests already sent.
  sp.set_int(lt::settings_pack::request_queue_time, 1);
  // A request a peer leaves unanswered holds its piece back: with the hand-out, even a
  // piece the origin has since delivered whole stays unfinished until the request times
  // out (libtorrent's default: 60 s; a peer that never answers made pulls take minutes).
  sp.set_int(lt::settings_pack::request_timeout, 5);
  sp.set_int(lt::settings_pack::upload_rate_limit, o.upload_rate);
  sp.set_int(lt::settings_pack::download_rate_limit, o.download_rate);
  sp.set_int(lt::settings_pack::connections_limit, o.max_connections);
  // libtorrent's default floor between announces is 5 minutes: the tracker's own
  // interval should decide, and a download without peers asks again at once (below).
  sp.set_int(lt::settings_pack::min_announce_interval, 5);
  // One alert per piece, none per block (OriginPeer counts the origin's blocks): a
  // burst of pieces verified at once still fits.
  sp.set_int(lt::settings_pack::alert_queue_size, 1 << 16);
  sp.set_int(lt::settings_pack::alert_mask,
             lt::alert_category::error | lt::alert_category::status | lt::alert_category::storage |
                 lt::alert_category::piece_progress | lt::alert_category::peer);
  return sp;
}

// Pieces are written and checked by the agent's own disk back end (blob_disk_io.h).
lt::session_params session_params_for(const SwarmOptions& o, std::shared_ptr<BlobBook> book) {
  lt::session_params p(swarm_settings(o));
  p.disk_io_constructor = blob_disk_io(std::move(book));
  return p;
}

Result<lt::add_torrent_params> load(const Digest& d, std::string_view metainfo) {
  try {
    return lt::load_torrent_buffer(
        lt::span<char const>(metainfo.data(), static_cast<std::ptrdiff_t>(metainfo.size())));
  } catch (const std::exception& e) {
    return Error(Errc::protocol_error, "metainfo of " + d.str() + " does not load: " + e.what());
  }
}

// A download's view of its peers that are origins (their peer id has the origin's
// prefix). It counts the payload they send, per block as it arrives: libtorrent's
// per-block alerts cost the network thread an allocation per 16 KiB, and polling
// get_peer_info crashed libtorrent 2.0.8's network thread, rarely, while connections
// closed. With the hand-out on (`hide`), an origin's bitfield and HAVEs are also dropped
// on arrival: the agent never finds the origin interesting, so its picker never asks it
// for the rarest pieces (which every other agent would be asking it for too).
class OriginPeer final : public lt::peer_plugin {
 public:
  OriginPeer(lt::peer_connection_handle pc, std::string prefix, bool hide,
             std::shared_ptr<std::atomic<uint64_t>> received)
      : pc_(std::move(pc)),
        prefix_(std::move(prefix)),
        hide_(hide),
        received_(std::move(received)) {}
  bool on_have(lt::piece_index_t) override { return hidden(); }
  bool on_bitfield(lt::bitfield const&) override { return hidden(); }
  bool on_have_all() override { return hidden(); }
  bool on_allowed_fast(lt::piece_index_t) override { return hidden(); }
  bool on_suggest(lt::piece_index_t) override { return hidden(); }
  bool on_piece(lt::peer_request const& r, lt::span<char const>) override {
    if (is_origin()) *received_ += static_cast<uint64_t>(r.length);
    return false;  // libtorrent goes on to take the block as usual
  }

 private:
  bool hidden() { return hide_ && is_origin(); }
  // Asked only once a message arrived, so after the handshake that carries the id.
  bool is_origin() {
    if (!origin_) {
      const lt::peer_id& id = pc_.pid();
      origin_ = std::string_view(id.data(), id.size()).starts_with(prefix_);
    }
    return *origin_;
  }
  lt::peer_connection_handle pc_;
  const std::string prefix_;
  const bool hide_;
  std::shared_ptr<std::atomic<uint64_t>> received_;
  std::optional<bool> origin_;
};

class OriginTorrent final : public lt::torrent_plugin {
 public:
  OriginTorrent(std::string prefix, bool hide, std::shared_ptr<std::atomic<uint64_t>> received)
      : prefix_(std::move(prefix)), hide_(hide), received_(std::move(received)) {}
  std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const& pc) override {
    return std::make_shared<OriginPeer>(pc, prefix_, hide_, received_);
  }

 private:
  const std::string prefix_;
  const bool hide_;
  std::shared_ptr<std::atomic<uint64_t>> received_;
};

}  // namespace

struct Swarm::Impl {
  Impl(SwarmOptions o, Listener l)
      : opts(std::move(o)),
        listener(std::move(l)),
        book(std::make_shared<BlobBook>()),
        session(session_params_for(opts, book)) {
    if (opts.download_rate > 0) pacer.emplace(static_cast<uint64_t>(opts.download_rate));
    // libtorrent exempts peers on local networks from rate limits by default; a data
    // centre is one big local network, so the limits must apply to everyone.
    lt::ip_filter everyone;
    const std::uint32_t global = 1u
                                 << static_cast<std::uint32_t>(lt::session::global_peer_class_id);
    everyone.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"), global);
    everyone.add_rule(lt::make_address("::"),
                      lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), global);
    session.set_peer_class_filter(everyone);
    sent_idx = lt::find_metric_idx("net.sent_payload_bytes");
    recv_idx = lt::find_metric_idx("net.recv_payload_bytes");
    peers_idx = lt::find_metric_idx("peer.num_peers_connected");
    thread = std::thread([this] { run(); });
  }

  ~Impl() { stop_events(); }

  void stop_events() {
    stop = true;
    if (thread.joinable()) thread.join();
  }

  void run();
  void dispatch(lt::alert* a);
  void poll_sources();
  void emit(Kind kind, const lt::torrent_alert& a, PieceIndex piece = {},
            std::string message = {});
  static std::optional<Digest> digest_of(const lt::torrent_alert& a);
  Result<void> add(const Digest& d, std::string_view metainfo, lt::add_torrent_params atp,
                   bool downloading);
  std::optional<lt::torrent_handle> handle_of(const Digest& d) const;

  SwarmOptions opts;
  Listener listener;
  std::shared_ptr<BlobBook> book;
  lt::session session;
  int sent_idx = -1, recv_idx = -1, peers_idx = -1;

  mutable std::mutex mu;
  std::map<Digest, lt::torrent_handle> handles;
  std::set<Digest> downloading;
  struct Geometry {
    uint64_t total = 0;
    uint64_t piece_length = 0;
  };
  std::map<Digest, Geometry> geometry;  // of downloads, for prioritize()

  // Shared with the torrents' OriginPeer plugins, which the session may still run while
  // it is being destroyed.
  std::shared_ptr<std::atomic<uint64_t>> from_origin = std::make_shared<std::atomic<uint64_t>>(0);
  std::atomic<uint64_t> uploaded{0}, downloaded{0}, pieces{0}, hash_failures{0},
      bans{0}, peers{0};
  std::map<Digest, std::chrono::steady_clock::time_point> last_reannounce;  // alert thread only
  AnnounceBits announce_bits;                                               // alert thread only
  std::atomic<bool> stop{false};
  std::thread thread;
  std::mutex pacer_mu;
  std::optional<RatePacer> pacer;  // with a download_rate
};

void Swarm::Impl::run() {
  pthread_setname_np(pthread_self(), "shoal-alerts");
  auto next_poll = std::chrono::steady_clock::now();
  std::vector<lt::alert*> alerts;
  while (!stop) {
    if (session.wait_for_alert(100ms) != nullptr) {
      session.pop_alerts(&alerts);
      for (lt::alert* a : alerts) dispatch(a);
    }
    if (std::chrono::steady_clock::now() >= next_poll) {
      session.post_session_stats();
      poll_sources();
      next_poll = std::chrono::steady_clock::now() + 500ms;
    }
  }
}

// From the name the alert carries (the digest hex), not from a handle lookup: alerts
// can arrive before add_torrent() has returned the handle to be recorded.
std::optional<Digest> Swarm::Impl::digest_of(const lt::torrent_alert& a) {
  auto d = Digest::parse(std::string("sha256:") + a.torrent_name());
  if (!d) return std::nullopt;
  return *d;
}

std::optional<lt::torrent_handle> Swarm::Impl::handle_of(const Digest& d) const {
  std::lock_guard lock(mu);
  auto it = handles.find(d);
  if (it == handles.end()) return std::nullopt;
  return it->second;
}

void Swarm::Impl::emit(Kind kind, const lt::torrent_alert& a, PieceIndex piece,
                       std::string message) {
  auto d = digest_of(a);
  if (!d) return;
  if (kind == Kind::finished) {
    std::lock_guard lock(mu);
    downloading.erase(*d);
  }
  listener(SwarmEvent{kind, *d, piece, std::move(message), std::nullopt});
}

void Swarm::Impl::dispatch(lt::alert* a) {
  if (auto* p = lt::alert_cast<lt::piece_finished_alert>(a)) {
    ++pieces;
    emit(Kind::piece_passed, *p, PieceIndex{static_cast<uint32_t>(p->piece_index)});
    // The disk back end finished the whole-blob hash before it reported the last
    // piece verified, so this is the alert that can carry it.
    if (auto whole = book->take_whole(p->torrent_name())) {
      if (auto d = digest_of(*p)) {
        listener(SwarmEvent{Kind::whole_hashed, *d, {}, {}, *whole});
      }
    }
  } else if (lt::alert_cast<lt::hash_failed_alert>(a)) {
    ++hash_failures;  // the piece is downloaded again; readers wait for it to pass
  } else if (auto* t = lt::alert_cast<lt::torrent_finished_alert>(a)) {
    emit(Kind::finished, *t);
  } else if (auto* c = lt::alert_cast<lt::cache_flushed_alert>(a)) {
    emit(Kind::flushed, *c);
  } else if (auto* m = lt::alert_cast<lt::storage_moved_alert>(a)) {
    emit(Kind::moved, *m);
  } else if (auto* mf = lt::alert_cast<lt::storage_moved_failed_alert>(a)) {
    emit(Kind::failed, *mf, {}, "moving the file failed: " + mf->error.message());
  } else if (auto* fe = lt::alert_cast<lt::file_error_alert>(a)) {
    emit(Kind::failed, *fe, {}, "file error: " + fe->error.message());
  } else if (auto* te = lt::alert_cast<lt::torrent_error_alert>(a)) {
    emit(Kind::failed, *te, {}, "torrent error: " + te->error.message());
  } else if (auto* ban = lt::alert_cast<lt::peer_ban_alert>(a)) {
    ++bans;
    log::warn("banned a peer for sending corrupt data",
              {{"peer",
                ban->endpoint.address().to_string() + ":" + std::to_string(ban->endpoint.port())}});
  } else if (auto* s = lt::alert_cast<lt::session_stats_alert>(a)) {
    auto counters = s->counters();
    uploaded = static_cast<uint64_t>(counters[sent_idx]);
    downloaded = static_cast<uint64_t>(counters[recv_idx]);
    peers = static_cast<uint64_t>(counters[peers_idx]);
  }
}

// A download without any connection announces again: the tracker may have answered
// before the origin or another peer announced the blob.
void Swarm::Impl::poll_sources() {
  std::vector<std::pair<Digest, lt::torrent_handle>> active;
  {
    std::lock_guard lock(mu);
    for (const auto& d : downloading) active.emplace_back(d, handles.at(d));
  }
  auto now = std::chrono::steady_clock::now();
  for (const auto& [d, h] : active) {
    if (h.status().num_peers == 0 && now - last_reannounce[d] > 2s) {
      h.force_reannounce(0, -1, lt::torrent_handle::ignore_min_interval);
      last_reannounce[d] = now;
    }
  }
  announce_bits.refresh(active);
  std::erase_if(last_reannounce, [&](const auto& entry) {
    return std::none_of(active.begin(), active.end(),
                        [&](const auto& a) { return a.first == entry.first; });
  });
}

Result<void> Swarm::Impl::add(const Digest& d, std::string_view metainfo,
                              lt::add_torrent_params atp, bool is_download) {
  {
    std::lock_guard lock(mu);
    if (handles.count(d)) return {};
  }
  // The agent's own trackers, one tier: libtorrent announces to the first that works and
  // moves to the next when one fails. tracker_tiers too, or the metainfo's would stay.
  atp.trackers = opts.trackers;
  atp.tracker_tiers.assign(opts.trackers.size(), 0);
  if (is_download) AnnounceBits::start(atp);
  if (is_download) {
    atp.extensions.push_back([prefix = opts.origin_prefix, hide = opts.hide_origin,
                              received = from_origin](lt::torrent_handle const&,
                                                      lt::client_data_t) {
      return std::make_shared<OriginTorrent>(prefix, hide, received);
    });
  }
  atp.flags &= ~(lt::torrent_flags::auto_managed | lt::torrent_flags::paused);
  if (!atp.ti) return Error(Errc::protocol_error, "metainfo of " + d.str() + " has no info");
  auto expect = blob_expect(metainfo, d, *atp.ti);
  if (!expect) return expect.error();
  book->forget(d.hex());  // a whole-blob result left by an earlier, abandoned download
  book->expect(d.hex(), std::move(*expect));
  const int64_t atp_total = atp.ti ? atp.ti->total_size() : 0;
  const int atp_piece = atp.ti ? atp.ti->piece_length() : 0;
  lt::error_code ec;
  lt::torrent_handle h = session.add_torrent(std::move(atp), ec);
  if (ec) return Error(Errc::io_error, "cannot add " + d.str() + " to the swarm: " + ec.message());
  std::lock_guard lock(mu);
  handles.insert_or_assign(d, h);
  if (is_download) {
    downloading.insert(d);
    geometry[d] = Geometry{static_cast<uint64_t>(atp_total), static_cast<uint64_t>(atp_piece)};
  }
  return {};
}

Swarm::Swarm(SwarmOptions opts, Listener listener)
    : impl_(std::make_unique<Impl>(std::move(opts), std::move(listener))) {}

Swarm::~Swarm() = default;

void Swarm::stop_events() { impl_->stop_events(); }

Result<void> Swarm::seed(const Digest& d, std::string_view metainfo, const std::string& save_dir) {
  auto atp = load(d, metainfo);
  if (!atp) return atp.error();
  atp->save_path = save_dir;
  atp->flags |= lt::torrent_flags::seed_mode;
  return impl_->add(d, metainfo, std::move(*atp), false);
}

Result<void> Swarm::download(const Digest& d, std::string_view metainfo,
                             const std::string& save_dir) {
  auto atp = load(d, metainfo);
  if (!atp) return atp.error();
  atp->save_path = save_dir;
  return impl_->add(d, metainfo, std::move(*atp), true);
}

// Top piece priority rather than set_piece_deadline: libtorrent 2.0.8's time-critical
// piece list crashed its network thread (a null dereference, about one registry pull
// in thirty under load, and with a peer killed mid-download; even with the window
// clamped to the blob's pieces). A priority still puts the reader's next pieces
// before rarest-first; the window moves as the reader does. It costs the origin
// more when many peers read the same blob at once (ARCHITECTURE, "Swarm").
bool Swarm::prioritize(const Digest& d, PieceIndex first, uint32_t count) {
  std::optional<lt::torrent_handle> h;
  uint64_t pieces = 0;
  {
    std::lock_guard lock(impl_->mu);
    auto g = impl_->geometry.find(d);
    auto it = impl_->handles.find(d);
    if (g == impl_->geometry.end() || it == impl_->handles.end() || g->second.piece_length == 0 ||
        !impl_->downloading.contains(d)) {
      return false;
    }
    h = it->second;
    pieces = (g->second.total + g->second.piece_length - 1) / g->second.piece_length;
  }
  std::vector<std::pair<lt::piece_index_t, lt::download_priority_t>> top;
  for (uint64_t i = first.value; i < pieces && i < uint64_t{first.value} + count; ++i) {
    top.emplace_back(lt::piece_index_t(static_cast<int>(i)), lt::top_priority);
  }
  if (!top.empty()) h->prioritize_pieces(top);
  return true;
}

std::optional<Swarm::PieceView> Swarm::pieces_of(const Digest& d) const {
  std::optional<lt::torrent_handle> h;
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->downloading.contains(d)) return std::nullopt;
    h = impl_->handles.at(d);
  }
  lt::torrent_status st = h->status(lt::torrent_handle::query_pieces);
  PieceView out;
  h->piece_availability(out.holders);
  const auto n = static_cast<size_t>(st.pieces.size());
  out.have.resize(n);
  for (size_t i = 0; i < n; ++i) out.have[i] = st.pieces[lt::piece_index_t(static_cast<int>(i))];
  out.requested.resize(n);
  std::vector<lt::partial_piece_info> queue;
  h->get_download_queue(queue);
  for (const auto& p : queue) {
    const auto i = static_cast<size_t>(static_cast<int>(p.piece_index));
    if (i < n) out.requested[i] = true;
  }
  return out;
}

void Swarm::add_piece(const Digest& d, PieceIndex piece, std::vector<char> data) {
  auto h = impl_->handle_of(d);
  if (!h) return;
  *impl_->from_origin += data.size();
  // As a peer connection would, wait while the disk is behind: every block queued for
  // it is a copy in memory.
  impl_->book->wait_for_room(BlobDiskOptions{}.queue_bytes, std::chrono::seconds(1));
  h->add_piece(lt::piece_index_t(static_cast<int>(piece.value)), std::move(data));
}

std::chrono::steady_clock::duration Swarm::handout_wait(uint64_t bytes) {
  std::lock_guard lock(impl_->pacer_mu);
  if (!impl_->pacer) return std::chrono::steady_clock::duration::zero();
  return impl_->pacer->admit(bytes, impl_->downloaded, std::chrono::steady_clock::now());
}

void Swarm::handout_refund(uint64_t bytes) {
  std::lock_guard lock(impl_->pacer_mu);
  if (impl_->pacer) impl_->pacer->refund(bytes);
}

void Swarm::flush(const Digest& d) {
  if (auto h = impl_->handle_of(d)) h->flush_cache();
}

void Swarm::move(const Digest& d, const std::string& save_dir) {
  if (auto h = impl_->handle_of(d)) h->move_storage(save_dir, lt::move_flags_t::dont_replace);
}

void Swarm::remove(const Digest& d) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->handles.find(d);
  if (it == impl_->handles.end()) return;
  impl_->session.remove_torrent(it->second);
  impl_->book->forget(d.hex());
  impl_->downloading.erase(d);
  impl_->geometry.erase(d);
  impl_->handles.erase(it);
}

SwarmStats Swarm::stats() const {
  SwarmStats s;
  s.uploaded = impl_->uploaded;
  s.downloaded = impl_->downloaded;
  s.from_origin = *impl_->from_origin;
  s.pieces = impl_->pieces;
  s.hash_failures = impl_->hash_failures;
  s.bans = impl_->bans;
  s.peers = impl_->peers;
  s.hashed_piece = impl_->book->piece_bytes;
  s.hashed_whole = impl_->book->whole_bytes;
  s.read_back = impl_->book->read_back_bytes;
  std::lock_guard lock(impl_->mu);
  s.torrents = impl_->handles.size();
  return s;
}

uint16_t Swarm::listen_port() const { return impl_->session.listen_port(); }

}  // namespace shoal::peer

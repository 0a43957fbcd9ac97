#include "origin/seeder.h"

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/load_torrent.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_status.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "core/bt_settings.h"
#include "core/log.h"

namespace shoal::origin {

namespace {

lt::settings_pack seeder_settings(const SeederOptions& o) {
  lt::settings_pack sp = swarm_base_settings(o.listen, o.fingerprint);
  sp.set_int(lt::settings_pack::alert_mask, lt::alert_category::error);
  return sp;
}

}  // namespace

struct Seeder::Impl {
  explicit Impl(const SeederOptions& o) : opts(o), session(lt::session_params(seeder_settings(o))) {}
  SeederOptions opts;
  lt::session session;
  mutable std::mutex mu;
  std::map<Digest, lt::torrent_handle> handles;
};

Seeder::Seeder(SeederOptions opts) : impl_(std::make_unique<Impl>(opts)) {}

Seeder::~Seeder() = default;

Result<void> Seeder::add(const Digest& digest, const std::string& blob_path,
                         const std::string& metainfo) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->handles.count(digest)) return {};
  }
  lt::add_torrent_params atp;
  try {
    atp = lt::load_torrent_buffer(lt::span<char const>(metainfo.data(),
                                                       static_cast<std::ptrdiff_t>(metainfo.size())));
  } catch (const std::exception& e) {
    return Error(Errc::protocol_error, "metainfo of " + digest.str() + " does not load: " + e.what());
  }
  atp.save_path = std::filesystem::path(blob_path).parent_path().string();
  atp.trackers = impl_->opts.trackers;
  atp.flags |= lt::torrent_flags::seed_mode;
  atp.flags &= ~(lt::torrent_flags::auto_managed | lt::torrent_flags::paused);
  lt::error_code ec;
  lt::torrent_handle h = impl_->session.add_torrent(std::move(atp), ec);
  if (ec) return Error(Errc::io_error, "cannot seed " + digest.str() + ": " + ec.message());
  std::lock_guard lock(impl_->mu);
  impl_->handles[digest] = h;
  return {};
}

void Seeder::remove(const Digest& digest) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->handles.find(digest);
  if (it == impl_->handles.end()) return;
  impl_->session.remove_torrent(it->second);
  impl_->handles.erase(it);
}

size_t Seeder::torrents() const {
  std::lock_guard lock(impl_->mu);
  return impl_->handles.size();
}

uint64_t Seeder::uploaded_bytes() const {
  std::lock_guard lock(impl_->mu);
  uint64_t total = 0;
  for (const auto& [d, h] : impl_->handles) {
    total += static_cast<uint64_t>(h.status(lt::torrent_handle::query_accurate_download_counters)
                                       .all_time_upload);
  }
  return total;
}

uint16_t Seeder::listen_port() const { return impl_->session.listen_port(); }

}  // namespace shoal::origin

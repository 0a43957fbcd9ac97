#include "core/torrent/bt_settings.h"

namespace shoal {

lt::settings_pack swarm_base_settings(const std::string& listen, const std::string& fingerprint) {
  lt::settings_pack sp;
  sp.set_str(lt::settings_pack::listen_interfaces, listen);
  sp.set_str(lt::settings_pack::peer_fingerprint, fingerprint);
  sp.set_bool(lt::settings_pack::enable_dht, false);
  sp.set_bool(lt::settings_pack::enable_lsd, false);
  sp.set_bool(lt::settings_pack::enable_upnp, false);
  sp.set_bool(lt::settings_pack::enable_natpmp, false);
  // Inside a data centre uTP is slower than TCP (docs/ARCHITECTURE.md); on one host every
  // peer shares an IP.
  sp.set_bool(lt::settings_pack::enable_outgoing_utp, false);
  sp.set_bool(lt::settings_pack::enable_incoming_utp, false);
  sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
  // Protocol obfuscation buys nothing between Shoal's own hosts and costs a
  // handshake round trip (and RC4) per connection.
  sp.set_int(lt::settings_pack::out_enc_policy, lt::settings_pack::pe_disabled);
  sp.set_int(lt::settings_pack::active_downloads, -1);
  sp.set_int(lt::settings_pack::active_seeds, -1);
  sp.set_int(lt::settings_pack::active_limit, -1);
  sp.set_int(lt::settings_pack::unchoke_slots_limit, -1);
  sp.set_int(lt::settings_pack::send_buffer_watermark, 16 << 20);
  sp.set_int(lt::settings_pack::send_buffer_watermark_factor, 150);
  sp.set_int(lt::settings_pack::aio_threads, 2);
  sp.set_int(lt::settings_pack::stop_tracker_timeout, 1);
  // libtorrent drops seed-to-seed connections the moment a download completes, on
  // both ends; keeping them lets a peer's final per-connection sample count the
  // origin's last bytes (idle connections still time out).
  sp.set_bool(lt::settings_pack::close_redundant_connections, false);
  return sp;
}

}  // namespace shoal

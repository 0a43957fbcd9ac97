// The libtorrent settings every Shoal swarm member shares (origin seeder and peer
// agents): found only through Shoal's tracker, TCP only, tuned for a data centre.
#pragma once

#include <libtorrent/settings_pack.hpp>
#include <string>

namespace shoal {

lt::settings_pack swarm_base_settings(const std::string& listen, const std::string& fingerprint);

}  // namespace shoal

// Configuration values come from files and flags a person typed.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)shoal::parse_size(text);
  (void)shoal::parse_duration(text);
  (void)shoal::parse_bool(text);
  std::string host;
  uint16_t port = 0;
  (void)shoal::parse_host_port(text, host, port);
  shoal::Config cfg({{"size", shoal::ConfigType::size, "1MiB", ""},
                     {"wait", shoal::ConfigType::duration, "1s", ""},
                     {"listen", shoal::ConfigType::address, "127.0.0.1:0", ""}});
  for (const char* key : {"size", "wait", "listen", "unknown"}) {
    try {
      cfg.set(key, std::string(text), "fuzz");
    } catch (const shoal::ConfigError&) {
      // the documented way to reject a value
    }
  }
  return 0;
}

#include "http/outbound.h"

#include <utility>

namespace shoal::http {

asio::thread_pool& outbound_pool() {
  static asio::thread_pool pool(kOutboundThreads);
  return pool;
}

void post_outbound(std::function<void()> fn) { asio::post(outbound_pool(), std::move(fn)); }

}  // namespace shoal::http

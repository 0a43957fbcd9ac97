#include "http/offload.h"

namespace shoal::http {

asio::thread_pool& blocking_pool() {
  static asio::thread_pool pool(4);
  return pool;
}

}  // namespace shoal::http

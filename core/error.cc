#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace shoal {
namespace {

class Category : public std::error_category {
 public:
  const char* name() const noexcept override { return "shoal"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "ok";
      case Errc::bad_request: return "bad request";
      case Errc::malformed_digest: return "malformed digest";
      case Errc::digest_mismatch: return "digest mismatch";
      case Errc::not_found: return "not found";
      case Errc::range_not_satisfiable: return "range not satisfiable";
      case Errc::too_large: return "too large";
      case Errc::disk_full: return "disk full";
      case Errc::unauthorized: return "unauthorized";
      case Errc::forbidden: return "forbidden";
      case Errc::conflict: return "conflict";
      case Errc::io_error: return "I/O error";
      case Errc::unavailable: return "unavailable";
      case Errc::protocol_error: return "protocol error";
      case Errc::timed_out: return "timed out";
      case Errc::cancelled: return "cancelled";
      case Errc::no_quorum: return "write quorum not reached";
      case Errc::precondition_failed: return "precondition failed";
    }
    return "unknown shoal error";
  }
};

}  // namespace

const std::error_category& shoal_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), shoal_category()}; }

Errc errc_from_errno(int err) noexcept {
  return (err == ENOSPC || err == EDQUOT) ? Errc::disk_full : Errc::io_error;
}

Error errno_error(int err, const std::string& what) {
  return Error(errc_from_errno(err), what + ": " + std::strerror(err));
}

}  // namespace shoal

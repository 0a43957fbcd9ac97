// Errors on Shoal's data path: a std::error_code for the kind of failure (what
// callers branch on) plus a human sentence (what a user reads). No exceptions here;
// exceptions are for start-up and configuration only.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace shoal {

enum class Errc {
  ok = 0,
  bad_request,          // malformed input from outside
  malformed_digest,
  digest_mismatch,      // bytes do not hash to the digest they were named by
  not_found,
  range_not_satisfiable,
  too_large,
  disk_full,
  unauthorized,
  forbidden,
  conflict,
  io_error,
  unavailable,          // a remote end could not be reached or answered 5xx
  protocol_error,       // a remote end answered something we cannot parse
  timed_out,
  cancelled,            // stopped on purpose (shutdown)
  no_quorum,            // too few origins of the ring hold (or can take) a write
  precondition_failed,  // If-Match / If-None-Match did not hold
};

}  // namespace shoal

template <>
struct std::is_error_code_enum<shoal::Errc> : std::true_type {};

namespace shoal {

const std::error_category& shoal_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

// Maps an errno value from a failed system call into Shoal's codes: ENOSPC and
// EDQUOT become disk_full, everything else io_error.
Errc errc_from_errno(int err) noexcept;

struct Error {
  std::error_code code;
  std::string message;

  Error(Errc c, std::string msg) : code(make_error_code(c)), message(std::move(msg)) {}
  Error(std::error_code c, std::string msg) : code(c), message(std::move(msg)) {}
  bool is(Errc c) const { return code == make_error_code(c); }
};

// Error built from errno with a sentence naming what was being done.
Error errno_error(int err, const std::string& what);

// Value-or-error, the std::expected subset Shoal needs (C++20 has no std::expected).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), failed_(true) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_{Errc::ok, {}};
  bool failed_ = false;
};

}  // namespace shoal


// Supervision of the child processes of `shoal up`: each child runs this same binary
// with its stdout and stderr in a log file, dies with its parent (PR_SET_PDEATHSIG),
// and is stopped with SIGTERM, then SIGKILL after a grace period.
//
// While a Supervisor exists, SIGINT, SIGTERM and SIGCHLD are blocked and taken with
// sigtimedwait: no handler runs at an awkward moment, and a signal that arrives between
// two checks stays pending instead of being lost. Single-threaded use only.
//
// The children's ports are chosen before any of them starts (PortReservation): the
// tracker and the origins need each other's URLs, and every origin of a ring needs
// every member's.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_io.h"

namespace shoal::cli {

struct ChildSpec {
  std::string name;               // "tracker", "origin", "peer1": used in messages
  std::vector<std::string> args;  // after the program name: {"tracker", "--listen", ...}
  std::string log_path;           // truncated at start
};

struct Child {
  ChildSpec spec;
  pid_t pid = -1;
  bool exited = false;
  int status = 0;  // from waitpid, once exited
};

enum class Event { none, stop_requested, child_exited };

class Supervisor {
 public:
  Supervisor();
  ~Supervisor();  // stops whatever still runs and restores the signal mask
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts `/proc/self/exe ARGS...`. Throws std::runtime_error if the log cannot be
  // opened or the child cannot be started (publish::start_child: fork or exec failed).
  const Child& spawn(ChildSpec spec);
  // Waits up to `timeout` for SIGINT/SIGTERM or for children to exit (reaped here):
  // child_exited when at least one exited since the last call, last_exited() names one.
  Event wait(std::chrono::milliseconds timeout);
  // SIGTERM to every running child, SIGKILL to those still running after `grace` (or
  // at once on a further SIGINT/SIGTERM), then reaps all and forgets them.
  void stop_all(std::chrono::milliseconds grace);

  // The child whose exit the last child_exited event reported.
  const Child* last_exited() const { return last_exited_; }
  int stop_signal() const { return stop_signal_; }

 private:
  // How many children newly exited.
  int reap();
  // The signal taken, 0 on timeout.
  int take_signal(std::chrono::milliseconds timeout);

  sigset_t watched_{};
  sigset_t old_mask_{};
  std::deque<Child> children_;  // deque: references stay valid as children are added
  const Child* last_exited_ = nullptr;
  int stop_signal_ = 0;
};

// Distinct free TCP ports on one host. Each stays bound (not listening) until release(),
// called just before the server that will listen on it starts: meanwhile no other bind
// on the host takes it, not even the children's own port-0 sockets. Between release()
// and the server's bind another process may still take it (the caller retries).
class PortReservation {
 public:
  // Throws std::runtime_error when no port can be bound on `host` (an IP address).
  PortReservation(const std::string& host, size_t count);
  const std::vector<uint16_t>& ports() const { return ports_; }
  void release(uint16_t port);

 private:
  std::vector<uint16_t> ports_;
  std::vector<UniqueFd> held_;  // held_[i] binds ports_[i]
};

bool is_ipv6(std::string_view host);
// "127.0.0.1:4100", "[::1]:4100".
std::string host_port(const std::string& host, uint16_t port);

// "exited with status 1", "was killed by signal 9 (Killed)".
std::string describe_exit(int wait_status);
// At most `max` bytes of a log, from its start or (tail) its end; "" if unreadable.
std::string read_log(const std::string& path, size_t max, bool tail);
// The "url" of the first {"msg":"listening",...} line in a server's log, if any.
std::optional<std::string> listening_url(std::string_view log_text);
// The last `n` non-empty lines of a log joined with " | ", each cut to a readable
// length: a failure stays on one line of stderr.
std::string log_tail(std::string_view log_text, size_t n);

}  // namespace shoal::cli

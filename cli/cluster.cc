#include "cli/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/file_io.h"
#include "core/text.h"
#include "publish/runner.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxTailLineChars = 200;

timespec to_timespec(milliseconds d) {
  auto ms = std::max<int64_t>(d.count(), 0);
  return {static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000};
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

socklen_t to_sockaddr(const std::string& host, sockaddr_storage& ss) {
  ss = {};
  if (is_ipv6(host)) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
  return sizeof *a;
}

uint16_t port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

PortReservation::PortReservation(const std::string& host, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    sockaddr_storage ss{};
    socklen_t len = to_sockaddr(host, ss);
    UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      throw std::runtime_error("cannot get a free port on " + host + ": " + std::strerror(errno));
    }
    ports_.push_back(port_of(ss));
    held_.push_back(std::move(fd));
  }
}

void PortReservation::release(uint16_t port) {
  auto it = std::find(ports_.begin(), ports_.end(), port);
  if (it != ports_.end()) held_[static_cast<size_t>(it - ports_.begin())].reset();
}

bool is_ipv6(std::string_view host) { return host.find(':') != std::string_view::npos; }

std::string host_port(const std::string& host, uint16_t port) {
  return (is_ipv6(host) ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Supervisor::Supervisor() {
  sigemptyset(&watched_);
  sigaddset(&watched_, SIGINT);
  sigaddset(&watched_, SIGTERM);
  sigaddset(&watched_, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &watched_, &old_mask_);
}

Supervisor::~Supervisor() {
  stop_all(milliseconds(10'000));
  // A stop asked for while stopping has been done: unblocking must not deliver it
  // again and kill this process with the default action.
  while (take_signal(milliseconds(0)) != 0) {
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

const Child& Supervisor::spawn(ChildSpec spec) {
  UniqueFd log(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log.valid()) {
    throw std::runtime_error("cannot open " + spec.log_path + ": " + std::strerror(errno));
  }
  // A group of its own (publish/runner.h): Ctrl-C on the terminal reaches only
  // `shoal up`, which then stops the children in order instead of all of them racing
  // to exit; and it dies with `shoal up` even when that is SIGKILLed.
  publish::ChildOptions options;
  options.argv = {"shoal"};
  options.argv.insert(options.argv.end(), spec.args.begin(), spec.args.end());
  options.program = "/proc/self/exe";
  options.out = options.err = publish::Output::fd;
  options.output_fd = log.get();
  options.signal_mask = &old_mask_;
  auto child = publish::start_child(options);
  if (!child) throw std::runtime_error("cannot start " + spec.name + ": " + child.error().message);
  pid_t pid = child->pid;
  children_.push_back(Child{std::move(spec), pid, false, 0});
  return children_.back();
}

int Supervisor::reap() {
  int newly = 0;
  for (Child& c : children_) {
    int status = 0;
    if (c.exited || ::waitpid(c.pid, &status, WNOHANG) != c.pid) continue;
    c.exited = true;
    c.status = status;
    last_exited_ = &c;
    ++newly;
  }
  return newly;
}

int Supervisor::take_signal(milliseconds timeout) {
  timespec ts = to_timespec(timeout);
  for (;;) {
    int sig = ::sigtimedwait(&watched_, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno != EINTR) return 0;  // EAGAIN: the timeout passed
  }
}

Event Supervisor::wait(milliseconds timeout) {
  if (reap() > 0) return Event::child_exited;
  int sig = take_signal(timeout);
  if (sig == SIGINT || sig == SIGTERM) {
    stop_signal_ = sig;
    return Event::stop_requested;
  }
  return reap() > 0 ? Event::child_exited : Event::none;
}

void Supervisor::stop_all(milliseconds grace) {
  auto running = [this] {
    return std::any_of(children_.begin(), children_.end(),
                       [](const Child& c) { return !c.exited; });
  };
  for (const Child& c : children_) {
    if (!c.exited) ::kill(c.pid, SIGTERM);
  }
  auto deadline = Clock::now() + grace;
  reap();
  while (running() && Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    int sig = take_signal(std::min(left, milliseconds(100)));
    if (sig == SIGINT || sig == SIGTERM) break;  // asked twice: stop waiting for them
    reap();
  }
  for (Child& c : children_) {
    if (c.exited) continue;
    ::kill(c.pid, SIGKILL);
    while (::waitpid(c.pid, &c.status, 0) < 0 && errno == EINTR) {
    }
    c.exited = true;
  }
  children_.clear();
  last_exited_ = nullptr;
}

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* what = ::sigdescr_np(sig);  // unlike strsignal, thread-safe
    return "was killed by signal " + std::to_string(sig) + " (" + (what ? what : "unknown") + ")";
  }
  return "stopped with wait status " + std::to_string(wait_status);
}

std::string read_log(const std::string& path, size_t max, bool tail) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  auto size = file_size(fd.get());
  uint64_t from = tail && size && *size > max ? *size - max : 0;
  std::string out(max, '\0');
  size_t got = 0;
  while (got < max) {
    auto n = pread_some(fd.get(), out.data() + got, max - got, from + got);
    if (!n || *n == 0) break;
    got += *n;
  }
  out.resize(got);
  return out;
}

// The line is Shoal's own log format (core/log.cc): compact JSON, URLs need no escapes.
std::optional<std::string> listening_url(std::string_view log_text) {
  static constexpr std::string_view kUrl = "\"url\":\"";
  for (std::string_view line : lines_of(log_text)) {
    if (line.find("\"msg\":\"listening\"") == std::string_view::npos) continue;
    size_t start = line.find(kUrl);
    if (start == std::string_view::npos) continue;
    start += kUrl.size();
    size_t end = line.find('"', start);
    if (end == std::string_view::npos || end == start) continue;
    return std::string(line.substr(start, end - start));
  }
  return std::nullopt;
}

std::string log_tail(std::string_view log_text, size_t n) {
  std::vector<std::string_view> kept;
  for (std::string_view line : lines_of(log_text)) {
    line = text::trim_space(line);
    if (!line.empty()) kept.push_back(line);
  }
  size_t first = kept.size() > n ? kept.size() - n : 0;
  std::string out;
  for (size_t i = first; i < kept.size(); ++i) {
    if (!out.empty()) out += " | ";
    std::string_view line = kept[i];
    out += line.substr(0, kMaxTailLineChars);
    if (line.size() > kMaxTailLineChars) out += "...";
  }
  return out.empty() ? "(empty)" : out;
}

}  // namespace shoal::cli

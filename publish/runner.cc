#include "publish/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace shoal::publish {
namespace {

constexpr size_t kStderrLines = 20;

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> make_pipe(const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error(errno, "create a pipe for " + what);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// What the child does with one of its output streams: -1 leaves it as it is.
int target_fd(Output mode, const Pipe& pipe, int output_fd) {
  switch (mode) {
    case Output::pipe:
      return pipe.write.get();
    case Output::fd:
      return output_fd;
    case Output::inherit:
      return -1;
  }
  return -1;
}

// Everything exec_child needs, built before fork: the child may only make
// async-signal-safe calls.
struct ExecPlan {
  const char* program;
  bool search_path;
  char* const* argv;
  pid_t parent;
  int out, err, report;
  sigset_t mask;
};

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const ExecPlan& p) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != p.parent) ::_exit(127);  // the parent died before prctl took effect
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, STDIN_FILENO);
  if (null > STDIN_FILENO) ::close(null);
  if (p.out >= 0) ::dup2(p.out, STDOUT_FILENO);
  if (p.err >= 0) ::dup2(p.err, STDERR_FILENO);
  // main() ignores SIGPIPE for itself, and exec keeps an ignored signal ignored.
  ::signal(SIGPIPE, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &p.mask, nullptr);
  if (p.search_path) {
    ::execvp(p.program, p.argv);
  } else {
    ::execv(p.program, p.argv);
  }
  int e = errno;
  (void)!::write(p.report, &e, sizeof e);
  ::_exit(127);
}

// The errno exec_child reported, 0 once the exec succeeded (the pipe closed on exec).
int exec_errno(UniqueFd report) {
  int e = 0;
  ssize_t n;
  do {
    n = ::read(report.get(), &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof e) ? e : 0;
}

}  // namespace

Result<StartedChild> start_child(const ChildOptions& o) {
  if (o.argv.empty()) return Error(Errc::bad_request, "no program to run");
  const std::string& name = o.argv[0];
  auto out = make_pipe(name);
  auto err = make_pipe(name);
  auto report = make_pipe(name);
  if (!out) return out.error();
  if (!err) return err.error();
  if (!report) return report.error();
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ExecPlan plan{o.program.empty() ? name.c_str() : o.program.c_str(),
                o.program.empty(),
                argv.data(),
                ::getpid(),
                target_fd(o.out, *out, o.output_fd),
                target_fd(o.err, *err, o.output_fd),
                report->write.get(),
                {}};
  if (o.signal_mask) {
    plan.mask = *o.signal_mask;
  } else {
    sigemptyset(&plan.mask);
  }
  pid_t pid = ::fork();
  if (pid < 0) return errno_error(errno, "start " + name);
  if (pid == 0) exec_child(plan);
  report->write.reset();
  if (int e = exec_errno(std::move(report->read)); e != 0) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (e == ENOENT) {
      return Error(Errc::not_found, name + " not found on PATH" +
                                        (o.install_hint.empty() ? "" : ": " + o.install_hint));
    }
    return Error(Errc::io_error, "cannot run " + name + ": " + std::strerror(e));
  }
  StartedChild child;
  child.pid = pid;
  if (o.out == Output::pipe) child.out = std::move(out->read);
  if (o.err == Output::pipe) child.err = std::move(err->read);
  return child;
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) {
    const char* what = ::sigdescr_np(WTERMSIG(st));  // unlike strsignal, thread-safe
    return std::string("killed by ") + (what ? what : "signal " + std::to_string(WTERMSIG(st)));
  }
  return "ended abnormally";
}

bool exited_ok(int st) { return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

Result<void> exit_result(std::string_view program, int wait_status, std::string_view stderr_tail) {
  if (exited_ok(wait_status)) return {};
  std::string why = std::string(program) + " " + describe_status(wait_status);
  if (!stderr_tail.empty()) why += ": " + std::string(stderr_tail);
  return Error(Errc::io_error, why);
}

Result<Process> Process::spawn(ChildOptions options) {
  auto child = start_child(options);
  if (!child) return child.error();
  return Process(options.argv[0], std::move(*child));
}

Result<Process> Process::spawn(const std::vector<std::string>& argv, std::string install_hint) {
  ChildOptions o;
  o.argv = argv;
  o.install_hint = std::move(install_hint);
  return spawn(std::move(o));
}

Process::Process(Process&& o) noexcept
    : program_(std::move(o.program_)),
      pid_(std::exchange(o.pid_, -1)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)),
      status_(o.status_),
      stdout_(std::move(o.stdout_)),
      err_partial_(std::move(o.err_partial_)),
      err_lines_(std::move(o.err_lines_)) {}

Process::~Process() {
  if (pid_ > 0 && status_ == -1) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
}

void Process::signal(int sig) {
  if (pid_ > 0 && status_ == -1) ::kill(pid_, sig);
}

void Process::reap(bool block) {
  if (pid_ <= 0 || status_ != -1) return;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = st;
}

void Process::take_stderr(std::string_view bytes) {
  err_partial_.append(bytes);
  size_t start = 0;
  for (size_t nl; (nl = err_partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = err_partial_.substr(start, nl - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    err_lines_.push_back(std::move(line));
    if (err_lines_.size() > kStderrLines) err_lines_.pop_front();
  }
  err_partial_.erase(0, start);
}

bool Process::pump(std::chrono::milliseconds timeout, const Sink& on_stdout) {
  if (status_ != -1) return false;
  pollfd fds[2];
  UniqueFd* owners[2];
  nfds_t n = 0;
  for (UniqueFd* fd : {&out_, &err_}) {
    if (!fd->valid()) continue;
    fds[n] = {fd->get(), POLLIN, 0};
    owners[n++] = fd;
  }
  if (n == 0) {  // no pipe left: wait for the exit in slices, so a stop flag is seen
    reap(false);
    if (status_ == -1) ::poll(nullptr, 0, static_cast<int>(std::min<int64_t>(timeout.count(), 50)));
    reap(false);
    return status_ == -1;
  }
  int ready = ::poll(fds, n, static_cast<int>(timeout.count()));
  if (ready <= 0) return true;  // timeout, or EINTR: the caller checks its stop flag
  char buf[16384];
  for (nfds_t i = 0; i < n; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      owners[i]->reset();
      continue;
    }
    std::string_view data(buf, static_cast<size_t>(got));
    if (owners[i] == &err_) {
      take_stderr(data);
    } else if (on_stdout) {
      on_stdout(data);
    } else {
      stdout_.append(data);
    }
  }
  if (!out_.valid() && !err_.valid()) {
    reap(true);
    return false;
  }
  return true;
}

int Process::wait(const Sink& on_stdout) {
  while (pump(std::chrono::milliseconds(1000), on_stdout)) {
  }
  return status_;
}

Result<void> Process::finish(size_t tail_lines, const Sink& on_stdout) {
  wait(on_stdout);
  return exit_result(program_, status_, stderr_tail(tail_lines));
}

std::string Process::stderr_tail(size_t lines) const {
  std::string out;
  size_t from = err_lines_.size() > lines ? err_lines_.size() - lines : 0;
  for (size_t i = from; i < err_lines_.size(); ++i)
    out += (out.empty() ? "" : " / ") + err_lines_[i];
  if (!err_partial_.empty()) out += (out.empty() ? "" : " / ") + err_partial_;
  return out;
}

}  // namespace shoal::publish

// The one place Shoal starts child processes (ffmpeg and ffprobe here, the servers of
// `shoal up` in cli/cluster.cc): an argument vector passed to exec, never a shell; a
// failed exec reported to the parent as an error rather than as a mysterious exit 127;
// the child in its own process group (a terminal's Ctrl-C reaches only us, and we
// decide how the child stops) and dying with us (PR_SET_PDEATHSIG).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"

namespace shoal::publish {

// Where a child's stdout or stderr goes.
enum class Output {
  pipe,     // read by Process::pump (stdout to a callback or kept, stderr's tail kept)
  inherit,  // the same as ours
  fd,       // ChildOptions::output_fd
};

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH unless `program` is set
  std::string program;            // the file to execute, e.g. "/proc/self/exe"
  Output out = Output::pipe;
  Output err = Output::pipe;
  int output_fd = -1;  // for Output::fd; left open, the caller owns it
  // The child's signal mask (default: nothing blocked).
  const sigset_t* signal_mask = nullptr;
  // Said after "X not found on PATH: ", e.g. "install FFmpeg (apt-get install ffmpeg)".
  std::string install_hint;
};

// A started child, not yet waited for; the pipes are set for Output::pipe.
struct StartedChild {
  pid_t pid = -1;
  UniqueFd out, err;
};

// Forks and execs. Errc::not_found when the program does not exist, another error
// when the fork, the pipes or the exec fail; the caller must reap `pid`.
Result<StartedChild> start_child(const ChildOptions& options);

// "exited with status 1", "killed by Interrupt".
std::string describe_status(int wait_status);
bool exited_ok(int wait_status);
// Ok when the child exited with status 0, else Errc::io_error naming `program`, how it
// ended and, when not empty, the tail of what it printed on stderr.
Result<void> exit_result(std::string_view program, int wait_status, std::string_view stderr_tail);

// A running child whose pipes are drained by pump(); killed (SIGKILL) and reaped if
// still running when destroyed.
class Process {
 public:
  using Sink = std::function<void(std::string_view)>;

  static Result<Process> spawn(ChildOptions options);
  // argv with stdout and stderr on pipes.
  static Result<Process> spawn(const std::vector<std::string>& argv, std::string install_hint = {});
  Process(Process&&) noexcept;
  Process& operator=(Process&&) = delete;
  ~Process();

  // Waits up to `timeout` for output, passes stdout to `on_stdout` (kept for output()
  // when there is none), keeps the tail of stderr; false once the child has exited
  // (then status() is valid).
  bool pump(std::chrono::milliseconds timeout, const Sink& on_stdout = {});
  void signal(int sig);
  // Pumps until the child exits; its wait status.
  int wait(const Sink& on_stdout = {});
  // wait(), then exit_result() with the last `tail_lines` lines of stderr.
  Result<void> finish(size_t tail_lines = 4, const Sink& on_stdout = {});
  int status() const { return status_; }
  const std::string& output() const { return stdout_; }
  // The last `lines` lines of stderr joined by " / ", for a one-line error.
  std::string stderr_tail(size_t lines) const;
  const std::string& program() const { return program_; }
  pid_t pid() const { return pid_; }

 private:
  Process(std::string program, StartedChild child)
      : program_(std::move(program)),
        pid_(child.pid),
        out_(std::move(child.out)),
        err_(std::move(child.err)) {}
  void reap(bool block);
  void take_stderr(std::string_view bytes);

  std::string program_;
  pid_t pid_ = -1;
  UniqueFd out_, err_;
  int status_ = -1;
  std::string stdout_, err_partial_;
  std::deque<std::string> err_lines_;
};

}  // namespace shoal::publish

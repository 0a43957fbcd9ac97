#include "publish/runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>

namespace shoal::publish {
namespace {

TEST(Runner, StdoutGoesToTheCallbackInPiecesAndTheExitIsReported) {
  auto p = Process::spawn({"sh", "-c", "printf 'one\\ntwo\\n'; echo oops >&2; exit 3"});
  ASSERT_TRUE(p) << p.error().message;
  std::string seen;
  auto done = p->finish(4, [&](std::string_view bytes) { seen += bytes; });
  EXPECT_EQ(seen, "one\ntwo\n");
  EXPECT_TRUE(p->output().empty());
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().message, "sh exited with status 3: oops");
  EXPECT_TRUE(WIFEXITED(p->status()));
}

TEST(Runner, StdoutIsKeptWhenNoCallbackTakesIt) {
  auto p = Process::spawn({"echo", "a b", "c"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->finish());
  EXPECT_EQ(p->output(), "a b c\n");  // one argument with a space, no shell splitting
}

TEST(Runner, StderrTailKeepsTheLastLines) {
  auto p = Process::spawn({"sh", "-c", "for i in 1 2 3 4 5; do echo line$i >&2; done"});
  ASSERT_TRUE(p);
  p->wait();
  EXPECT_EQ(p->stderr_tail(2), "line4 / line5");
  EXPECT_TRUE(exited_ok(p->status()));
}

TEST(Runner, AMissingProgramIsNotFoundWithTheHint) {
  auto p = Process::spawn({"shoal-no-such-program"}, "install it");
  ASSERT_FALSE(p);
  EXPECT_TRUE(p.error().is(Errc::not_found));
  EXPECT_EQ(p.error().message, "shoal-no-such-program not found on PATH: install it");
}

TEST(Runner, ASignalledChildIsReportedAsKilled) {
  auto p = Process::spawn({"sleep", "30"});
  ASSERT_TRUE(p);
  p->signal(SIGTERM);
  auto done = p->finish();
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().message, "sleep killed by Terminated");
}

TEST(Runner, DestroyingAProcessKillsAndReapsIt) {
  pid_t pid = -1;
  {
    auto p = Process::spawn({"sleep", "30"});
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->pump(std::chrono::milliseconds(1)));
    pid = p->pid();
  }
  // Gone, not a zombie: kill(pid, 0) still succeeds for a child nobody reaped.
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(Runner, OutputCanGoToAFileDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ChildOptions o;
  o.argv = {"sh", "-c", "echo out; echo err >&2"};
  o.out = Output::fd;
  o.err = Output::fd;
  o.output_fd = fds[1];
  auto p = Process::spawn(o);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->finish());
  ::close(fds[1]);
  char buf[64];
  ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "out\nerr\n");
}

TEST(Runner, ExitResultDescribesHowTheChildEnded) {
  EXPECT_TRUE(exit_result("x", 0, ""));
  EXPECT_EQ(exit_result("x", 1 << 8, "").error().message, "x exited with status 1");
  EXPECT_FALSE(exited_ok(-1));
  EXPECT_EQ(describe_status(9), "killed by Killed");
}

}  // namespace
}  // namespace shoal::publish

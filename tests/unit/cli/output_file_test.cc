// rewind_output: when a download may start again from its first byte (another origin).
#include "cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/unit/support/temp_dir.h"

namespace shoal::cli {
namespace {

off_t size_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_size : -1;
}

TEST(OutputFileRewind, AFileIsTruncatedAndWrittenFromTheStart) {
  test::TempDir dir;
  UniqueFd fd(::open((dir.path() / "out").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::write(fd.get(), "partial", 7), 7);
  ASSERT_TRUE(rewind_output(fd.get()));
  EXPECT_EQ(size_of(fd.get()), 0);
  ASSERT_EQ(::write(fd.get(), "ab", 2), 2);
  EXPECT_EQ(size_of(fd.get()), 2) << "the next copy starts at offset 0";
}

TEST(OutputFileRewind, AFileOpenedForAppendingIsLeftAlone) {
  test::TempDir dir;
  UniqueFd fd(::open((dir.path() / "log").c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC,
                     0644));
  ASSERT_EQ(::write(fd.get(), "earlier", 7), 7);
  EXPECT_FALSE(rewind_output(fd.get()));
  EXPECT_EQ(size_of(fd.get()), 7);
}

TEST(OutputFileRewind, APipeCannotTakeTheBytesBack) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  EXPECT_FALSE(rewind_output(w.get()));
}

}  // namespace
}  // namespace shoal::cli

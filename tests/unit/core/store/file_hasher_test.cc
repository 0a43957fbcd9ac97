#include "core/store/file_hasher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "core/file_io.h"
#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal {
namespace {

struct File {
  test::TempDir dir;
  std::string path = (dir.path() / "f").string();
  UniqueFd fd;
  explicit File(const std::string& data) {
    UniqueFd w(::open(path.c_str(), O_WRONLY | O_CREAT, 0644));
    EXPECT_TRUE(write_all(w.get(), data.data(), data.size()).ok());
    fd = UniqueFd(::open(path.c_str(), O_RDONLY));
  }
};

std::string pattern(size_t n) {
  std::string data(n, '\0');
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 131 + i / 7);
  return data;
}

TEST(FileHasher, HashesTheFirstSizeBytes) {
  std::string data = pattern(3 * 256 * 1024 + 5);  // past several of its buffers
  File f(data + "tail that is not hashed");
  FileHasher h(f.fd.get(), data.size());
  auto d = h.finish();
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, Sha256::of(data.data(), data.size()));
  EXPECT_EQ(*h.finish(), *d);  // asked again: the same answer
}

TEST(FileHasher, EmptyFile) {
  File f("");
  FileHasher h(f.fd.get(), 0);
  EXPECT_EQ(*h.finish(), Sha256::of("", 0));
}

TEST(FileHasher, AShorterFileIsAConflict) {
  File f(pattern(1000));
  FileHasher h(f.fd.get(), 2000);
  auto d = h.finish();
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().is(Errc::conflict));
}

TEST(FileHasher, ABadDescriptorIsAnError) {
  FileHasher h(-1, 10);
  EXPECT_FALSE(h.finish().ok());
}

TEST(FileHasher, DestroyedUnfinishedStops) {
  File f(pattern(8 << 20));
  { FileHasher h(f.fd.get(), 8 << 20); }  // must not hang or touch freed state
  SUCCEED();
}

}  // namespace
}  // namespace shoal

#include "core/store/hash_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/file_io.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(HashWriter, WritesAndHashesEverythingInOrder) {
  test::TempDir dir;
  std::string path = (dir.path() / "out").string();
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT, 0644));
  std::string data(3 * 1000 * 1000 + 17, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 + i / 7);
  HashWriter w(fd.get(), 64 * 1024);
  // Uneven pieces, some larger than a buffer, some tiny.
  size_t off = 0;
  for (size_t step : {1ul, 100000ul, 7ul, 300000ul, 65536ul}) {
    for (int i = 0; i < 3 && off < data.size(); ++i) {
      size_t n = std::min(step, data.size() - off);
      ASSERT_TRUE(w.write(data.data() + off, n).ok());
      off += n;
    }
  }
  ASSERT_TRUE(w.write(data.data() + off, data.size() - off).ok());
  auto d = w.finish();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Sha256::of(data.data(), data.size()));
  EXPECT_EQ(slurp(path), data);
}

TEST(HashWriter, EmptyStreamIsTheEmptyDigest) {
  test::TempDir dir;
  UniqueFd fd(::open((dir.path() / "out").c_str(), O_WRONLY | O_CREAT, 0644));
  HashWriter w(fd.get());
  auto d = w.finish();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Sha256::of("", 0));
}

TEST(HashWriter, ReportsWriteErrors) {
  UniqueFd fd(::open("/dev/full", O_WRONLY));
  ASSERT_TRUE(fd.valid());
  HashWriter w(fd.get(), 4096);
  std::string chunk(4096, 'x');
  Result<void> last;
  for (int i = 0; i < 8 && last.ok(); ++i) last = w.write(chunk.data(), chunk.size());
  auto d = w.finish();
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.error().is(Errc::disk_full));
}

TEST(HashWriter, DestroyWithoutFinishJoinsCleanly) {
  test::TempDir dir;
  UniqueFd fd(::open((dir.path() / "out").c_str(), O_WRONLY | O_CREAT, 0644));
  HashWriter w(fd.get(), 4096);
  ASSERT_TRUE(w.write("abc", 3).ok());
}

}  // namespace
}  // namespace shoal

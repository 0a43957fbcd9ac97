#include "origin/seeder.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/torrent/metainfo.h"
#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::origin {
namespace {

// A blob of three 256 KiB pieces stored as the origin stores it (the file is named by
// the digest hex), with its metainfo.
struct StoredBlob {
  explicit StoredBlob(const test::TempDir& dir) {
    std::vector<char> bytes(3 * kMinPieceSize);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + i / 4096);
    digest = Sha256::of(bytes.data(), bytes.size());
    path = (dir.path() / digest.hex()).string();
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    MetainfoBuilder builder;
    builder.update(bytes.data(), bytes.size());
    metainfo = builder.finish(digest).value().bencoded;
  }
  Digest digest = Digest::from_bytes({});
  std::string path;
  std::string metainfo;
};

TEST(Seeder, PiecesHandedOutBeforeSeedingStartsCountOnceItDoes) {
  test::TempDir dir;
  StoredBlob blob(dir);
  Seeder seeder(SeederOptions{});
  seeder.mark_sent(blob.digest, PieceIndex{2});
  seeder.mark_sent(blob.digest, PieceIndex{2});
  seeder.mark_sent(blob.digest, PieceIndex{0});
  ASSERT_TRUE(seeder.add(blob.digest, blob.path, blob.metainfo));
  auto st = seeder.swarm(blob.digest);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pieces, 3u);
  EXPECT_EQ(st->pieces_sent, 2u);
  seeder.mark_sent(blob.digest, PieceIndex{1});
  EXPECT_EQ(seeder.swarm(blob.digest)->pieces_sent, 3u);
}

TEST(Seeder, RemovingABlobForgetsItsEarlyHandOuts) {
  test::TempDir dir;
  StoredBlob blob(dir);
  Seeder seeder(SeederOptions{});
  seeder.mark_sent(blob.digest, PieceIndex{1});
  seeder.remove(blob.digest);
  ASSERT_TRUE(seeder.add(blob.digest, blob.path, blob.metainfo));
  EXPECT_EQ(seeder.swarm(blob.digest)->pieces_sent, 0u);
}

}  // namespace
}  // namespace shoal::origin

#include "peer/download.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "core/torrent/metainfo.h"
#include "core/sha256.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::peer {
namespace {

constexpr uint32_t kPiece = 256 * 1024;
constexpr uint32_t kBlock = 16 * 1024;
using Kind = SwarmEvent::Kind;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A download of a 3-piece blob whose file the test writes by hand, standing in for
// libtorrent's writes; events are fed the way the Swarm delivers them.
class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = random_bytes(2 * kPiece + 5000, 3);
    digest_ = Sha256::of(data_.data(), data_.size());
    MetainfoBuilder b(data_.size(), 0);
    b.update(data_.data(), data_.size());
    auto m = b.finish(digest_);
    ASSERT_TRUE(m.ok()) << m.error().message;
    auto parsed = parse_and_bind(m->bencoded, digest_);
    ASSERT_TRUE(parsed.ok());
    path_ = (dir_.path() / digest_.hex()).string();
    std::ofstream(path_, std::ios::binary)
        .write(std::string(data_.size(), '\0').data(), static_cast<std::streamsize>(data_.size()));
    dl_ = std::make_unique<Download>(digest_);
    dl_->resolved(*parsed, m->bencoded, path_);
  }

  void write(uint32_t piece, const std::string& bytes) {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(uint64_t{piece} * kPiece));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string piece_bytes(uint32_t piece) const {
    return data_.substr(uint64_t{piece} * kPiece, kPiece);
  }

  Download::Hashed event(Kind kind, uint32_t piece = 0, uint32_t block = 0) {
    return dl_->apply(SwarmEvent{kind, digest_, PieceIndex{piece}, block, {}});
  }
  // Every block of the piece reported written, then the piece passed.
  Download::Hashed land(uint32_t piece) {
    uint32_t len = static_cast<uint32_t>(piece_bytes(piece).size());
    for (uint32_t b = 0; b * kBlock < len; ++b) event(Kind::block_written, piece, b);
    return event(Kind::piece_passed, piece);
  }

  test::TempDir dir_;
  std::string data_, path_;
  Digest digest_ = Digest::from_bytes({});
  std::unique_ptr<Download> dl_;
};

TEST_F(DownloadTest, ReadersSeeOnlyTheCheckedPrefixInOrder) {
  write(1, piece_bytes(1));
  EXPECT_EQ(land(1), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 0u);  // piece 0 is missing: nothing in order yet
  write(0, piece_bytes(0));
  EXPECT_EQ(land(0), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 2u * kPiece);
  write(2, piece_bytes(2));
  EXPECT_EQ(land(2), Download::Hashed::verified);
  EXPECT_EQ(dl_->state(), Download::State::verified);
  EXPECT_EQ(dl_->readable_end(0), data_.size());
}

TEST_F(DownloadTest, APassedPieceWhoseBytesAreNotOnDiskIsNotExposed) {
  // libtorrent reported the piece passed, but the file still holds zeros (the write
  // has not landed) or a corrupt copy (a stale write after a hash failure).
  EXPECT_EQ(land(0), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 0u);
  std::string corrupt = piece_bytes(0);
  corrupt[100] ^= 0x40;
  write(0, corrupt);
  event(Kind::block_written, 0, 0);
  EXPECT_EQ(dl_->readable_end(0), 0u);
  write(0, piece_bytes(0));
  event(Kind::block_written, 0, 0);  // the good write lands
  EXPECT_EQ(dl_->readable_end(0), uint64_t{kPiece});
}

TEST_F(DownloadTest, AMismatchAfterTheFinalFlushFailsTheDownload) {
  write(0, piece_bytes(0));
  land(0);
  land(1);  // never written correctly
  write(2, piece_bytes(2));
  land(2);
  EXPECT_EQ(event(Kind::flushed), Download::Hashed::mismatch);
  EXPECT_EQ(dl_->state(), Download::State::failed);
  ASSERT_TRUE(dl_->error());
  EXPECT_EQ(dl_->readable_end(0), uint64_t{kPiece});  // what was checked stays checked
}

TEST_F(DownloadTest, TheFinalFlushRecoversLostEvents) {
  for (uint32_t p = 0; p < 3; ++p) write(p, piece_bytes(p));
  land(0);
  land(2);  // nothing ever arrived about piece 1
  EXPECT_EQ(dl_->readable_end(0), uint64_t{kPiece});
  EXPECT_EQ(event(Kind::flushed), Download::Hashed::verified);
  EXPECT_EQ(dl_->readable_end(0), data_.size());
}

TEST_F(DownloadTest, CompleteOnlyAfterVerified) {
  dl_->complete();
  EXPECT_EQ(dl_->state(), Download::State::fetching);
  for (uint32_t p = 0; p < 3; ++p) write(p, piece_bytes(p));
  for (uint32_t p = 0; p < 3; ++p) land(p);
  dl_->complete();
  EXPECT_EQ(dl_->state(), Download::State::complete);
}

}  // namespace
}  // namespace shoal::peer

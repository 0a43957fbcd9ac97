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
using Kind = SwarmEvent::Kind;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A download of a 3-piece blob; events are fed the way the Swarm delivers them (the
// disk back end, peer/blob_disk_io.h, checks the bytes; the integration tests drive it).
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

  std::string piece_bytes(uint32_t piece) const {
    return data_.substr(uint64_t{piece} * kPiece, kPiece);
  }

  Download::Hashed event(Kind kind, uint32_t piece = 0) {
    return dl_->apply(SwarmEvent{kind, digest_, PieceIndex{piece}, {}, std::nullopt});
  }
  Download::Hashed whole(const Digest& actual) {
    return dl_->apply(SwarmEvent{Kind::whole_hashed, digest_, {}, {}, actual});
  }
  Download::Hashed land(uint32_t piece) { return event(Kind::piece_passed, piece); }

  test::TempDir dir_;
  std::string data_, path_;
  Digest digest_ = Digest::from_bytes({});
  std::unique_ptr<Download> dl_;
};

TEST_F(DownloadTest, ReadersSeeOnlyVerifiedPiecesInOrder) {
  EXPECT_EQ(land(1), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 0u);  // piece 0 is missing: nothing in order yet
  EXPECT_EQ(land(0), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 2u * kPiece);
}

TEST_F(DownloadTest, TheLastPieceWaitsForTheWholeDigest) {
  for (uint32_t p = 0; p < 3; ++p) EXPECT_EQ(land(p), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 2u * kPiece);
  EXPECT_EQ(dl_->state(), Download::State::fetching);
  EXPECT_EQ(whole(digest_), Download::Hashed::verified);
  EXPECT_EQ(dl_->state(), Download::State::verified);
  EXPECT_EQ(dl_->readable_end(0), data_.size());
}

TEST_F(DownloadTest, TheWholeDigestMayComeBeforeTheLastEvents) {
  land(0);
  land(2);
  EXPECT_EQ(whole(digest_), Download::Hashed::pending);
  EXPECT_EQ(land(1), Download::Hashed::verified);
}

TEST_F(DownloadTest, AWholeDigestMismatchFailsTheDownload) {
  for (uint32_t p = 0; p < 3; ++p) land(p);
  EXPECT_EQ(whole(Sha256::of("other", 5)), Download::Hashed::mismatch);
  EXPECT_EQ(dl_->state(), Download::State::failed);
  ASSERT_TRUE(dl_->error());
  EXPECT_EQ(dl_->readable_end(0), 2u * kPiece);  // the last piece was never shown
}

TEST_F(DownloadTest, TheFinalFlushRecoversLostEvents) {
  land(0);
  land(2);  // nothing ever arrived about piece 1
  EXPECT_EQ(dl_->readable_end(0), uint64_t{kPiece});
  EXPECT_EQ(event(Kind::flushed), Download::Hashed::pending);
  EXPECT_EQ(dl_->readable_end(0), 2u * kPiece);
  EXPECT_EQ(whole(digest_), Download::Hashed::verified);
}

TEST_F(DownloadTest, CompleteOnlyAfterVerified) {
  dl_->complete();
  EXPECT_EQ(dl_->state(), Download::State::fetching);
  for (uint32_t p = 0; p < 3; ++p) land(p);
  whole(digest_);
  dl_->complete();
  EXPECT_EQ(dl_->state(), Download::State::complete);
}

}  // namespace
}  // namespace shoal::peer

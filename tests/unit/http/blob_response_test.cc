#include "http/blob_response.h"

#include <gtest/gtest.h>

#include "tests/unit/support/fake_exchange.h"

namespace shoal::http {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;
using test::FakeExchange;

template <class F>
void run(F&& body) {
  asio::io_context ioc;
  asio::co_spawn(ioc, std::forward<F>(body), asio::detached);
  ioc.run();
}

const Digest kDigest = Digest::from_bytes(Digest::Bytes{0xab, 0xcd});
const std::string kETag = "\"" + kDigest.str() + "\"";

TEST(BlobResponse, AFileIsSentWholeWithItsDigestAsETag) {
  FakeExchange ex(verb::get, "/blobs/x");
  run([&]() -> awaitable<void> {
    co_await respond_blob_file(ex, blob_head(kDigest), kDigest, 3, 100);
  });
  EXPECT_EQ(ex.status(), status::ok);
  EXPECT_EQ(ex.head[field::etag], kETag);
  EXPECT_EQ(ex.file_parts, (std::vector<std::pair<uint64_t, uint64_t>>{{0, 100}}));
}

TEST(BlobResponse, IfNoneMatchWithTheDigestIs304WithoutBody) {
  for (std::string tag : {kETag, "W/" + kETag, "\"other\", " + kETag, std::string("*")}) {
    FakeExchange ex(verb::get, "/blobs/x", {{field::if_none_match, tag}});
    run([&]() -> awaitable<void> {
      co_await respond_blob_file(ex, blob_head(kDigest), kDigest, 3, 100);
    });
    EXPECT_EQ(ex.status(), status::not_modified) << tag;
    EXPECT_TRUE(ex.file_parts.empty());
    EXPECT_EQ(ex.sent_body, "");
    EXPECT_EQ(ex.head[field::etag], kETag);
  }
  FakeExchange other(verb::get, "/blobs/x", {{field::if_none_match, "\"sha256:00\""}});
  run([&]() -> awaitable<void> {
    co_await respond_blob_file(other, blob_head(kDigest), kDigest, 3, 100);
  });
  EXPECT_EQ(other.status(), status::ok);
}

TEST(BlobResponse, ASingleRangeIs206AndAnUnsatisfiableOne416) {
  FakeExchange ex(verb::get, "/blobs/x", {{field::range, "bytes=10-19"}});
  run([&]() -> awaitable<void> {
    co_await respond_blob_file(ex, blob_head(kDigest), kDigest, 3, 100);
  });
  EXPECT_EQ(ex.status(), status::partial_content);
  EXPECT_EQ(ex.head[field::content_range], "bytes 10-19/100");
  EXPECT_EQ(ex.file_parts, (std::vector<std::pair<uint64_t, uint64_t>>{{10, 10}}));

  FakeExchange past(verb::get, "/blobs/x", {{field::range, "bytes=100-"}});
  run([&]() -> awaitable<void> {
    co_await respond_blob_file(past, blob_head(kDigest), kDigest, 3, 100);
  });
  EXPECT_EQ(past.status(), status::range_not_satisfiable);
  EXPECT_EQ(past.head[field::content_range], "bytes */100");
  EXPECT_TRUE(past.file_parts.empty());
}

TEST(BlobResponse, IfNoneMatchElementsMayCarryTabsAndSpaces) {
  const std::string tags = "\t\"x\" ,\t" + kETag;
  FakeExchange ex(verb::get, "/blobs/x", {{field::if_none_match, tags}});
  run([&]() -> awaitable<void> {
    co_await respond_blob_bytes(ex, blob_head(kDigest), kDigest, "hello");
  });
  EXPECT_EQ(ex.status(), status::not_modified);
}

TEST(BlobResponse, BytesInMemoryAreCutToTheRange) {
  FakeExchange ex(verb::get, "/blobs/x", {{field::range, "bytes=1-3"}});
  run([&]() -> awaitable<void> {
    co_await respond_blob_bytes(ex, blob_head(kDigest), kDigest, "hello");
  });
  EXPECT_EQ(ex.status(), status::partial_content);
  EXPECT_EQ(ex.sent_body, "ell");
}

TEST(BlobResponse, AHeadWithoutTheContentAnnouncesItsLength) {
  FakeExchange ex(verb::head, "/blobs/x", {{field::range, "bytes=0-9"}});
  run([&]() -> awaitable<void> {
    co_await respond_blob_head(ex, blob_head(kDigest), kDigest, 50);
  });
  EXPECT_EQ(ex.status(), status::partial_content);
  EXPECT_EQ(ex.announced_length, 10u);
}

// A file that grows by 10 bytes each time the response asks how far it may read,
// and fails once `fail_at` bytes are readable.
struct Growing {
  ChangeSignal changed;
  uint64_t readable = 0;
  uint64_t fail_at = UINT64_MAX;
  std::function<std::optional<uint64_t>(uint64_t)> readable_end =
      [this](uint64_t) -> std::optional<uint64_t> {
    if (readable >= fail_at) return std::nullopt;
    readable += 10;
    return readable;
  };
};

TEST(BlobResponse, AGrowingFileIsSentAsItsBytesBecomeReadable) {
  Growing g;
  FakeExchange ex(verb::get, "/blobs/x", {{field::range, "bytes=5-"}});
  StreamEnd end;
  GrowingFile file{[] { return 7; }, 30, g.changed, g.readable_end};
  run([&]() -> awaitable<void> {
    end = co_await stream_blob(ex, blob_head(kDigest), kDigest, file);
  });
  EXPECT_EQ(ex.status(), status::partial_content);
  EXPECT_EQ(ex.announced_length, 25u);
  EXPECT_FALSE(end.source_failed);
  EXPECT_EQ(end.sent, 25u);
  EXPECT_EQ(ex.file_parts,
            (std::vector<std::pair<uint64_t, uint64_t>>{{5, 5}, {10, 10}, {20, 10}}));
}

// A peer's download opens its file only once the first piece is in: the descriptor is
// asked for at each send, not once when the response starts (a -1 there sent nothing).
TEST(BlobResponse, AGrowingFileIsAskedForItsDescriptorAtEachSend) {
  Growing g;
  FakeExchange ex(verb::get, "/blobs/x");
  int fd = -1;
  auto readable_end = [&](uint64_t pos) -> std::optional<uint64_t> {
    auto end = g.readable_end(pos);
    fd = 9;  // opened when bytes first become readable
    return end;
  };
  GrowingFile file{[&] { return fd; }, 30, g.changed, readable_end};
  run([&]() -> awaitable<void> { co_await stream_blob(ex, blob_head(kDigest), kDigest, file); });
  EXPECT_EQ(ex.part_fds, (std::vector<int>{9, 9, 9}));
}

TEST(BlobResponse, AGrowingFileThatFailsEndsTheBodyShort) {
  Growing g;
  g.fail_at = 20;
  FakeExchange ex(verb::get, "/blobs/x");
  StreamEnd end;
  GrowingFile file{[] { return 7; }, 30, g.changed, g.readable_end};
  run([&]() -> awaitable<void> {
    end = co_await stream_blob(ex, blob_head(kDigest), kDigest, file);
  });
  EXPECT_TRUE(end.source_failed);
  EXPECT_EQ(end.sent, 20u);
}

TEST(BlobResponse, AGrowingFileAnswers304Too) {
  Growing g;
  FakeExchange ex(verb::get, "/blobs/x", {{field::if_none_match, kETag}});
  GrowingFile file{[] { return 7; }, 30, g.changed, g.readable_end};
  run([&]() -> awaitable<void> { co_await stream_blob(ex, blob_head(kDigest), kDigest, file); });
  EXPECT_EQ(ex.status(), status::not_modified);
  EXPECT_TRUE(ex.file_parts.empty());
}

}  // namespace
}  // namespace shoal::http

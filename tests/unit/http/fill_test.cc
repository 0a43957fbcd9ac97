// The fill against real sources on loopback: http::Server instances that serve a
// blob, answer an error, or are not there at all (a port nobody listens on).
#include "http/fill.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "core/sha256.h"
#include "http/blob_response.h"
#include "http/server.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::http {
namespace {

// A loopback server answering every request with `handler`, run on a thread of its own.
class Source {
 public:
  explicit Source(Handler handler) {
    ServerOptions opts;
    opts.threads = 1;
    server_ = std::make_unique<Server>(opts, std::move(handler));
    thread_ = std::thread([this] { server_->run(); });
  }
  ~Source() {
    server_->stop();
    thread_.join();
  }
  Url url() const { return *Url::parse(server_->url()); }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

Source serving(const Digest& d, const std::string& bytes) {
  return Source([d, bytes](Exchange& ex) -> awaitable<void> {
    if (ex.path() != "/blobs/" + d.str()) {
      co_return co_await ex.respond_error(bhttp::status::not_found, "BLOB_UNKNOWN", "no such blob");
    }
    co_await respond_blob_bytes(ex, blob_head(d), d, bytes);
  });
}

Source failing(bhttp::status status) {
  return Source([status](Exchange& ex) -> awaitable<void> {
    co_await ex.respond_error(status, "NOPE", "this source fails on purpose");
  });
}

// A loopback port with no listener: connecting is refused at once.
Url refused_url() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return *Url::parse("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
}

std::string patterned(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char(i * 7 % 251);
  return s;
}

class FillFromSources : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = BlobStore::open(dir_.path() / "store");
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    sources_.client.connect_timeout = std::chrono::milliseconds(2000);
    sources_.client.io_timeout = std::chrono::milliseconds(5000);
    sources_.on_source_failed = [this](const Url& url) {
      std::lock_guard lock(mu_);
      failed_.push_back(url.str());
    };
  }

  void add(std::string name, Url url) {
    sources_.order.push_back({.name = std::move(name), .url = url, .fetch = {}});
  }

  // Runs a fill of the test blob over sources_, committing into the store.
  std::unique_ptr<Fill> run(const std::atomic<bool>& stop) {
    auto temp = store_->create_temp();
    EXPECT_TRUE(temp);
    auto fill = std::make_unique<Fill>(digest_, std::move(*temp), 1 << 20);
    auto commit = [this](Fill& f, TempBlob& t, std::string ram_copy) -> Result<void> {
      ram_copy_ = std::move(ram_copy);
      auto committed = store_->commit(t, f.digest());
      if (!committed) return committed.error();
      return {};
    };
    fill->run(sources_, commit, stop);
    return fill;
  }

  std::vector<std::string> failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }

  test::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
  const std::string bytes_ = patterned(300'000);
  const Digest digest_ = Sha256::of(bytes_.data(), bytes_.size());
  FillSources sources_;
  std::string ram_copy_;
  std::mutex mu_;
  std::vector<std::string> failed_;
};

TEST_F(FillFromSources, TheThirdSourceServesWhenTheFirstTwoFail) {
  Source broken = failing(bhttp::status::service_unavailable);
  Source good = serving(digest_, bytes_);
  Url refused = refused_url();
  add("origin", refused);
  add("origin", broken.url());
  add("origin", good.url());
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::complete) << fill->error()->message;
  EXPECT_EQ(fill->source(), 2u);
  EXPECT_EQ(fill->size(), bytes_.size());
  EXPECT_EQ(fill->visible(), bytes_.size());
  EXPECT_EQ(ram_copy_, bytes_);
  EXPECT_TRUE(store_->contains(digest_));
  // Both were unwell (refused, 503), so both are reported for passive marking.
  EXPECT_EQ(failed(), (std::vector<std::string>{refused.str(), broken.url().str()}));
}

TEST_F(FillFromSources, ASourceWithoutTheBlobIsPassedButNotReportedUnwell) {
  Source lacking = failing(bhttp::status::not_found);
  Source good = serving(digest_, bytes_);
  add("peer", lacking.url());
  add("origin", good.url());
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::complete) << fill->error()->message;
  EXPECT_EQ(fill->source(), 1u);
  EXPECT_TRUE(failed().empty());
}

TEST_F(FillFromSources, TheFirstSourceThatServesEndsTheSearch) {
  Source first = serving(digest_, bytes_);
  add("origin", first.url());
  add("origin", refused_url());
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::complete) << fill->error()->message;
  EXPECT_EQ(fill->source(), 0u);
  EXPECT_TRUE(failed().empty());
}

TEST_F(FillFromSources, WhenEverySourceFailsTheLastErrorNamesIt) {
  Source broken = failing(bhttp::status::bad_gateway);
  add("peer", refused_url());
  add("origin", broken.url());
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::failed);
  EXPECT_TRUE(fill->error()->is(Errc::unavailable));
  EXPECT_NE(fill->error()->message.find(broken.url().str()), std::string::npos)
      << fill->error()->message;
  EXPECT_EQ(failed().size(), 2u);
  EXPECT_FALSE(store_->contains(digest_));
}

TEST_F(FillFromSources, BytesThatDoNotMatchTheDigestNeverComplete) {
  std::string other = bytes_;
  other[1000] ^= 1;
  Source liar = Source([this, other](Exchange& ex) -> awaitable<void> {
    co_await respond_blob_bytes(ex, blob_head(digest_), digest_, other);
  });
  add("origin", liar.url());
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::failed);
  EXPECT_TRUE(fill->error()->is(Errc::protocol_error)) << fill->error()->message;
  EXPECT_FALSE(store_->contains(digest_));
}

TEST_F(FillFromSources, AStoppedFillAsksNoSource) {
  Source good = serving(digest_, bytes_);
  add("origin", good.url());
  std::atomic<bool> stop{true};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::failed);
  EXPECT_TRUE(fill->error()->is(Errc::cancelled));
  EXPECT_EQ(fill->source(), Fill::kNoSource);
}

TEST_F(FillFromSources, NoSourcesIsAnUnavailableFill) {
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::failed);
  EXPECT_TRUE(fill->error()->is(Errc::unavailable));
}

// A storage backend as a source: it streams from the first byte, so a fill resumed
// after a source broke off must get only the bytes it lacks.
TEST_F(FillFromSources, AFetchSourceResumesWhereTheSourceBeforeItStopped) {
  const size_t cut = 100'000;
  std::atomic<int> fetches{0};
  auto source = [&](bool breaks) {
    return [&, breaks](uint64_t from, const SizeHook& on_size, const BodySink& sink) -> Result<void> {
      ++fetches;
      if (auto ok = on_size(bytes_.size()); !ok) return ok;
      const size_t end = breaks ? cut : bytes_.size();
      if (auto ok = sink(bytes_.data() + from, end - from); !ok) return ok;
      if (breaks) return Error(Errc::unavailable, "connection reset");
      return {};
    };
  };
  sources_.order.push_back({.name = "first", .url = {}, .fetch = source(true)});
  sources_.order.push_back({.name = "backend", .url = {}, .fetch = source(false)});
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::complete) << fill->error()->message;
  EXPECT_EQ(fetches.load(), 2);
  EXPECT_EQ(fill->source(), 1u);
  EXPECT_EQ(ram_copy_, bytes_);
  EXPECT_TRUE(store_->contains(digest_));
}

TEST_F(FillFromSources, AFetchSourceWithTheWrongBytesFailsTheFill) {
  std::string wrong = bytes_;
  wrong[123] ^= 1;
  auto source = [&](uint64_t, const SizeHook& on_size, const BodySink& sink) -> Result<void> {
    if (auto ok = on_size(wrong.size()); !ok) return ok;
    return sink(wrong.data(), wrong.size());
  };
  sources_.order.push_back({.name = "backend", .url = {}, .fetch = source});
  std::atomic<bool> stop{false};
  auto fill = run(stop);
  ASSERT_EQ(fill->state(), Fill::State::failed);
  EXPECT_FALSE(store_->contains(digest_));
}

}  // namespace
}  // namespace shoal::http

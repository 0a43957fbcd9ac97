// The S3 client and backend against a real Ceph RADOS Gateway started for this suite
// by tests/support/rgw.sh, with boto3 as an independent reader of what we wrote.
// Skips without radosgw, fails under CI=true (require_tool.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "core/sha256.h"
#include "storage/s3_backend.h"
#include "tests/unit/support/require_tool.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::storage {
namespace {

namespace fs = std::filesystem;

// tests/support/rgw.sh, found upwards from the test binary (build dirs sit in the tree).
fs::path rgw_script() {
  if (const char* p = std::getenv("SHOAL_RGW_SH")) return p;
  for (fs::path dir = fs::read_symlink("/proc/self/exe").parent_path(); dir != dir.root_path();
       dir = dir.parent_path()) {
    if (fs::exists(dir / "tests/support/rgw.sh")) return dir / "tests/support/rgw.sh";
  }
  return {};
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

// One RGW for the whole suite: it takes ~2 s to start.
class Rgw {
 public:
  static Rgw* instance() {
    static Rgw* rgw = start();
    return rgw;
  }
  S3Options options(std::string bucket = "shoal-test") const {
    S3Options o;
    o.endpoint = *Url::parse(env_.at("S3_ENDPOINT"));
    o.bucket = std::move(bucket);
    o.credentials = {env_.at("S3_ACCESS_KEY"), env_.at("S3_SECRET_KEY")};
    o.part_size = 8 << 20;
    o.first_backoff = std::chrono::milliseconds(20);
    return o;
  }
  const std::map<std::string, std::string>& env() const { return env_; }
  ~Rgw() { run("'" + script_.string() + "' stop '" + dir_ + "' 2>&1"); }

 private:
  static Rgw* start() {
    auto* rgw = new Rgw;
    rgw->script_ = rgw_script();
    rgw->dir_ = (fs::temp_directory_path() / ("shoal-rgw-" + std::to_string(::getpid()))).string();
    std::string out = run("'" + rgw->script_.string() + "' start '" + rgw->dir_ + "' 2>&1");
    for (size_t at = 0; at < out.size();) {
      auto end = out.find('\n', at);
      std::string line = out.substr(at, end - at);
      if (auto eq = line.find('='); eq != std::string::npos && line.starts_with("S3_"))
        rgw->env_[line.substr(0, eq)] = line.substr(eq + 1);
      at = end == std::string::npos ? out.size() : end + 1;
    }
    if (!rgw->env_.contains("S3_ENDPOINT")) {
      ADD_FAILURE() << "rgw.sh start failed:\n" << out;
      return nullptr;
    }
    std::atexit([] { delete instance(); });
    return rgw;
  }
  fs::path script_;
  std::string dir_;
  std::map<std::string, std::string> env_;
};

class S3Rgw : public ::testing::Test {
 protected:
  void SetUp() override {
    SHOAL_REQUIRE_TOOL("radosgw", "radosgw");
    ASSERT_FALSE(rgw_script().empty()) << "tests/support/rgw.sh not found; set SHOAL_RGW_SH";
    rgw_ = Rgw::instance();
    ASSERT_NE(rgw_, nullptr);
    S3Client client(rgw_->options());
    auto made = client.send({.method = "PUT", .payload_hash = std::string(kEmptyPayloadHash)});
    ASSERT_TRUE(made) << made.error().message;
    ASSERT_TRUE(made->success() || made->status == 409) << made->status << made->body;
  }

  // A file of `size` pseudo-random bytes; its SHA-256.
  Digest make_file(const fs::path& path, uint64_t size) {
    std::mt19937_64 rng(size);
    std::ofstream out(path, std::ios::binary);
    Sha256 hash;
    std::vector<uint64_t> block(1 << 17);
    for (uint64_t left = size; left > 0;) {
      for (auto& w : block) w = rng();
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, block.size() * 8));
      out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
      hash.update(block.data(), n);
      left -= n;
    }
    return hash.finish();
  }

  // The object's SHA-256 as boto3 reads it: an independent client.
  std::string boto3_sha256(const std::string& key) {
    const auto& e = rgw_->env();
    std::string script =
        "import boto3,botocore,hashlib,sys\n"
        "s=boto3.client('s3',endpoint_url=sys.argv[1],aws_access_key_id=sys.argv[2],"
        "aws_secret_access_key=sys.argv[3],region_name='us-east-1',"
        "config=botocore.config.Config(s3={'addressing_style':'path'}))\n"
        "h=hashlib.sha256()\n"
        "for c in s.get_object(Bucket='shoal-test',Key=sys.argv[4])['Body'].iter_chunks(1<<20):"
        " h.update(c)\n"
        "print(h.hexdigest())\n";
    std::ofstream((dir_.path() / "read.py").string()) << script;
    auto out = run("python3 '" + (dir_.path() / "read.py").string() + "' '" +
                   e.at("S3_ENDPOINT") + "' '" + e.at("S3_ACCESS_KEY") + "' '" +
                   e.at("S3_SECRET_KEY") + "' '" + key + "' 2>&1");
    return std::string(text_trim(out));
  }
  static std::string_view text_trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    return s;
  }

  Rgw* rgw_ = nullptr;
  test::TempDir dir_;
};

Result<Digest> read_back(Backend& backend, const Digest& d, uint64_t& size) {
  Sha256 hash;
  auto got = backend.get(d, "", [&](const char* data, size_t len) -> Result<void> {
    hash.update(data, len);
    return {};
  });
  if (!got) return got.error();
  size = *got;
  return hash.finish();
}

void round_trip(S3Backend& backend, const Digest& d, const fs::path& file, uint64_t size) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto put = backend.put(d, fd, size);
  ::close(fd);
  ASSERT_TRUE(put) << put.error().message;
  auto head = backend.head(d, "");
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(*head, std::optional<uint64_t>(size));
  uint64_t got_size = 0;
  auto got = read_back(backend, d, got_size);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, d);
  EXPECT_EQ(got_size, size);
}

TEST_F(S3Rgw, ASmallAndAMultipartBlobGoUpAndComeBackWithTheirDigest) {
  S3Backend backend(rgw_->options(), "t1/");
  ASSERT_TRUE(backend.check()) << backend.check().error().message;
  auto small = dir_.path() / "small";
  auto large = dir_.path() / "large";
  Digest ds = make_file(small, 1000);
  Digest dl = make_file(large, 100ull << 20);  // 13 parts of 8 MiB
  round_trip(backend, ds, small, 1000);
  round_trip(backend, dl, large, 100ull << 20);
  EXPECT_EQ(boto3_sha256(s3_object_key("t1/", dl)), dl.hex());
  EXPECT_EQ(boto3_sha256(s3_object_key("t1/", ds)), ds.hex());

  ASSERT_TRUE(backend.remove(dl));
  ASSERT_TRUE(backend.remove(dl)) << "removing twice is success";
  auto head = backend.head(dl, "");
  ASSERT_TRUE(head);
  EXPECT_FALSE(*head);
  auto get = backend.get(dl, "", [](const char*, size_t) -> Result<void> { return {}; });
  ASSERT_FALSE(get);
  EXPECT_TRUE(get.error().is(Errc::not_found)) << get.error().message;
}

TEST_F(S3Rgw, AnEmptyBlobIsStoredToo) {
  S3Backend backend(rgw_->options(), "");
  auto empty = dir_.path() / "empty";
  Digest d = make_file(empty, 0);
  round_trip(backend, d, empty, 0);
}

TEST_F(S3Rgw, RgwTakesUnsignedPayloadsOverPlainHttp) {
  auto options = rgw_->options();
  options.sign_payload = false;
  S3Backend backend(options, "unsigned/");
  auto file = dir_.path() / "f";
  Digest d = make_file(file, 20ull << 20);
  round_trip(backend, d, file, 20ull << 20);
}

TEST_F(S3Rgw, CheckNamesAMissingBucket) {
  S3Backend backend(rgw_->options("no-such-bucket"), "");
  auto r = backend.check();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "S3 bucket no-such-bucket does not exist at " + rgw_->env().at("S3_ENDPOINT"));
}

TEST_F(S3Rgw, CheckNamesRejectedCredentials) {
  auto options = rgw_->options();
  options.credentials.secret_access_key = "wrong";
  auto r = S3Backend(options, "").check();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("S3 rejected the credentials (SignatureDoesNotMatch", 0), 0u)
      << r.error().message;
  options.credentials.access_key_id = "nosuchkey";
  r = S3Backend(options, "").check();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("S3 rejected the credentials (InvalidAccessKeyId", 0), 0u)
      << r.error().message;
}

TEST_F(S3Rgw, CheckNamesADeadEndpointAfterBoundedRetries) {
  auto options = rgw_->options();
  options.endpoint = *Url::parse("http://127.0.0.1:1");
  auto r = S3Backend(options, "").check();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("S3 endpoint http://127.0.0.1:1 unreachable: ", 0), 0u)
      << r.error().message;
  EXPECT_TRUE(r.error().is(Errc::unavailable)) << r.error().message;
}

}  // namespace
}  // namespace shoal::storage

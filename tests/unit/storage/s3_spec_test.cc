#include "storage/s3_spec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "storage/s3_backend.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::storage {
namespace {

const Digest kDigest =
    *Digest::parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

class S3SpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    creds_ = (dir_.path() / "creds").string();
    std::ofstream(creds_) << "AKIDEXAMPLE\nsecret/key+1\n";
  }
  Config config(std::vector<std::string> args) {
    Config cfg(s3_config_keys());
    cfg.parse_args(args);
    return cfg;
  }
  std::string error_of(std::vector<std::string> args) {
    try {
      (void)s3_spec_from(config(std::move(args)));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
  test::TempDir dir_;
  std::string creds_;
};

TEST(S3Key, ObjectsAreNamedByPrefixAndHexDigest) {
  EXPECT_EQ(s3_object_key("", kDigest), "blobs/sha256/" + kDigest.hex());
  EXPECT_EQ(s3_object_key("ring1/", kDigest), "ring1/blobs/sha256/" + kDigest.hex());
}

TEST_F(S3SpecTest, WithoutAnEndpointThereIsNoBackend) {
  EXPECT_FALSE(s3_spec_from(config({"--s3-bucket", "x"})));
  EXPECT_EQ(make_s3_backend(config({})), nullptr);
}

TEST_F(S3SpecTest, AllKeysAreReadWithTheCredentialsFile) {
  auto spec = s3_spec_from(config({"--s3-endpoint", "http://127.0.0.1:7480", "--s3-bucket",
                                   "blobs.1", "--s3-region", "eu-west-3", "--s3-prefix", "p/",
                                   "--s3-credentials", creds_}));
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->options.endpoint.str(), "http://127.0.0.1:7480");
  EXPECT_EQ(spec->options.bucket, "blobs.1");
  EXPECT_EQ(spec->options.region, "eu-west-3");
  EXPECT_EQ(spec->prefix, "p/");
  EXPECT_EQ(spec->options.credentials.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(spec->options.credentials.secret_access_key, "secret/key+1");
}

TEST_F(S3SpecTest, TheRegionDefaultsAndTheEnvironmentGivesCredentials) {
  setenv("AWS_ACCESS_KEY_ID", "envid", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
  auto spec = s3_spec_from(config({"--s3-endpoint", "https://s3.example.com", "--s3-bucket", "abc"}));
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->options.region, "us-east-1");
  EXPECT_EQ(spec->options.credentials.access_key_id, "envid");
  auto backend = make_s3_backend(config({"--s3-endpoint", "https://s3.example.com", "--s3-bucket", "abc"}));
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->describe(), "s3 https://s3.example.com/abc");
  EXPECT_TRUE(backend->writable());
}

TEST_F(S3SpecTest, BadValuesNameTheirKey) {
  std::vector<std::string> base{"--s3-endpoint", "http://h:1", "--s3-credentials", creds_};
  auto with = [&](std::vector<std::string> more) {
    auto args = base;
    args.insert(args.end(), more.begin(), more.end());
    return error_of(args);
  };
  EXPECT_NE(error_of({"--s3-endpoint", "ftp://h", "--s3-bucket", "abc"}).find("for s3_endpoint"),
            std::string::npos);
  EXPECT_NE(with({}).find("s3_bucket must be set"), std::string::npos);
  EXPECT_NE(with({"--s3-bucket", "ab"}).find("3 to 63"), std::string::npos);
  EXPECT_NE(with({"--s3-bucket", "My_Bucket"}).find("lowercase"), std::string::npos);
  EXPECT_NE(with({"--s3-bucket", "-abc"}).find("begin and end"), std::string::npos);
  EXPECT_NE(with({"--s3-bucket", "abc", "--s3-region", "US East"}).find("for s3_region"),
            std::string::npos);
  EXPECT_NE(with({"--s3-bucket", "abc", "--s3-prefix", "/p"}).find("for s3_prefix"),
            std::string::npos);
}

TEST_F(S3SpecTest, CredentialsMustBeTwoLinesOrTheEnvironment) {
  std::vector<std::string> args{"--s3-endpoint", "http://h:1", "--s3-bucket", "abc"};
  EXPECT_NE(error_of(args).find("AWS_ACCESS_KEY_ID"), std::string::npos);
  std::string one_line = (dir_.path() / "one").string();
  std::ofstream(one_line) << "AKIDONLY\n";
  auto a = args;
  a.insert(a.end(), {"--s3-credentials", one_line});
  EXPECT_NE(error_of(a).find("two lines"), std::string::npos);
  auto b = args;
  b.insert(b.end(), {"--s3-credentials", (dir_.path() / "absent").string()});
  EXPECT_NE(error_of(b).find("cannot read s3_credentials"), std::string::npos);
}

}  // namespace
}  // namespace shoal::storage

#include "storage/upstream_spec.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage/registry_backend.h"
#include "tests/unit/support/temp_dir.h"

namespace shoal::storage {
namespace {

Config config_with(const std::vector<std::string>& args) {
  Config cfg(upstream_config_keys());
  cfg.parse_args(args);
  return cfg;
}

TEST(UpstreamSpec, WithoutARegistryThereIsNoUpstream) {
  EXPECT_FALSE(upstream_spec_from(config_with({"--upstream-match", "team/.*"})));
}

TEST(UpstreamSpec, DefaultsMatchEveryRepositoryWithAFiveMinuteTtl) {
  auto spec = upstream_spec_from(config_with({"--upstream-registry", "http://127.0.0.1:5000"}));
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->registry.port, 5000);
  EXPECT_FALSE(spec->credentials);
  EXPECT_EQ(spec->tag_ttl, std::chrono::minutes(5));
  RegistryBackend backend(*spec);
  EXPECT_TRUE(backend.matches("library/alpine"));
  EXPECT_TRUE(backend.matches("a"));
  EXPECT_FALSE(backend.writable());
  EXPECT_EQ(backend.describe(), "registry http://127.0.0.1:5000");
}

TEST(UpstreamSpec, TheMatchIsOnTheWholeName) {
  auto spec = upstream_spec_from(config_with(
      {"--upstream-registry", "http://r:5000", "--upstream-match", "mirror/.*|library/alpine"}));
  ASSERT_TRUE(spec);
  RegistryBackend backend(*spec);
  EXPECT_TRUE(backend.matches("mirror/app"));
  EXPECT_TRUE(backend.matches("library/alpine"));
  EXPECT_FALSE(backend.matches("library/alpine2"));
  EXPECT_FALSE(backend.matches("team/mirror/app"));
  EXPECT_FALSE(backend.matches("library"));
}

TEST(UpstreamSpec, ABadRegexIsAConfigErrorNamingTheKey) {
  try {
    upstream_spec_from(config_with({"--upstream-registry", "http://r", "--upstream-match", "(a"}));
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("upstream_match"), std::string::npos) << e.what();
  }
}

TEST(UpstreamSpec, ABadUrlIsAConfigError) {
  EXPECT_THROW(upstream_spec_from(config_with({"--upstream-registry", "ftp://r"})), ConfigError);
}

TEST(UpstreamSpec, CredentialsComeFromAFile) {
  test::TempDir dir;
  const auto file = (dir.path() / "creds").string();
  std::ofstream(file) << "puller:s3cr:et\n";
  auto spec = upstream_spec_from(
      config_with({"--upstream-registry", "https://r", "--upstream-credentials", file}));
  ASSERT_TRUE(spec && spec->credentials);
  EXPECT_EQ(spec->credentials->user, "puller");
  EXPECT_EQ(spec->credentials->password, "s3cr:et");  // only the first colon splits
  EXPECT_EQ(basic_authorization(*spec->credentials), "Basic cHVsbGVyOnMzY3I6ZXQ=");
}

TEST(UpstreamSpec, AMissingOrMalformedCredentialsFileIsAConfigError) {
  test::TempDir dir;
  const auto file = (dir.path() / "creds").string();
  EXPECT_THROW(read_credentials_file(file), ConfigError);
  std::ofstream(file) << "no-colon\n";
  EXPECT_THROW(read_credentials_file(file), ConfigError);
}

TEST(UpstreamSpec, TheBackendIsReadOnly) {
  auto spec = upstream_spec_from(config_with({"--upstream-registry", "http://r"}));
  RegistryBackend backend(*spec);
  auto put = backend.put(Digest::from_bytes({}), -1, 0);
  ASSERT_FALSE(put);
  EXPECT_TRUE(put.error().is(Errc::forbidden));
}

}  // namespace
}  // namespace shoal::storage

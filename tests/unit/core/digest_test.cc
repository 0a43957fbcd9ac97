#include "core/digest.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace shoal {
namespace {

constexpr const char* kEmpty =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Digest, ParsesAndFormatsRoundTrip) {
  auto d = Digest::parse(kEmpty);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->str(), kEmpty);
  EXPECT_EQ(d->hex(), std::string(kEmpty).substr(7));
}

TEST(Digest, RejectsMalformed) {
  const char* bad[] = {
      "",
      "sha256:",
      "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
      "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "sha256:../../../../etc/passwd",
  };
  for (const char* text : bad) {
    auto d = Digest::parse(text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_TRUE(d.error().is(Errc::malformed_digest)) << text;
  }
}

TEST(Digest, ComparesAndHashes) {
  auto a = Digest::parse(kEmpty);
  auto b = Sha256::of("", 0);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, b);
  EXPECT_EQ(std::hash<Digest>{}(*a), std::hash<Digest>{}(b));
  EXPECT_NE(Sha256::of("a", 1), b);
}

TEST(Sha256, StreamingEqualsOneShot) {
  std::string data(1 << 20, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += 4097) {
    h.update(data.data() + off, std::min<size_t>(4097, data.size() - off));
  }
  EXPECT_EQ(h.finish(), Sha256::of(data.data(), data.size()));
}

TEST(Sha256, KnownVector) {
  EXPECT_EQ(Sha256::of("abc", 3).str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, FinishResetsForReuse) {
  Sha256 h;
  h.update("abc", 3);
  (void)h.finish();
  h.update("abc", 3);
  EXPECT_EQ(h.finish(), Sha256::of("abc", 3));
}

}  // namespace
}  // namespace shoal

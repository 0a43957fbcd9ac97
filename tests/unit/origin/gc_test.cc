#include "origin/gc.h"

#include <gtest/gtest.h>

#include <map>

#include "core/sha256.h"

namespace shoal::origin {
namespace {

using namespace std::chrono_literals;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

// An origin's store in memory: blobs with modification times, the roots, and hooks
// that run between the collection's steps (a push racing it).
class MemoryStore : public GcStore {
 public:
  Digest put(const std::string& bytes, GcClock::time_point modified) {
    Digest d = digest_of(bytes);
    blobs_[d] = {bytes, modified};
    return d;
  }
  void touch(const Digest& d, GcClock::time_point now) { blobs_.at(d).modified = now; }
  bool holds(const Digest& d) const { return blobs_.count(d) != 0; }

  std::vector<GcBlob> blobs() override {
    std::vector<GcBlob> out;
    for (const auto& [d, b] : blobs_) out.push_back({d, b.bytes.size(), b.modified});
    if (after_listing) after_listing();
    return out;
  }
  Result<std::vector<Digest>> roots() override {
    if (roots_fail) return Error(Errc::no_quorum, "a member is down");
    auto out = roots_list;
    if (after_roots) after_roots();
    return out;
  }
  std::optional<std::string> small_blob(const Digest& d) override {
    auto it = blobs_.find(d);
    if (it == blobs_.end()) return std::nullopt;
    return it->second.bytes;
  }
  Result<bool> remove_if_older(const Digest& d, GcClock::time_point cutoff) override {
    auto it = blobs_.find(d);
    if (it == blobs_.end() || it->second.modified >= cutoff) return false;
    blobs_.erase(it);
    return true;
  }

  std::vector<Digest> roots_list;
  bool roots_fail = false;
  std::function<void()> after_listing, after_roots;

 private:
  struct Blob {
    std::string bytes;
    GcClock::time_point modified;
  };
  std::map<Digest, Blob> blobs_;
};

std::string image_manifest(const Digest& config, const std::vector<Digest>& layers) {
  std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                     R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     config.str() + R"(","size":1},"layers":[)";
  for (size_t i = 0; i < layers.size(); ++i) {
    json += (i ? "," : "") + std::string(R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")") +
            layers[i].str() + R"(","size":1})";
  }
  return json + "]}";
}

std::string index_of(const std::vector<Digest>& manifests) {
  std::string json = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
  for (size_t i = 0; i < manifests.size(); ++i) {
    json += (i ? "," : "") + std::string(R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")") +
            manifests[i].str() + R"(","size":1})";
  }
  return json + "]}";
}

class GcTest : public ::testing::Test {
 protected:
  const GcClock::time_point now = GcClock::time_point(1'000'000h);
  const GcClock::time_point old = now - 2h;
  MemoryStore store;
};

TEST_F(GcTest, ATaggedImageKeepsItsConfigAndLayersAndTheRestGoes) {
  Digest config = store.put("config", old), layer = store.put("layer", old);
  Digest manifest = store.put(image_manifest(config, {layer}), old);
  Digest orphan = store.put("orphan layer", old);
  store.roots_list = {manifest};
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->removed, std::vector<Digest>{orphan});
  EXPECT_EQ(report->bytes, std::string("orphan layer").size());
  EXPECT_EQ(report->kept, 3u);
  EXPECT_TRUE(store.holds(config) && store.holds(layer) && store.holds(manifest));
  EXPECT_FALSE(store.holds(orphan));
}

TEST_F(GcTest, AnIndexKeepsEveryChildManifestAndTheirLayers) {
  Digest c1 = store.put("c1", old), l1 = store.put("l1", old), c2 = store.put("c2", old);
  Digest m1 = store.put(image_manifest(c1, {l1}), old), m2 = store.put(image_manifest(c2, {}), old);
  Digest index = store.put(index_of({m1, m2}), old);
  store.roots_list = {index};
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->removed.empty());
  EXPECT_EQ(report->kept, 6u);
}

TEST_F(GcTest, ADryRunReportsWithoutRemoving) {
  Digest orphan = store.put("orphan", old);
  auto report = collect(store, now, 1h, true);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->removed, std::vector<Digest>{orphan});
  EXPECT_TRUE(store.holds(orphan));
}

TEST_F(GcTest, BlobsYoungerThanTheGracePeriodStayUnreferenced) {
  Digest fresh = store.put("just pushed", now - 59min);
  Digest stale = store.put("pushed long ago", now - 61min);
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->removed, std::vector<Digest>{stale});
  EXPECT_TRUE(store.holds(fresh));
}

TEST_F(GcTest, APlainTagKeepsTheBlobItNames) {
  Digest tagged = store.put("a tarball", old);
  store.roots_list = {tagged};  // not a manifest: kept, nothing followed
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->removed.empty());
}

TEST_F(GcTest, AManifestPushedBetweenListingAndMarkKeepsItsBlobs) {
  Digest config = store.put("config", old), layer = store.put("old shared layer", old);
  // The push lands after the blobs were listed: its manifest is among the roots,
  // which are read after the listing.
  store.after_listing = [&] {
    Digest manifest = store.put(image_manifest(config, {layer}), now);
    store.roots_list.push_back(manifest);
  };
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->removed.empty());
  EXPECT_TRUE(store.holds(config) && store.holds(layer));
}

TEST_F(GcTest, ABlobAPushTouchesAfterTheMarkIsNotRemoved) {
  Digest layer = store.put("layer a push refers to", old);
  // The push checked the blob after the roots were read: its touch makes the blob
  // as new as the push, and the removal checks the time again.
  store.after_roots = [&] { store.touch(layer, now); };
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->removed.empty());
  EXPECT_TRUE(store.holds(layer));
}

TEST_F(GcTest, NothingIsRemovedWhenARootSourceCannotAnswer) {
  Digest orphan = store.put("orphan", old);
  store.roots_fail = true;
  EXPECT_FALSE(collect(store, now, 1h, false));
  EXPECT_TRUE(store.holds(orphan));
}

TEST_F(GcTest, AReferrerIsARootButDoesNotKeepItsSubject) {
  Digest config = store.put("config", old);
  Digest subject = store.put(image_manifest(config, {}), old);
  std::string sig = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                    R"("artifactType":"application/example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json",)"
                    R"("digest":")" + config.str() + R"(","size":1},"layers":[],"subject":{"mediaType":)"
                    R"("application/vnd.oci.image.manifest.v1+json","digest":")" + subject.str() + R"(","size":1}})";
  Digest referrer = store.put(sig, old);
  store.roots_list = {referrer};
  auto report = collect(store, now, 1h, false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->removed, std::vector<Digest>{subject});
  EXPECT_TRUE(store.holds(referrer) && store.holds(config));
}

}  // namespace
}  // namespace shoal::origin

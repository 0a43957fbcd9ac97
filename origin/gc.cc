#include "origin/gc.h"

#include "core/oci/manifest.h"

namespace shoal::origin {

std::set<Digest> mark(const std::vector<Digest>& roots,
                      const std::function<std::optional<std::string>(const Digest&)>& small_blob) {
  std::set<Digest> live;
  std::vector<Digest> todo = roots;
  while (!todo.empty()) {
    Digest d = todo.back();
    todo.pop_back();
    if (!live.insert(d).second) continue;
    auto bytes = small_blob(d);
    if (!bytes) continue;
    // Any blob may be a tag's target: only those that parse as manifests lead on.
    auto m = oci::parse_manifest(*bytes, "");
    if (!m) continue;
    todo.insert(todo.end(), m->blobs.begin(), m->blobs.end());
    todo.insert(todo.end(), m->manifests.begin(), m->manifests.end());
  }
  return live;
}

Result<GcReport> collect(GcStore& store, GcClock::time_point now, GcClock::duration grace,
                         bool dry_run) {
  const GcClock::time_point cutoff = now - grace;
  const std::vector<GcBlob> held = store.blobs();
  auto roots = store.roots();
  if (!roots) return roots.error();
  const std::set<Digest> live =
      mark(*roots, [&store](const Digest& d) { return store.small_blob(d); });
  GcReport report;
  for (const GcBlob& b : held) {
    if (b.modified >= cutoff || live.count(b.digest)) continue;
    if (!dry_run) {
      // A blob that cannot be removed now stays for the next run.
      auto removed = store.remove_if_older(b.digest, cutoff);
      if (!removed || !*removed) continue;
    }
    report.removed.push_back(b.digest);
    report.bytes += b.size;
  }
  report.kept = held.size() - report.removed.size();
  return report;
}

}  // namespace shoal::origin

// Garbage collection on the origin (the logic is gc.h's): the view of this origin's
// store and the ring's roots it marks with, POST /gc, GET /gc/roots (another origin's
// mark), GET /deletions (agents' caches), and the touch that keeps a blob a push is
// about to refer to out of a running collection's reach.
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/log.h"
#include "core/oci/oci.h"
#include "core/text.h"
#include "http/outbound.h"
#include "origin/origin.h"

namespace shoal::origin {
namespace {

using bhttp::status;
using nlohmann::json;

GcClock::time_point modified_time(const struct stat& st) {
  return GcClock::time_point(std::chrono::seconds(st.st_mtim.tv_sec) +
                             std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

bool flag(const http::Exchange& ex, std::string_view name) {
  auto v = ex.query_param(name);
  return v && *v != "0" && *v != "false";
}

json report_json(const GcReport& r) {
  json removed = json::array();
  for (const Digest& d : r.removed) removed.push_back(d.str());
  return {{"removed", removed}, {"bytes", r.bytes}, {"kept", r.kept}};
}

// Another origin's report folded into ours (POST /gc on a ring).
Result<void> merge(GcReport& into, const std::string& body) {
  json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("removed")) {
    return Error(Errc::io_error, "an origin answered POST /gc with no report");
  }
  for (const auto& d : doc["removed"]) {
    auto parsed = d.is_string() ? Digest::parse(d.get<std::string>()) : Result<Digest>(Error(Errc::io_error, ""));
    if (parsed) into.removed.push_back(*parsed);
  }
  into.bytes += doc.value("bytes", uint64_t{0});
  into.kept += doc.value("kept", size_t{0});
  return {};
}

}  // namespace

// This origin's blobs as GcStore sees them; the roots of every origin of the ring.
struct Origin::GcView final : GcStore {
  explicit GcView(Origin& origin) : o(origin) {}

  std::vector<GcBlob> blobs() override {
    std::vector<GcBlob> out;
    for (const Digest& d : o.store_->list()) {
      struct stat st {};
      if (::stat(o.store_->path_of(d).c_str(), &st) != 0) continue;
      out.push_back({d, static_cast<uint64_t>(st.st_size), modified_time(st)});
    }
    return out;
  }

  // The tag targets and repository manifests this origin holds.
  std::vector<Digest> local_roots() const {
    std::vector<Digest> roots = o.tags_.targets();
    for (const std::string& name : o.repos_.names()) {
      auto manifests = o.repos_.manifests(name);
      roots.insert(roots.end(), manifests.begin(), manifests.end());
    }
    return roots;
  }

  // In a ring a tag lives on its owners and a manifest's marker on the origin that
  // took the push: the roots are every member's.
  Result<std::vector<Digest>> roots() override {
    std::vector<Digest> roots = local_roots();
    if (!o.cluster_.enabled()) return roots;
    auto answers = o.ask_members("GET", "/gc/roots");
    if (!answers) return answers.error();
    for (const http::Response& r : *answers) {
      json doc = json::parse(r.body, nullptr, false);
      if (!r.success() || !doc.is_object() || !doc["roots"].is_array()) {
        return Error(Errc::no_quorum, "an origin answered GET /gc/roots with " +
                                          std::to_string(r.status) + ": nothing collected");
      }
      for (const auto& d : doc["roots"]) {
        if (!d.is_string()) continue;
        if (auto parsed = Digest::parse(d.get<std::string>())) roots.push_back(*parsed);
      }
    }
    return roots;
  }

  std::optional<std::string> small_blob(const Digest& d) override {
    struct stat st {};
    if (::stat(o.store_->path_of(d).c_str(), &st) == 0) {
      if (static_cast<uint64_t>(st.st_size) > oci::kMaxManifestBytes) return std::nullopt;
      auto bytes = read_small_file(o.store_->path_of(d), oci::kMaxManifestBytes);
      return bytes ? std::optional(std::move(*bytes)) : std::nullopt;
    }
    return o.cluster_.enabled() ? from_ring(d) : std::nullopt;
  }

  // A manifest held only elsewhere (its owners): its size first, so that a tag's
  // large target is never read whole.
  std::optional<std::string> from_ring(const Digest& d) {
    for (const Owner& owner : o.cluster_.order(blob_key(d.str()), SteadyClock::now())) {
      if (owner.self || !owner.up) continue;
      http::Client client(owner.url, o.peer_client_options());
      auto head = client.request("HEAD", "/blobs/" + d.str(), o.peer_headers());
      if (!head || head->status != 200) continue;
      auto size = text::parse_uint<uint64_t>(head->header("Content-Length"));
      if (!size || *size > oci::kMaxManifestBytes) return std::nullopt;
      auto got = client.request("GET", "/blobs/" + d.str(), o.peer_headers());
      if (got && got->success() && Sha256::of(got->body.data(), got->body.size()) == d)
        return std::move(got->body);
    }
    return std::nullopt;
  }

  Result<bool> remove_if_older(const Digest& d, GcClock::time_point cutoff) override {
    std::lock_guard lock(o.gc_mu_);
    struct stat st {};
    if (::stat(o.store_->path_of(d).c_str(), &st) != 0) return false;
    if (modified_time(st) >= cutoff) return false;  // touched by a push since the listing
    auto removed = o.store_->remove(d);
    if (!removed) return removed.error();
    return true;
  }

  Origin& o;
};

Result<GcReport> Origin::collect_garbage(bool dry_run) {
  GcView view(*this);
  auto report = collect(view, GcClock::now(), opts_.gc_grace, dry_run);
  gc_runs_.inc();
  if (!report) {
    log::warn("garbage collection stopped", {{"error", report.error().message}});
    return report;
  }
  if (!dry_run) {
    blob_removed(report->removed);
    for (const Digest& d : report->removed) forget_in_backend(d);
    gc_removed_blobs_.inc(report->removed.size());
    gc_removed_bytes_.inc(report->bytes);
  }
  log::info(dry_run ? "garbage collection (dry run)" : "garbage collected",
            {{"removed", report->removed.size()}, {"bytes", report->bytes},
             {"kept", report->kept}});
  return report;
}

void Origin::collect_garbage_later() {
  if (collecting_.exchange(true)) return;
  post_ring([this] {
    (void)collect_garbage(false);
    collecting_ = false;
  });
}

void Origin::blob_removed(const std::vector<Digest>& removed) {
  for (const Digest& d : removed) {
    for (const CopyJob& job : copies_.jobs_for(d)) copies_.done(job);
    if (seeder_) seeder_->remove(d);
    metainfo_->remove(d);
  }
  if (auto ok = deletions_.append(removed); !ok) {
    log::warn("cannot log deletions: agents keep those blobs cached",
              {{"error", ok.error().message}});
  }
}

// Each origin removes its own blobs from the bucket: the marks agree across the ring.
void Origin::forget_in_backend(const Digest& d) {
  forget_blob(d);
  if (!opts_.backend || !opts_.backend->writable()) return;
  if (auto ok = opts_.backend->remove(d); !ok) {
    log::warn("cannot remove a collected blob from the backend",
              {{"digest", d.str()}, {"error", ok.error().message}});
  }
}

bool Origin::touch_blob(const Digest& d) {
  std::lock_guard lock(gc_mu_);
  return ::utimensat(AT_FDCWD, store_->path_of(d).c_str(), nullptr, 0) == 0;
}

Result<void> Origin::commit_touched(TempBlob& temp, const Digest& d) {
  // The data's fsync, the slow part, before the lock that every touch_blob waits on:
  // the commit's own fsync then has nothing left to write.
  if (auto ok = fsync_fd(temp.fd(), "temporary blob"); !ok) return ok.error();
  std::lock_guard lock(gc_mu_);
  auto committed = store_->commit(temp, d);
  if (!committed) return committed.error();
  // An old copy that was already there is as new as the push now.
  if (::utimensat(AT_FDCWD, store_->path_of(d).c_str(), nullptr, 0) != 0)
    return errno_error(errno, "touching " + d.str());
  return {};
}

awaitable<bool> Origin::hold_for_push(const Digest& d) {
  const bool here = touch_blob(d);
  if (!cluster_.enabled()) {
    if (here || !opts_.backend) co_return here;
    // Evicted past cache_size: the bucket holds it durably, and a collection only
    // looks at disks, so it needs no touch.
    auto in_backend = co_await http::outbound([&] { return size_in_backend(d); });
    co_return static_cast<bool>(in_backend);
  }
  // Each origin collects its own copies: every copy is touched, not only the first.
  auto touch_elsewhere = [&] {
    bool any = false;
    for (const Owner& owner : cluster_.order(blob_key(d.str()), SteadyClock::now())) {
      if (owner.self || !owner.up) continue;
      http::Client client(owner.url, peer_client_options());
      auto r = client.request("HEAD", "/blobs/" + d.str() + "?touch=1", peer_headers());
      any |= r && r->status == 200;
    }
    return any;
  };
  const bool elsewhere = co_await http::outbound(touch_elsewhere);
  co_return here || elsewhere;
}

Result<std::vector<http::Response>> Origin::ask_members(const std::string& method,
                                                        const std::string& path) {
  std::vector<http::Response> answers;
  for (const Url& member : cluster_.peers()) {
    http::Client client(member, peer_client_options());
    auto r = client.request(method, path, peer_headers());
    if (!r || r->status >= 500) {
      return Error(Errc::no_quorum, member.str() + " cannot answer " + method + " " + path + ": " +
                                        (r ? http::describe_failure(*r) : r.error().message));
    }
    answers.push_back(std::move(*r));
  }
  return answers;
}

awaitable<void> Origin::gc_route(http::Exchange& ex) {
  const bool dry_run = flag(ex, "dry_run");
  // Asked by another origin (or alone): this origin's collection only.
  const bool here_only = is_replica_write(ex) || !cluster_.enabled();
  if (collecting_.exchange(true)) {
    co_return co_await ex.respond_error(status::conflict, "GC_RUNNING",
                                        "a garbage collection is running; try again later");
  }
  auto run = [&]() -> Result<GcReport> {
    auto report = collect_garbage(dry_run);
    collecting_ = false;
    if (!report || here_only) return report;
    auto others = ask_members("POST", std::string("/gc") + (dry_run ? "?dry_run=1" : ""));
    if (!others) return others.error();
    for (const http::Response& r : *others) {
      if (!r.success()) return Error(http::errc_for_status(r.status), http::describe_failure(r));
      if (auto ok = merge(*report, r.body); !ok) return ok.error();
    }
    return report;
  };
  auto report = co_await http::outbound(run);
  if (!report) co_return co_await respond_failure(ex, report.error(), "");
  co_await ex.respond_json(status::ok, report_json(*report).dump());
}

awaitable<void> Origin::gc_roots(http::Exchange& ex) {
  json roots = json::array();
  for (const Digest& d : GcView(*this).local_roots()) roots.push_back(d.str());
  // Named fields, not a braced list: GCC's coroutines mishandle the latter here.
  json body;
  body["roots"] = std::move(roots);
  co_await ex.respond_json(status::ok, body.dump());
}

awaitable<void> Origin::get_deletions(http::Exchange& ex) {
  uint64_t since = 0;
  if (auto v = ex.query_param("since")) {
    auto parsed = text::parse_uint<uint64_t>(*v);
    if (!parsed) {
      co_return co_await ex.respond_error(status::bad_request, "BAD_REQUEST",
                                          "since must be a number");
    }
    since = *parsed;
  }
  auto page = deletions_.since(since, 10'000);
  json digests = json::array();
  for (const Digest& d : page.digests) digests.push_back(d.str());
  json body;
  body["digests"] = std::move(digests);
  body["next"] = page.next;
  co_await ex.respond_json(status::ok, body.dump());
}

}  // namespace shoal::origin

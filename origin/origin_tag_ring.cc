// Tags across the ring (ring_tags.h has the protocol, docs/ARCHITECTURE.md "Tags in a
// ring" the consistency model): the owners as TagReplica objects, the internal routes
// other origins call (?replica reads and compare-and-swaps a copy, ?coordinate runs a
// forwarded write here), and forwarding a client's write to the tag's first up owner.
#include <memory>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/text.h"
#include "http/outbound.h"
#include "origin/body.h"
#include "origin/origin.h"
#include "origin/ring.h"
#include "origin/ring_tags.h"

namespace shoal::origin {
namespace {

using bhttp::field;
using bhttp::status;
using bhttp::verb;
using nlohmann::json;

uint64_t new_writer_id() {
  auto id = text::parse_uint<uint64_t>(random_hex(8), 16);
  return id && *id != 0 ? *id : 1;  // 0 marks records from before versions
}

json to_json(const TagRecord& rec) {
  return {{"digest", rec.digest ? json(rec.digest->str()) : json(nullptr)},
          {"version", rec.stamp.version},
          {"writer", rec.stamp.writer}};
}

Result<TagRecord> record_from(const json& j) {
  TagRecord rec;
  try {
    if (!j.at("digest").is_null()) {
      auto d = Digest::parse(j.at("digest").get<std::string>());
      if (!d) return d.error();
      rec.digest = *d;
    }
    rec.stamp = {j.at("version").get<uint64_t>(), j.at("writer").get<uint64_t>()};
  } catch (const json::exception& e) {
    return Error(Errc::protocol_error, std::string("bad tag record: ") + e.what());
  }
  return rec;
}

Result<json> parse_json(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Error(Errc::protocol_error, "tag record is not JSON");
  return j;
}

// This origin's own copy.
class LocalTagReplica final : public TagReplica {
 public:
  LocalTagReplica(TagStore& store, bool keep_tombstone)
      : store_(store), keep_tombstone_(keep_tombstone) {}
  Result<TagRecord> read(std::string_view name) override { return store_.read(name); }
  Result<TagApplied> apply(std::string_view name, const TagRecord& rec,
                           TagVersion expect) override {
    return store_.apply(name, rec, expect, keep_tombstone_);
  }

 private:
  TagStore& store_;
  bool keep_tombstone_;
};

// Another origin's copy, through its /tags/<name>?replica route. A member that cannot
// be reached (or answers 5xx) is reported to the cluster, as any failed request is.
class RemoteTagReplica final : public TagReplica {
 public:
  RemoteTagReplica(Cluster& cluster, const Url& url, http::Headers headers,
                   const http::ClientOptions& options)
      : cluster_(cluster), client_(url, options), headers_(std::move(headers)) {}

  Result<TagRecord> read(std::string_view name) override {
    auto j = call("GET", name, "");
    if (!j) return j.error();
    return record_from(*j);
  }

  Result<TagApplied> apply(std::string_view name, const TagRecord& rec,
                           TagVersion expect) override {
    json body = to_json(rec);
    body["expect"] = {{"version", expect.version}, {"writer", expect.writer}};
    auto j = call("PUT", name, body.dump());
    if (!j) return j.error();
    auto current = record_from(*j);
    if (!current) return current.error();
    return TagApplied{j->value("applied", false), *current};
  }

 private:
  Result<json> call(std::string_view method, std::string_view name, const std::string& body) {
    http::Headers h = headers_;
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    auto r = client_.request(method, "/tags/" + std::string(name) + "?replica", h, body);
    if (!r || r->status >= 500) cluster_.report_failure(client_.url(), SteadyClock::now());
    if (!r) return r.error();
    if (!r->success()) {
      return Error(http::errc_for_status(r->status),
                   client_.url().str() + ": " + http::describe_failure(*r));
    }
    return parse_json(r->body);
  }

  Cluster& cluster_;
  http::Client client_;
  http::Headers headers_;
};

// An owner the cluster knows to be down: it counts among the owners (quorum messages
// say "1 of 3") without a connection attempt.
class DownTagReplica final : public TagReplica {
 public:
  explicit DownTagReplica(const Url& url) : error_(Errc::unavailable, url.str() + " is down") {}
  Result<TagRecord> read(std::string_view) override { return error_; }
  Result<TagApplied> apply(std::string_view, const TagRecord&, TagVersion) override {
    return error_;
  }

 private:
  Error error_;
};

// The owners of a tag as replicas: this origin's store, or the other origins.
struct Replicas {
  Replicas(const std::vector<Owner>& owners, TagStore& store, Cluster& cluster,
           const http::Headers& headers, const http::ClientOptions& options) {
    for (const Owner& o : owners) {
      if (!o.up) {
        held.push_back(std::make_unique<DownTagReplica>(o.url));
      } else if (o.self) {
        held.push_back(std::make_unique<LocalTagReplica>(store, true));
      } else {
        held.push_back(std::make_unique<RemoteTagReplica>(cluster, o.url, headers, options));
      }
      list.push_back(held.back().get());
    }
  }
  std::vector<std::unique_ptr<TagReplica>> held;
  std::vector<TagReplica*> list;
};

// A compare-and-swap another origin's coordinator asks of this origin's copy.
Result<json> apply_json(TagStore& store, std::string_view name, std::string_view body) {
  auto j = parse_json(body);
  if (!j) return Error(Errc::bad_request, j.error().message);
  auto rec = record_from(*j);
  if (!rec) return Error(Errc::bad_request, rec.error().message);
  TagVersion expect;
  try {
    expect = {j->at("expect").at("version").get<uint64_t>(),
              j->at("expect").at("writer").get<uint64_t>()};
  } catch (const json::exception& e) {
    return Error(Errc::bad_request, std::string("bad expect: ") + e.what());
  }
  auto applied = store.apply(name, *rec, expect);
  if (!applied) return applied.error();
  json out = to_json(applied->current);
  out["applied"] = applied->applied;
  return out;
}

// The precondition as headers again, for a write forwarded to another origin.
void add_precondition(http::Headers& h, const TagPrecondition& p) {
  if (p.if_match) h.emplace_back("If-Match", "\"" + p.if_match->str() + "\"");
  if (p.if_match_any) h.emplace_back("If-Match", "*");
  if (p.if_none_match_any) h.emplace_back("If-None-Match", "*");
}

// What a coordinating origin answered, as the Result it had.
Result<TagRecord> forwarded_outcome(const http::Response& r, const TagChange& change) {
  if (r.success()) return TagRecord{change.digest, {}};
  std::string message = http::json_string_field(r.body, "message");
  if (message.empty()) message = http::describe_failure(r);
  if (r.status == 412) return Error(Errc::precondition_failed, message);
  if (r.status == 409) return Error(Errc::conflict, message);
  if (r.status == 503) return Error(Errc::no_quorum, message);
  return Error(http::errc_for_status(r.status), message);
}

}  // namespace

struct Origin::TagRing {
  TagCoordinator coordinator{new_writer_id};
};

std::shared_ptr<Origin::TagRing> Origin::make_tag_ring() { return std::make_shared<TagRing>(); }

awaitable<Result<TagRecord>> Origin::read_tag(std::string name) {
  if (!cluster_.enabled()) co_return co_await http::offload([&] { return tags_.read(name); });
  const auto owners = cluster_.owners(tag_key(name), SteadyClock::now());
  co_return co_await http::outbound([&]() -> Result<TagRecord> {
    Replicas up(owners, tags_, cluster_, peer_headers(), peer_client_options());
    return tag_ring_->coordinator.read(name, up.list);
  });
}

awaitable<Result<TagRecord>> Origin::write_tag(std::string name, TagChange change, bool here) {
  if (!cluster_.enabled()) {
    // A ring of one: no other copy can be stale, so a deletion leaves no tombstone.
    co_return co_await http::offload([&] {
      LocalTagReplica local(tags_, false);
      return tag_ring_->coordinator.write(name, change, {&local}, 1);
    });
  }
  const auto owners = cluster_.owners(tag_key(name), SteadyClock::now());
  co_return co_await http::outbound([&]() -> Result<TagRecord> {
    Replicas up(owners, tags_, cluster_, peer_headers(), peer_client_options());
    auto coordinate = [&] {
      return tag_ring_->coordinator.write(name, change, up.list, cluster_.write_quorum());
    };
    if (here) return coordinate();
    // One coordinator per tag, the first owner that answers, orders its writers.
    for (const Owner& o : owners) {
      if (!o.up) continue;
      if (o.self) return coordinate();
      http::Headers h = peer_headers();
      add_precondition(h, change.precondition);
      http::Client client(o.url, peer_client_options());
      const std::string path = "/tags/" + name + "?coordinate";
      auto r = change.digest ? client.request("PUT", path, h, change.digest->str())
                             : client.request("DELETE", path, h);
      if (r) return forwarded_outcome(*r, change);
      cluster_.report_failure(o.url, SteadyClock::now());
    }
    return Error(Errc::no_quorum, "tag \"" + name + "\": none of its " +
                                      std::to_string(owners.size()) + " owners could be reached");
  });
}

// The other side of RemoteTagReplica: JSON records in and out.
awaitable<void> Origin::tag_replica(http::Exchange& ex, const std::string& name) {
  const verb m = ex.method();
  if (m != verb::get && m != verb::put)
    co_return co_await respond_method_not_allowed(ex, "GET, PUT");
  Result<json> answer = json();
  if (m == verb::get) {
    auto rec = co_await http::offload([&] { return tags_.read(name); });
    answer = rec ? Result<json>(to_json(*rec)) : Result<json>(rec.error());
  } else {
    std::string body;
    const BodySink sink = [&](const char* p, size_t n) -> Result<void> {
      body.append(p, n);
      return {};
    };
    auto got = co_await stream_body(ex, 4096, sink);
    if (!got) co_return co_await respond_failure(ex, got.error(), "");
    answer = co_await http::offload([&] { return apply_json(tags_, name, body); });
  }
  if (!answer) co_return co_await respond_failure(ex, answer.error(), "TAG_UNKNOWN");
  http::Head head;
  head.result(status::ok);
  head.set(field::content_type, "application/json");
  head.set(field::cache_control, "no-cache");
  co_await ex.respond(std::move(head), answer->dump());
}

}  // namespace shoal::origin

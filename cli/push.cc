// `shoal push FILE`: a resumable, streaming upload to the origin. The file is hashed
// on a second thread while it is sent (with sendfile(2) over plain HTTP, so this
// process copies no byte of it), and the digest is known when the last byte leaves;
// the origin checks every byte against it before the blob becomes visible. A state file remembers the upload session so an interrupted push
// continues where the origin's copy ends. With several origins, a push whose origin
// fails continues through the next: in the same session if that origin knows it (a
// ring shares sessions), else in a new one from the first byte.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "cli/client_common.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "core/file_io.h"
#include "core/store/file_hasher.h"
#include "http/util.h"
#include "core/sha256.h"
#include "origin/names.h"
#include "core/text.h"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRead = 1 << 20;

std::vector<ConfigKey> push_keys() {
  std::vector<ConfigKey> keys;
  keys.push_back({"origin", ConfigType::string, "",
                  "origin URL, URL,URL,... or dns:NAME:PORT (else $SHOAL_ORIGIN)"});
  keys.push_back({"tag", ConfigType::string, "", "point this tag at the pushed blob"});
  keys.push_back({"chunk_size", ConfigType::size, "64MiB", "bytes per PATCH request"});
  keys.push_back({"limit_rate", ConfigType::size, "0", "upload bytes per second, 0 = unlimited"});
  keys.push_back({"state_dir", ConfigType::string, "",
                  "where resumable uploads are remembered (default $XDG_CACHE_HOME/shoal)"});
  for (auto& k : client_schema_keys()) keys.push_back(std::move(k));
  return keys;
}

struct FileId {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileId&) const = default;
};

Result<FileId> identify(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return Error(Errc::bad_request, path + " is not a regular file");
  return FileId{static_cast<uint64_t>(st.st_size),
                static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

// Spreads reads over time so the average stays at `rate` bytes per second.
class RateLimiter {
 public:
  explicit RateLimiter(uint64_t rate) : rate_(rate), start_(Clock::now()) {}
  // Small reads at low rates keep the stream smooth instead of 1 MiB bursts.
  size_t read_size() const {
    return rate_ == 0 ? kRead : std::clamp<size_t>(rate_ / 10, 16384, kRead);
  }
  void account(size_t n) {
    if (rate_ == 0) return;
    sent_ += n;
    auto due = start_ + std::chrono::duration<double>(static_cast<double>(sent_) /
                                                      static_cast<double>(rate_));
    std::this_thread::sleep_until(std::chrono::time_point_cast<Clock::duration>(due));
  }

 private:
  uint64_t rate_, sent_ = 0;
  Clock::time_point start_;
};

class Push {
 public:
  Push(const Config& cfg, http::Upstreams& origins, http::Headers auth, std::string path)
      : cfg_(cfg),
        origins_(origins),
        auth_(std::move(auth)),
        path_(std::move(path)),
        limiter_(cfg.size("limit_rate")),
        progress_(stdout, Progress::enabled_for(stdout, cfg.boolean("quiet")), 0) {
    announce_failover(origins_, cfg.boolean("quiet"), &progress_);
  }

  Result<Digest> run();
  void clear_progress() { progress_.clear(); }

 private:
  Result<void> open_file();
  Result<void> prepare_state();
  // The whole push through one origin, continuing what earlier origins did.
  Result<Digest> push_through(const Url& origin);
  Result<std::string> upload();
  Result<std::string> resume_or_start(uint64_t& offset);
  std::string remembered_session() const;
  Result<std::optional<uint64_t>> session_offset(const std::string& id);
  std::optional<uint64_t> session_elsewhere(const std::string& id);
  // After a failover: where the upload goes on (stderr, unless --quiet).
  void say_continues(const std::string& id, uint64_t offset);
  Result<std::string> start_session();
  Result<void> send_chunk(const std::string& id, uint64_t offset, uint64_t length);
  Result<void> check_unchanged();
  Result<Digest> commit(const std::string& id);
  Result<void> tag(const Digest& digest);
  Error shorter() const {
    return Error(Errc::conflict, path_ + " changed during the push (it got shorter)");
  }
  Error refused(const http::Response& r) const {
    return Error(http::errc_for_status(r.status), refusal("origin", origin_, "upload", r));
  }
  http::Headers with_auth(http::Headers h) const {
    h.insert(h.end(), auth_.begin(), auth_.end());
    return h;
  }

  const Config& cfg_;
  http::Upstreams& origins_;
  Url origin_;  // the one being pushed through
  http::Headers auth_;
  std::string path_, abs_path_, state_file_;
  std::optional<http::Client> client_;
  RateLimiter limiter_;
  Progress progress_;
  UniqueFd fd_;
  FileId id_;
  // The whole file's digest, from the start, whichever origin ends up with which bytes.
  std::unique_ptr<FileHasher> hasher_;
  std::string session_;              // the upload session of the last origin tried
  std::optional<Digest> committed_;  // once an origin has the blob, only the tag is left
  int attempts_ = 0;                 // origins pushed through so far, this one included
};

Result<void> Push::open_file() {
  fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_.valid()) return errno_error(errno, "open " + path_);
  auto id = identify(fd_.get(), path_);
  if (!id) return id.error();
  id_ = *id;
  hasher_ = std::make_unique<FileHasher>(fd_.get(), id_.size);
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path_.c_str(), nullptr), &std::free);
  abs_path_ = real ? real.get() : path_;
  progress_.set_total(id_.size);
  return {};
}

Result<void> Push::prepare_state() {
  std::string dir = cfg_.str("state_dir");
  if (dir.empty()) dir = default_state_dir();
  dir += "/uploads";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(Errc::io_error, "create state directory " + dir + ": " + ec.message());
  // Keyed by the --origin text as given: the same command finds its session again.
  state_file_ = dir + "/" + resume_key(abs_path_, id_.size, id_.mtime_ns, origins_.str());
  return {};
}

std::string Push::remembered_session() const {
  if (!session_.empty()) return session_;
  if (::access(state_file_.c_str(), F_OK) != 0) return {};
  auto text = read_small_file(state_file_, 4096);
  return text ? http::json_string_field(*text, "id") : "";
}

// The session this origin knows (an earlier run's, or the failed origin's in a ring
// that shares sessions) from the offset it holds, else a new one from 0.
Result<std::string> Push::resume_or_start(uint64_t& offset) {
  offset = 0;
  progress_.rewind();
  if (std::string id = remembered_session(); !id.empty()) {
    auto at = session_offset(id);
    if (!at) return at.error();
    // In a ring the session is mirrored on another origin: continue where it is.
    if (!*at) at = session_elsewhere(id);
    if (*at && **at <= id_.size) {
      if (attempts_ > 1) say_continues(id, **at);
      offset = **at;
      progress_.add(offset);
      return id;
    }
  }
  return start_session();
}

// The offset of session `id` on the first other origin that holds it (a ring mirrors
// each session on one other origin), which then becomes the one pushed through;
// nullopt when none does.
std::optional<uint64_t> Push::session_elsewhere(const std::string& id) {
  auto members = origins_.order();
  if (!members) return std::nullopt;
  const Url tried = origin_;
  for (const Url& other : *members) {
    if (other.str() == tried.str()) continue;
    origin_ = other;
    client_.emplace(origin_, client_options(cfg_));
    auto at = session_offset(id);
    if (at && *at) {
      if (attempts_ <= 1) say_continues(id, **at);  // else resume_or_start says it
      return *at;
    }
  }
  origin_ = tried;
  client_.emplace(origin_, client_options(cfg_));
  return std::nullopt;
}

void Push::say_continues(const std::string& id, uint64_t offset) {
  if (cfg_.boolean("quiet")) return;
  progress_.clear();
  std::fprintf(stderr, "shoal push: upload %s continues on %s at byte %llu\n", id.c_str(),
               origin_.str().c_str(), static_cast<unsigned long long>(offset));
}

// Where an earlier session stands; nullopt when the origin no longer has it.
Result<std::optional<uint64_t>> Push::session_offset(const std::string& id) {
  auto r = client_->request("GET", "/uploads/" + id, with_auth({}));
  if (!r) return r.error();
  if (r->status == 404) return std::optional<uint64_t>{};
  if (!r->success()) return refused(*r);
  auto offset = upload_offset_from(*r);
  if (!offset) return Error(Errc::protocol_error, "origin sent no Upload-Offset for upload " + id);
  return offset;
}

Result<std::string> Push::start_session() {
  auto r = client_->request("POST", "/uploads", with_auth({}));
  if (!r) return r.error();
  if (!r->success()) return refused(*r);
  auto id = upload_id_from(*r);
  if (!id) return Error(Errc::protocol_error, "origin answered POST /uploads without an upload id");
  std::string state = "{\"id\":\"" + *id + "\",\"file\":\"" + text::json_escape(abs_path_) +
                      "\",\"origin\":\"" + origin_.str() + "\"}\n";
  if (auto ok = write_file_atomic(state_file_, state); !ok) return ok.error();
  return *id;
}

Result<void> Push::send_chunk(const std::string& id, uint64_t offset, uint64_t length) {
  http::FileBody body{fd_.get(), offset, length, limiter_.read_size(),
                      [this](size_t n) -> Result<void> {
                        limiter_.account(n);
                        progress_.add(n);
                        return {};
                      }};
  http::Headers h = with_auth({{"Content-Range", content_range(offset, length)},
                               {"Content-Type", "application/octet-stream"}});
  auto r = client_->upload_file("PATCH", "/uploads/" + id, h, body);
  if (!r && r.error().code == Errc::conflict) return shorter();
  if (!r) return r.error();
  if (!r->success()) return refused(*r);
  auto now = upload_offset_from(*r);
  if (now && *now != offset + length) {
    return Error(Errc::protocol_error, "origin is at offset " + std::to_string(*now) +
                                           " after a chunk ending at " +
                                           std::to_string(offset + length));
  }
  return check_unchanged();
}

Result<void> Push::check_unchanged() {
  auto now = identify(fd_.get(), path_);
  if (!now) return now.error();
  if (!(*now == id_)) return Error(Errc::conflict, path_ + " changed during the push");
  return {};
}

Result<Digest> Push::commit(const std::string& id) {
  auto hashed = hasher_->finish();
  if (!hashed && hashed.error().code == Errc::conflict) return shorter();
  if (!hashed) return Error(hashed.error().code, "read " + path_ + ": " + hashed.error().message);
  Digest digest = *hashed;
  auto r = client_->request("PUT", "/uploads/" + id + "?digest=" + digest.str(), with_auth({}));
  if (!r) return r.error();
  if (!r->success()) {
    // The origin drops a session whose bytes do not match: nothing left to resume.
    if (r->status == 400 || r->status == 404) ::unlink(state_file_.c_str());
    return refused(*r);
  }
  ::unlink(state_file_.c_str());
  return digest;
}

Result<void> Push::tag(const Digest& digest) {
  std::string name = cfg_.str("tag");
  auto r = client_->request("PUT", "/tags/" + name, with_auth({{"Content-Type", "text/plain"}}),
                           digest.str());
  if (!r) return r.error();
  if (!r->success())
    return Error(http::errc_for_status(r->status), refusal("origin", origin_, "tag " + name, *r));
  return {};
}

// The session's id once every byte reached the origin.
Result<std::string> Push::upload() {
  uint64_t offset = 0;
  auto id = resume_or_start(offset);
  if (!id) return id;
  session_ = *id;
  uint64_t chunk = std::max<uint64_t>(cfg_.size("chunk_size"), 1);
  for (; offset < id_.size; offset += std::min(chunk, id_.size - offset)) {
    if (auto ok = send_chunk(*id, offset, std::min(chunk, id_.size - offset)); !ok)
      return ok.error();
  }
  if (auto ok = check_unchanged(); !ok) return ok.error();
  return id;
}

Result<Digest> Push::push_through(const Url& origin) {
  ++attempts_;
  origin_ = origin;
  client_.emplace(origin_, client_options(cfg_));
  if (!committed_) {
    auto id = upload();
    if (!id) return id.error();
    auto digest = commit(*id);
    if (!digest) return digest;
    committed_ = *digest;
  }
  if (!cfg_.str("tag").empty()) {
    if (auto ok = tag(*committed_); !ok) return ok.error();
  }
  return *committed_;
}

Result<Digest> Push::run() {
  if (auto ok = open_file(); !ok) return ok.error();
  if (auto ok = prepare_state(); !ok) return ok.error();
  auto digest = origins_.first_answer([this](const Url& origin) { return push_through(origin); });
  if (!digest) {
    if (!http::worth_another(digest.error())) return digest.error();
    return Error(digest.error().code,
                 digest.error().message + " (run the same push again to resume)");
  }
  progress_.finish("pushed");
  return digest;
}

}  // namespace

int push_main(const Args& args) {
  Config cfg(push_keys());
  cfg.parse_args(expand_short_flags(args, {{'q', "quiet"}}));
  if (cfg.help_requested()) {
    std::printf("usage: shoal push FILE [flags]\n\n%s", cfg.usage().c_str());
    return 0;
  }
  if (cfg.positional().size() != 1) {
    fail("push", "expected exactly one FILE (usage: shoal push FILE [--tag NAME] [--origin URL])");
    return 2;
  }
  // Checked before any byte moves: a bad name found after a 10 GiB upload wastes it.
  if (std::string tag = cfg.str("tag"); !tag.empty() && !origin::valid_tag_name(tag)) {
    return fail("push",
                "invalid tag name \"" + tag + "\" (expected e.g. release-42 or team/app:v1)");
  }
  auto origin = endpoints_from(cfg, "origin", "SHOAL_ORIGIN", "origin");
  if (!origin) return fail("push", origin.error().message);
  auto auth = auth_headers(cfg);
  if (!auth) return fail("push", auth.error().message);
  http::Upstreams origins(*origin, "origin");
  Push push(cfg, origins, *auth, cfg.positional()[0]);
  auto digest = push.run();
  if (!digest) {
    push.clear_progress();
    return fail("push", digest.error().message);
  }
  std::printf("%s\n", digest->str().c_str());
  return 0;
}

}  // namespace shoal::cli

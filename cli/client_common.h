// What the client commands (push, pull) share: where to connect, how to
// authenticate, and the pure pieces of the upload protocol, kept free of I/O so
// they can be unit-tested.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/progress.h"
#include "core/config.h"
#include "core/error.h"
#include "core/endpoint_list.h"
#include "http/client.h"
#include "http/upstreams.h"
#include "core/url.h"

namespace shoal::cli {

// Flags every client command understands: token_file, insecure, ca_file, timeout.
std::vector<ConfigKey> client_schema_keys();
http::ClientOptions client_options(const Config& cfg);
// Authorization header from --token-file, else $SHOAL_TOKEN; none if neither.
Result<http::Headers> auth_headers(const Config& cfg);

// The first non-empty of the flag value and the environment variable, parsed.
// `role` names it in errors: "no origin: give --origin URL or set SHOAL_ORIGIN".
Result<Url> endpoint_from(const Config& cfg, const std::string& key, const char* env,
                          std::string_view role);
// The same for a role that may be several servers: "URL,URL,..." or "dns:NAME:PORT".
Result<EndpointList> endpoints_from(const Config& cfg, const std::string& key, const char* env,
                                    std::string_view role);
// Prints "origin http://A failed (why): continuing through http://B" on stderr when
// `upstreams` fails over, unless `quiet`; the bar of `progress`, if any, is erased first.
void announce_failover(http::Upstreams& upstreams, bool quiet, Progress* progress = nullptr);

// "bytes 0-1048575/*": the Content-Range of a PATCH carrying `length` (> 0) bytes at `offset`.
std::string content_range(uint64_t offset, uint64_t length);
// The id of a new upload session: last component of Location, else the body's "id".
std::optional<std::string> upload_id_from(const http::Response& r);
// Upload-Offset of a session, if the header is present and a number.
std::optional<uint64_t> upload_offset_from(const http::Response& r);

// The name of the resume-state file of one push: the same file (path, size, mtime)
// to the same origin resumes the same upload session; anything else starts afresh.
std::string resume_key(std::string_view abs_path, uint64_t size, int64_t mtime_ns,
                       std::string_view origin);
// ${XDG_CACHE_HOME:-$HOME/.cache}/shoal, or a per-user directory under /tmp without HOME.
std::string default_state_dir();

// "origin http://127.0.0.1:4100 refused the upload: body over the limit (413 TOO_LARGE)"
std::string refusal(std::string_view role, const Url& url, std::string_view what,
                    const http::Response& r);

bool is_digest_syntax(std::string_view ref);  // looks like "sha256:...", valid or not

// Rewrites "-o X" and "-oX" into "--output X" for each (letter, key) given: Config only
// knows "--name" flags, and a few short spellings are what people type.
Args expand_short_flags(const Args& args, std::initializer_list<std::pair<char, const char*>> map);

// Prints "shoal CMD: MESSAGE" on stderr (one line) and returns the exit status 1.
int fail(std::string_view command, std::string_view message);

}  // namespace shoal::cli

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(const shoal::cli::Args&);
  std::string_view summary;
};

constexpr Command kCommands[] = {
    {"origin", shoal::cli::origin_main, "run the origin: durable blob store and upload API"},
    {"push", shoal::cli::push_main, "upload a file to the origin, print its digest"},
    {"pull", shoal::cli::pull_main, "download a blob by digest or tag, verified"},
    {"get", shoal::cli::get_main, "GET a URL over HTTP/1.1, 2 or 3, digest-checked; load test"},
    {"tracker", shoal::cli::tracker_main, "run the BitTorrent tracker (peer hand-out, metainfo)"},
    {"peer", shoal::cli::peer_main,
     "run the peer agent: blobs through the swarm, cached and seeded"},
    {"edge", shoal::cli::edge_main, "run a CDN edge: RAM and disk cache, HTTP/1.1, 2 and 3"},
    {"up", shoal::cli::up_main, "run a local cluster: tracker, origin, N peer agents and an edge"},
    {"hls", shoal::cli::hls_main, "publish video for HLS (VOD or live) as blobs tagged hls/NAME"},
};

}  // namespace

// jemalloc keeps freed pages for 10 s by default: an agent passing a blob through
// hand-out pieces and disk blocks frees megabytes a second, and held them all (about
// 50 MiB more RSS during a 4 GiB pull). One second returns them while staying cheap;
// muzzy pages go back at once. Read by jemalloc at start-up; ignored without it.
extern "C" const char* malloc_conf;
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";

namespace {

int usage(FILE* out) {
  std::fprintf(out, "usage: shoal <command> [flags]\n\ncommands:\n");
  for (const auto& c : kCommands) {
    std::fprintf(out, "  %-8.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out, "\n`shoal <command> --help` lists a command's flags.\n");
  return out == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Peers that vanish mid-response must give EPIPE, not kill the process (sendfile).
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return usage(stderr);
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return usage(stdout);
  for (const auto& c : kCommands) {
    if (c.name != name) continue;
    shoal::cli::Args args(argv + 2, argv + argc);
    try {
      return c.run(args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shoal %s: %s\n", argv[1], e.what());
      return 2;
    }
  }
  std::fprintf(stderr, "shoal: unknown command \"%s\" (try shoal --help)\n", argv[1]);
  return 2;
}

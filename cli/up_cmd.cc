// `shoal up`: a whole Shoal cluster on one host, to try Shoal out or to test against:
// one tracker, one origin, N peer agents and an edge, each a child process running this same
// binary, with every endpoint written to DIR/cluster.json while the cluster runs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "cli/client_common.h"
#include "cli/cluster.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/file_io.h"
#include "http/util.h"
#include "core/tls/self_signed.h"
#include "core/text.h"

namespace shoal::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int64_t kMaxPeers = 64;
constexpr milliseconds kReadyTimeout{30'000};
constexpr milliseconds kStopGrace{10'000};
constexpr milliseconds kPoll{50};
constexpr size_t kTailLines = 3;

std::vector<ConfigKey> up_keys() {
  return {
      {"peers", ConfigType::integer, "3", "peer agents to run (0 to 64)"},
      {"data", ConfigType::string, "./shoal-cluster", "directory for data, logs and cluster.json"},
      {"host", ConfigType::string, "127.0.0.1", "IP address every component listens on"},
      {"quiet", ConfigType::boolean, "false", "print nothing while the cluster runs"},
      {"edge", ConfigType::boolean, "true", "run a CDN edge in front of the first peer agent"},
      {"tls_cert", ConfigType::string, "",
       "the edge's certificate (PEM); default: a self-signed one made in DIR/tls"},
      {"tls_key", ConfigType::string, "", "the edge's private key (PEM), with tls_cert"},
  };
}

struct UpOptions {
  int peers = 0;
  fs::path dir;  // absolute: cluster.json and the children must not depend on a cwd
  std::string host;
  bool quiet = false;
  bool edge = true;
  std::string tls_cert, tls_key;
};

struct Component {
  ChildSpec spec;
  std::string url;   // as planned, then as the server logged it
  std::string data;  // empty for the tracker
  pid_t pid = -1;
};

struct Cluster {
  Component tracker;
  Component origin;
  std::vector<Component> peers;
  std::optional<Component> edge;
  std::string edge_plain_url;
};

struct StartFailure {
  std::string message;
  bool port_taken = false;
};

bool is_ipv6(const std::string& host) { return host.find(':') != std::string::npos; }

std::string host_port(const std::string& host, uint16_t port) {
  return (is_ipv6(host) ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

UpOptions up_options(const Config& cfg) {
  UpOptions o;
  int64_t peers = cfg.integer("peers");
  if (peers < 0 || peers > kMaxPeers) {
    throw ConfigError("invalid value \"" + cfg.str("peers") + "\" for peers: expected 0 to " +
                      std::to_string(kMaxPeers));
  }
  o.peers = static_cast<int>(peers);
  if (cfg.str("data").empty()) throw ConfigError("data must not be empty");
  o.dir = fs::absolute(cfg.str("data")).lexically_normal();
  o.host = cfg.str("host");
  in6_addr probe{};
  if (::inet_pton(is_ipv6(o.host) ? AF_INET6 : AF_INET, o.host.c_str(), &probe) != 1) {
    throw ConfigError("invalid value \"" + o.host +
                      "\" for host: expected an IP address such as 127.0.0.1");
  }
  o.quiet = cfg.boolean("quiet");
  o.edge = cfg.boolean("edge");
  o.tls_cert = cfg.str("tls_cert");
  o.tls_key = cfg.str("tls_key");
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    throw ConfigError("tls_cert and tls_key must be given together");
  }
  return o;
}

socklen_t to_sockaddr(const std::string& host, sockaddr_storage& ss) {
  ss = {};
  if (is_ipv6(host)) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
  return sizeof *a;
}

uint16_t port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

// Tracker and origin each need the other's URL at start, so ports are chosen before
// either runs. All are held open together so they are distinct; another process may
// still take one before its server binds it (start-up retries once).
std::vector<uint16_t> free_ports(const std::string& host, size_t n) {
  std::vector<UniqueFd> held;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < n; ++i) {
    sockaddr_storage ss{};
    socklen_t len = to_sockaddr(host, ss);
    UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid() || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      throw std::runtime_error("cannot get a free port on " + host + ": " + std::strerror(errno));
    }
    ports.push_back(port_of(ss));
    held.push_back(std::move(fd));
  }
  return ports;
}

Component component(const UpOptions& o, const std::string& name, std::vector<std::string> args,
                    std::string url, std::string data) {
  std::string log = (o.dir / (name + ".log")).string();
  return {ChildSpec{name, std::move(args), std::move(log)}, std::move(url), std::move(data)};
}

size_t ports_needed(const UpOptions& o) {
  return 2 + static_cast<size_t>(o.peers) + (o.edge ? 2 : 0);
}

// The edge fills through the first peer agent (its co-located one) and serves HTTPS
// (HTTP/1.1, HTTP/2, and HTTP/3 on the same UDP port) on one port, plain HTTP/1.1 on the next.
Component plan_edge(const UpOptions& o, const std::string& origin_url, const Cluster& c,
                    const std::string& https_addr, const std::string& plain_addr) {
  std::string data = (o.dir / "edge").string();
  std::vector<std::string> args = {
      "edge",     "--listen", https_addr,   "--plain-listen", plain_addr,  "--data", data,
      "--origin", origin_url, "--tls-cert", o.tls_cert,       "--tls-key", o.tls_key};
  if (!c.peers.empty()) {
    args.push_back("--peer");
    args.push_back(c.peers.front().url);
  }
  return component(o, "edge", std::move(args), "https://" + https_addr, data);
}

// ports: tracker, origin, one per peer, then the edge's HTTPS and plain ports.
Cluster plan_cluster(const UpOptions& o, const std::vector<uint16_t>& ports) {
  auto addr = [&](size_t i) { return host_port(o.host, ports[i]); };
  auto url = [&](size_t i) { return "http://" + addr(i); };
  Cluster c;
  c.tracker =
      component(o, "tracker", {"tracker", "--listen", addr(0), "--origin", url(1)}, url(0), "");
  std::string origin_data = (o.dir / "origin").string();
  c.origin = component(o, "origin",
                       {"origin", "--listen", addr(1), "--data", origin_data, "--tracker", url(0)},
                       url(1), origin_data);
  for (size_t i = 1; i <= static_cast<size_t>(o.peers); ++i) {
    std::string name = "peer" + std::to_string(i);
    std::string data = (o.dir / name).string();
    c.peers.push_back(component(o, name,
                                {"peer", "--listen", addr(1 + i), "--data", data, "--origin",
                                 url(1), "--tracker", url(0), "--bt-listen", host_port(o.host, 0)},
                                url(1 + i), data));
  }
  if (o.edge) {
    size_t first = 2 + static_cast<size_t>(o.peers);
    c.edge = plan_edge(o, url(1), c, addr(first), addr(first + 1));
    c.edge_plain_url = url(first + 1);
  }
  return c;
}

// Reads at most `max` bytes of a log, from its start or (tail) its end; "" if unreadable.
std::string read_log(const std::string& path, size_t max, bool tail) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  auto size = file_size(fd.get());
  uint64_t from = tail && size && *size > max ? *size - max : 0;
  std::string out(max, '\0');
  size_t got = 0;
  while (got < max) {
    auto n = pread_some(fd.get(), out.data() + got, max - got, from + got);
    if (!n || *n == 0) break;
    got += *n;
  }
  out.resize(got);
  return out;
}

std::string last_lines(const std::string& log_path) {
  return "last lines of " + log_path + ": " + log_tail(read_log(log_path, 16384, true), kTailLines);
}

bool mark_ready(Component& c) {
  auto url = listening_url(read_log(c.spec.log_path, 1 << 20, false));
  if (url) c.url = *url;
  return url.has_value();
}

// "origin (pid 42) exited with status 2 during start-up; last lines of DIR/origin.log: ..."
StartFailure exit_failure(const Child& dead, const char* when) {
  std::string tail = last_lines(dead.spec.log_path);
  bool taken = tail.find("Address already in use") != std::string::npos;
  return {dead.spec.name + " (pid " + std::to_string(dead.pid) + ") " + describe_exit(dead.status) +
              " " + when + "; " + tail,
          taken};
}

// Starts the group and waits until each member has logged its "listening" line.
std::optional<StartFailure> start_group(Supervisor& sup, const std::vector<Component*>& group) {
  for (Component* c : group) c->pid = sup.spawn(c->spec).pid;
  auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
  std::vector<Component*> waiting = group;
  for (;;) {
    std::erase_if(waiting, [](Component* c) { return mark_ready(*c); });
    if (waiting.empty()) return std::nullopt;
    Event ev = sup.wait(kPoll);
    if (ev == Event::stop_requested) {
      return StartFailure{"interrupted before the cluster was ready"};
    }
    if (ev == Event::child_exited) return exit_failure(*sup.last_exited(), "during start-up");
    if (std::chrono::steady_clock::now() >= deadline) {
      const ChildSpec& late = waiting.front()->spec;
      return StartFailure{late.name + " did not log \"listening\" within " +
                          std::to_string(kReadyTimeout.count() / 1000) + "s; " +
                          last_lines(late.log_path)};
    }
  }
}

std::optional<StartFailure> start_cluster(Supervisor& sup, Cluster& c) {
  // Peers may talk to the tracker and origin as soon as they run: those come first.
  if (auto failed = start_group(sup, {&c.tracker, &c.origin})) return failed;
  std::vector<Component*> peers;
  for (Component& p : c.peers) peers.push_back(&p);
  if (!peers.empty()) {
    if (auto failed = start_group(sup, peers)) return failed;
  }
  if (!c.edge) return std::nullopt;
  return start_group(sup, {&*c.edge});
}

// Two clusters in one directory would share data directories and cluster.json. The
// lock goes with the process, however it ends.
UniqueFd lock_dir(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    throw std::runtime_error("cannot open " + dir.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      throw std::runtime_error(dir.string() +
                               " is in use by another shoal up; stop it or give another --data");
    }
    throw std::runtime_error("cannot lock " + dir.string() + ": " + std::strerror(errno));
  }
  return fd;
}

std::string json_string(std::string_view s) { return "\"" + text::json_escape(s) + "\""; }

std::string component_json(const Component& c, std::string extra) {
  std::string j = "{\"name\":" + json_string(c.spec.name) + ",\"pid\":" + std::to_string(c.pid) +
                  ",\"url\":" + json_string(c.url) + std::move(extra);
  if (!c.data.empty()) j += ",\"data\":" + json_string(c.data);
  return j + ",\"log\":" + json_string(c.spec.log_path) + "}";
}

std::string cluster_json(const UpOptions& o, const Cluster& c) {
  std::string j = "{\n  \"pid\": " + std::to_string(::getpid()) +
                  ",\n  \"data\": " + json_string(o.dir.string());
  j += ",\n  \"tracker\": " +
       component_json(c.tracker, ",\"announce\":" + json_string(c.tracker.url + "/announce"));
  j += ",\n  \"origin\": " + component_json(c.origin, "");
  j += ",\n  \"peers\": [";
  for (size_t i = 0; i < c.peers.size(); ++i) {
    j += (i ? ",\n    " : "\n    ") + component_json(c.peers[i], "");
  }
  j += c.peers.empty() ? "]" : "\n  ]";
  if (c.edge) {
    j += ",\n  \"edge\": " +
         component_json(*c.edge, ",\"plain_url\":" + json_string(c.edge_plain_url) +
                                     ",\"cert\":" + json_string(o.tls_cert));
  }
  return j + "\n}\n";
}

void print_row(const Component& c, const std::string& detail) {
  std::printf("  %-8s %-30s %s\n", c.spec.name.c_str(), c.url.c_str(), detail.c_str());
}

void print_endpoints(const Cluster& c, const fs::path& dir, const std::string& cert) {
  std::printf("shoal cluster up: tracker, origin, %zu peer agent(s)%s\n\n", c.peers.size(),
              c.edge ? " and an edge" : "");
  print_row(c.tracker, "announce " + c.tracker.url + "/announce");
  print_row(c.origin, "data " + c.origin.data);
  for (const Component& p : c.peers) print_row(p, "data " + p.data);
  if (c.edge) print_row(*c.edge, "plain " + c.edge_plain_url);
  std::string source =
      c.peers.empty() ? "--origin " + c.origin.url : "--peer " + c.peers.front().url;
  std::printf("\nendpoints: %s\nlogs:      %s/<name>.log\n", (dir / "cluster.json").c_str(),
              dir.c_str());
  std::printf("push:      shoal push FILE --origin %s\n", c.origin.url.c_str());
  std::printf("pull:      shoal pull DIGEST -o FILE %s\n", source.c_str());
  if (c.edge) {
    std::printf("fetch:     curl --cacert %s %s/blobs/DIGEST\n", cert.c_str(), c.edge->url.c_str());
  }
  std::printf("stop:      Ctrl-C, or kill %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
}

std::vector<Component*> all_components(Cluster& c) {
  std::vector<Component*> all{&c.tracker, &c.origin};
  for (Component& p : c.peers) all.push_back(&p);
  if (c.edge) all.push_back(&*c.edge);
  return all;
}

// Runs until asked to stop (0) or until a component dies (1, reported on stderr).
int supervise(Supervisor& sup) {
  for (;;) {
    Event ev = sup.wait(milliseconds(3'600'000));
    if (ev == Event::stop_requested) return 0;
    if (ev != Event::child_exited) continue;
    fail("up",
         exit_failure(*sup.last_exited(), "while running").message + "; stopping the cluster");
    return 1;
  }
}

// On failure everything started is stopped again. A port picked by free_ports() may
// have been taken by someone else meanwhile: then once more with fresh ports.
std::optional<StartFailure> start_with_retry(Supervisor& sup, const UpOptions& o, Cluster& c) {
  for (int attempt = 1;; ++attempt) {
    c = plan_cluster(o, free_ports(o.host, ports_needed(o)));
    for (Component* comp : all_components(c)) {
      if (!comp->data.empty()) fs::create_directories(comp->data);
    }
    auto failed = start_cluster(sup, c);
    if (!failed) return std::nullopt;
    sup.stop_all(kStopGrace);
    if (!failed->port_taken || attempt == 2) return failed;
  }
}

// Without a certificate of the user's, the edge gets a self-signed one for the
// cluster's host and localhost, made once and kept in DIR/tls.
void ensure_certificate(UpOptions& o) {
  if (!o.tls_cert.empty()) {
    o.tls_cert = fs::absolute(o.tls_cert).string();
    o.tls_key = fs::absolute(o.tls_key).string();
    return;
  }
  fs::path dir = o.dir / "tls";
  o.tls_cert = (dir / "cert.pem").string();
  o.tls_key = (dir / "key.pem").string();
  if (fs::exists(o.tls_cert) && fs::exists(o.tls_key)) return;
  fs::create_directories(dir);
  std::vector<std::string> ips = {o.host};
  if (o.host != "127.0.0.1") ips.push_back("127.0.0.1");
  auto made = write_self_signed_cert(o.tls_cert, o.tls_key, {"localhost"}, ips,
                                     std::chrono::hours(24 * 365));
  if (!made) throw std::runtime_error("cannot make a TLS certificate: " + made.error().message);
}

// Removes cluster.json however up_main leaves: its endpoints are about to be gone.
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

}  // namespace

int up_main(const Args& args) {
  Config cfg(up_keys());
  cfg.parse_args(args);
  if (cfg.help_requested()) {
    std::printf("usage: shoal up [--peers N] [--data DIR] [flags]\n\n%s", cfg.usage().c_str());
    return 0;
  }
  if (!cfg.positional().empty()) {
    throw ConfigError("unexpected argument \"" + cfg.positional()[0] + "\"");
  }
  UpOptions opts = up_options(cfg);
  fs::create_directories(opts.dir);
  UniqueFd lock = lock_dir(opts.dir);
  if (opts.edge) ensure_certificate(opts);
  RemoveOnExit json_guard{opts.dir / "cluster.json"};
  fs::remove(json_guard.path);  // a stale file from a killed run must not be read as this one's
  Supervisor sup;
  Cluster cluster;
  if (auto failed = start_with_retry(sup, opts, cluster)) return fail("up", failed->message);
  auto written = write_file_atomic(json_guard.path.string(), cluster_json(opts, cluster));
  if (!written) throw std::runtime_error(written.error().message);
  if (!opts.quiet) print_endpoints(cluster, opts.dir, opts.tls_cert);
  int status = supervise(sup);
  if (status == 0 && !opts.quiet) {
    std::printf("stopping (%s)\n", sup.stop_signal() == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
  }
  return status;
}

}  // namespace shoal::cli

// `shoal up`: a whole Shoal cluster on one host, to try Shoal out or to test against:
// one tracker, one origin or a ring of origins, N peer agents and an edge, each a child
// process running this same binary, with every endpoint written to DIR/cluster.json while
// the cluster runs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cli/client_common.h"
#include "cli/cluster.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/file_io.h"
#include "http/util.h"
#include "core/tls/self_signed.h"

namespace shoal::cli {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Json = nlohmann::ordered_json;  // keys in the order written: cluster.json is read by people

constexpr int64_t kMaxPeers = 64;
constexpr int64_t kMaxOrigins = 16;
constexpr milliseconds kReadyTimeout{30'000};
constexpr milliseconds kStopGrace{10'000};
constexpr milliseconds kPoll{50};
constexpr size_t kTailLines = 3;

std::vector<ConfigKey> up_keys() {
  return {
      {"peers", ConfigType::integer, "3", "peer agents to run (0 to 64)"},
      {"origins", ConfigType::integer, "1",
       "origins to run (1 to 16); more than one form a ring that places each blob on 3"},
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
  int origins = 1;
  fs::path dir;  // absolute: cluster.json and the children must not depend on a cwd
  std::string host;
  bool quiet = false;
  bool edge = true;
  std::string tls_cert, tls_key;
};

struct Component {
  ChildSpec spec;
  std::string url;              // as planned, then as the server logged it
  std::string data;             // empty for the tracker
  std::vector<uint16_t> ports;  // reserved for it until it starts
  pid_t pid = -1;
};

struct Cluster {
  Component tracker;
  std::vector<Component> origins;  // never empty; the first is cluster.json's "origin"
  std::vector<Component> peers;
  std::optional<Component> edge;
  std::string edge_plain_url;
};

struct StartFailure {
  std::string message;
  bool port_taken = false;
};

int bounded(const Config& cfg, const char* key, int64_t min, int64_t max) {
  int64_t v = cfg.integer(key);
  if (v < min || v > max) {
    throw ConfigError("invalid value \"" + cfg.str(key) + "\" for " + key + ": expected " +
                      std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int>(v);
}

UpOptions up_options(const Config& cfg) {
  UpOptions o;
  o.peers = bounded(cfg, "peers", 0, kMaxPeers);
  o.origins = bounded(cfg, "origins", 1, kMaxOrigins);
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

Component component(const UpOptions& o, const std::string& name, std::vector<std::string> args,
                    std::vector<uint16_t> ports, std::string data) {
  std::string log = (o.dir / (name + ".log")).string();
  std::string url = "http://" + host_port(o.host, ports.front());
  return {ChildSpec{name, std::move(args), std::move(log)}, std::move(url), std::move(data),
          std::move(ports)};
}

size_t ports_needed(const UpOptions& o) {
  return 1 + static_cast<size_t>(o.origins + o.peers) + (o.edge ? 2 : 0);
}

// Hands out the reserved ports in order, so the plan needs no index arithmetic.
class PortQueue {
 public:
  explicit PortQueue(const std::vector<uint16_t>& ports) : ports_(ports) {}
  uint16_t next() { return ports_.at(next_++); }

 private:
  const std::vector<uint16_t>& ports_;
  size_t next_ = 0;
};

std::string url_list(const std::vector<Component>& group) {
  std::string out;
  for (const Component& c : group) out += (out.empty() ? "" : ",") + c.url;
  return out;
}

// A lone origin keeps the name, flags and data directory (DIR/origin) of the clusters
// from before rings, so an existing DIR is used as it was. In a ring each origin is
// told every member's URL, which is why all the ports are chosen before any origin runs.
std::vector<Component> plan_origins(const UpOptions& o, PortQueue& ports,
                                    const std::string& tracker_url) {
  std::vector<Component> origins;
  for (int i = 1; i <= o.origins; ++i) {
    std::string name = o.origins == 1 ? "origin" : "origin-" + std::to_string(i);
    std::string data = (o.dir / name).string();
    uint16_t port = ports.next();
    origins.push_back(component(
        o, name,
        {"origin", "--listen", host_port(o.host, port), "--data", data, "--tracker", tracker_url},
        {port}, data));
  }
  if (o.origins == 1) return origins;
  std::string members = url_list(origins);
  for (Component& c : origins) {
    c.spec.args.insert(c.spec.args.end(), {"--origins", members, "--self", c.url});
  }
  return origins;
}

Component plan_peer(const UpOptions& o, int index, uint16_t port, const Cluster& c) {
  std::string name = "peer" + std::to_string(index);
  std::string data = (o.dir / name).string();
  return component(
      o, name,
      {"peer", "--listen", host_port(o.host, port), "--data", data, "--origin", url_list(c.origins),
       "--tracker", c.tracker.url, "--bt-listen", host_port(o.host, 0)},
      {port}, data);
}

// The edge fills through the first peer agent (its co-located one) and serves HTTPS
// (HTTP/1.1, HTTP/2, and HTTP/3 on the same UDP port) on one port, plain HTTP/1.1 on the next.
Component plan_edge(const UpOptions& o, PortQueue& ports, const Cluster& c) {
  uint16_t https = ports.next(), plain = ports.next();
  std::string data = (o.dir / "edge").string();
  std::vector<std::string> args = {
      "edge",   "--listen", host_port(o.host, https), "--plain-listen", host_port(o.host, plain),
      "--data", data};
  args.insert(args.end(),
              {"--origin", url_list(c.origins), "--tls-cert", o.tls_cert, "--tls-key", o.tls_key});
  if (!c.peers.empty()) {
    args.push_back("--peer");
    args.push_back(c.peers.front().url);
  }
  Component edge = component(o, "edge", std::move(args), {https, plain}, data);
  edge.url = "https://" + host_port(o.host, https);
  return edge;
}

// Tracker, peers and edge get every origin's URL: clients fail over among them.
Cluster plan_cluster(const UpOptions& o, const std::vector<uint16_t>& reserved) {
  PortQueue ports(reserved);
  Cluster c;
  uint16_t tracker_port = ports.next();
  std::string tracker_url = "http://" + host_port(o.host, tracker_port);
  c.origins = plan_origins(o, ports, tracker_url);
  c.tracker = component(
      o, "tracker",
      {"tracker", "--listen", host_port(o.host, tracker_port), "--origin", url_list(c.origins)},
      {tracker_port}, "");
  for (int i = 1; i <= o.peers; ++i) c.peers.push_back(plan_peer(o, i, ports.next(), c));
  if (o.edge) {
    c.edge = plan_edge(o, ports, c);
    c.edge_plain_url = "http://" + host_port(o.host, c.edge->ports.back());
  }
  return c;
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
std::optional<StartFailure> start_group(Supervisor& sup, PortReservation& ports,
                                        const std::vector<Component*>& group) {
  for (Component* c : group) {
    for (uint16_t port : c->ports) ports.release(port);
    c->pid = sup.spawn(c->spec).pid;
  }
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

std::vector<Component*> pointers(std::vector<Component>& group) {
  std::vector<Component*> out;
  for (Component& c : group) out.push_back(&c);
  return out;
}

std::optional<StartFailure> start_cluster(Supervisor& sup, PortReservation& ports, Cluster& c) {
  // Peers may talk to the tracker and origins as soon as they run: those come first.
  std::vector<Component*> servers = pointers(c.origins);
  servers.insert(servers.begin(), &c.tracker);
  if (auto failed = start_group(sup, ports, servers)) return failed;
  if (!c.peers.empty()) {
    if (auto failed = start_group(sup, ports, pointers(c.peers))) return failed;
  }
  if (!c.edge) return std::nullopt;
  return start_group(sup, ports, {&*c.edge});
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

Json component_json(const Component& c) {
  Json j = {{"name", c.spec.name}, {"pid", c.pid}, {"url", c.url}};
  if (!c.data.empty()) j["data"] = c.data;
  j["log"] = c.spec.log_path;
  return j;
}

Json components_json(const std::vector<Component>& group) {
  Json list = Json::array();
  for (const Component& c : group) list.push_back(component_json(c));
  return list;
}

std::string cluster_json(const UpOptions& o, const Cluster& c) {
  Json tracker = component_json(c.tracker);
  tracker["announce"] = c.tracker.url + "/announce";
  Json j = {{"pid", ::getpid()},
            {"data", o.dir.string()},
            {"tracker", tracker},
            {"origin", component_json(c.origins.front())},
            {"origins", components_json(c.origins)},
            {"peers", components_json(c.peers)}};
  if (c.edge) {
    j["edge"] = component_json(*c.edge);
    j["edge"]["plain_url"] = c.edge_plain_url;
    j["edge"]["cert"] = o.tls_cert;
  }
  // replace: a path that is not UTF-8 must not stop the cluster from being written down.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

void print_row(const Component& c, const std::string& detail) {
  std::printf("  %-8s %-30s %s\n", c.spec.name.c_str(), c.url.c_str(), detail.c_str());
}

void print_endpoints(const Cluster& c, const fs::path& dir, const std::string& cert) {
  std::string origins = c.origins.size() == 1
                            ? "origin"
                            : "a ring of " + std::to_string(c.origins.size()) + " origins";
  std::printf("shoal cluster up: tracker, %s, %zu peer agent(s)%s\n\n", origins.c_str(),
              c.peers.size(), c.edge ? " and an edge" : "");
  print_row(c.tracker, "announce " + c.tracker.url + "/announce");
  for (const Component& o : c.origins) print_row(o, "data " + o.data);
  for (const Component& p : c.peers) print_row(p, "data " + p.data);
  if (c.edge) print_row(*c.edge, "plain " + c.edge_plain_url);
  std::string origin_list = url_list(c.origins);
  std::string source =
      c.peers.empty() ? "--origin " + origin_list : "--peer " + c.peers.front().url;
  std::printf("\nendpoints: %s\nlogs:      %s/<name>.log\n", (dir / "cluster.json").c_str(),
              dir.c_str());
  std::printf("push:      shoal push FILE --origin %s\n", origin_list.c_str());
  std::printf("pull:      shoal pull DIGEST -o FILE %s\n", source.c_str());
  if (c.edge) {
    std::printf("fetch:     curl --cacert %s %s/blobs/DIGEST\n", cert.c_str(), c.edge->url.c_str());
  }
  std::printf("stop:      Ctrl-C, or kill %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
}

std::vector<Component*> all_components(Cluster& c) {
  std::vector<Component*> all{&c.tracker};
  for (Component& o : c.origins) all.push_back(&o);
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

// On failure everything started is stopped again. A reserved port may have been taken
// by someone else between its release and its server's bind: then once more with fresh ports.
std::optional<StartFailure> start_with_retry(Supervisor& sup, const UpOptions& o, Cluster& c) {
  for (int attempt = 1;; ++attempt) {
    PortReservation ports(o.host, ports_needed(o));
    c = plan_cluster(o, ports.ports());
    for (Component* comp : all_components(c)) {
      if (!comp->data.empty()) fs::create_directories(comp->data);
    }
    auto failed = start_cluster(sup, ports, c);
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
    std::printf("usage: shoal up [--peers N] [--origins N] [--data DIR] [flags]\n\n%s",
                cfg.usage().c_str());
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

"""A whole fleet on the test bed (issue 20, item 4): a ring of 3 origins (hosts 1-3),
2 trackers over Redis (hosts 4-5), a Redis master (host 6) with one replica (host 7) and
three sentinels (hosts 6-8), and one peer agent per host from host 9 on. Every link is
capped by tbf (testbed_harness). Every address is on the test bed's own bridge."""

import os
import time

from shoal_harness import SHOAL_BIN, make_file, require_tool
from testbed_harness import TestbedCase, addr

ORIGIN_HOSTS = (1, 2, 3)
TRACKER_HOSTS = (4, 5)
REDIS_MASTER, REDIS_REPLICA = 6, 7
SENTINEL_HOSTS = (6, 7, 8)
FIRST_AGENT = 9
MASTER_NAME = "shoal"


def origin_url(h):
    return f"http://{addr(h)}:4100"


def tracker_url(h):
    return f"http://{addr(h)}:4200"


ORIGINS = ",".join(origin_url(h) for h in ORIGIN_HOSTS)
TRACKERS = ",".join(tracker_url(h) for h in TRACKER_HOSTS)
PEER_STORE = ("redis-sentinel://" + ",".join(f"{addr(h)}:26379" for h in SENTINEL_HOSTS)
              + "/" + MASTER_NAME)


class FleetCase(TestbedCase):
    def start_fleet(self, agents, rate, agent_args=()):
        """Test bed up with the whole fleet; returns the agents' processes by host."""
        redis = require_tool("redis-server", "redis-server")
        sentinel = require_tool("redis-sentinel", "redis-sentinel")
        self.bed("up", "--hosts", str(FIRST_AGENT + agents - 1), "--rate", rate)
        self.redis = {}
        for h in (REDIS_MASTER, REDIS_REPLICA):
            args = [redis, "--bind", addr(h), "--port", "6379", "--save", "", "--appendonly",
                    "no", "--protected-mode", "no", "--dir", self.tmp]
            if h == REDIS_REPLICA:
                args += ["--replicaof", addr(REDIS_MASTER), "6379"]
            self.redis[h] = self.spawn(h, f"redis{h}", *args)
        self.sentinels = {}
        for h in SENTINEL_HOSTS:
            conf = os.path.join(self.tmp, f"sentinel{h}.conf")
            with open(conf, "w") as f:
                f.write(f"bind {addr(h)}\nport 26379\nprotected-mode no\n"
                        f"sentinel monitor {MASTER_NAME} {addr(REDIS_MASTER)} 6379 2\n"
                        f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                        f"sentinel failover-timeout {MASTER_NAME} 5000\n")
            self.sentinels[h] = self.spawn(h, f"sentinel{h}", sentinel, conf)
        self.wait(lambda: self.redis_role(REDIS_REPLICA) == "slave", 30, "the Redis replica")
        # A sentinel learns of replicas from the master's INFO (every 10 s) and of the
        # other sentinels from their hellos: until it knows both, a master killed
        # cannot be failed over.
        self.wait(self.sentinels_ready, 60, "the sentinels to know the replica and each other")
        self.trackers = {}
        for h in TRACKER_HOSTS:
            self.trackers[h] = self.spawn(h, f"tracker{h}", SHOAL_BIN, "tracker", "--listen",
                                          f"{addr(h)}:4200", "--origin", ORIGINS,
                                          "--peer-store", PEER_STORE, "--peer-ttl", "60s",
                                          "--announce-interval", "3s")
        self.origins = {}
        for h in ORIGIN_HOSTS:
            self.origins[h] = self.start_origin(h)
        agents_by_host = {}
        for h in range(FIRST_AGENT, FIRST_AGENT + agents):
            agents_by_host[h] = self.spawn(h, f"peer{h}", SHOAL_BIN, "peer", "--listen",
                                           "127.0.0.1:4300", "--data",
                                           os.path.join(self.tmp, f"peer{h}"), "--origin",
                                           ORIGINS, "--tracker", TRACKERS, "--bt-listen",
                                           f"{addr(h)}:6881", *agent_args)
        up = lambda h, url: self.run_in(h, "curl", "-sf", url + "/health").returncode == 0
        for h in ORIGIN_HOSTS:
            self.wait(lambda: up(h, origin_url(h)), 30, f"origin on host {h}")
        for h in TRACKER_HOSTS:
            self.wait(lambda: up(h, tracker_url(h)), 30, f"tracker on host {h}")
        for h in agents_by_host:
            self.wait(lambda: up(h, "http://127.0.0.1:4300"), 30, f"agent on host {h}")
        return agents_by_host

    def start_origin(self, h):
        return self.spawn(h, f"origin{h}", SHOAL_BIN, "origin", "--listen", f"{addr(h)}:4100",
                          "--data", os.path.join(self.tmp, f"origin{h}"), "--origins", ORIGINS,
                          "--self", origin_url(h), "--tracker", TRACKERS, "--bt-listen",
                          f"{addr(h)}:6881", "--repair-after", "30s")

    def redis_role(self, h):
        r = self.run_in(h, "redis-cli", "-h", addr(h), "-p", "6379", "role", timeout=10)
        return r.stdout.decode().split("\n")[0].strip() if r.returncode == 0 else None

    def sentinels_ready(self):
        for h in SENTINEL_HOSTS:
            r = self.run_in(h, "redis-cli", "-h", addr(h), "-p", "26379", "sentinel",
                            "master", MASTER_NAME, timeout=10)
            lines = r.stdout.decode().split("\n") if r.returncode == 0 else []
            fields = dict(zip(lines[0::2], lines[1::2]))
            if (int(fields.get("num-slaves", 0)) < 1
                    or int(fields.get("num-other-sentinels", 0)) < len(SENTINEL_HOSTS) - 1):
                return False
        return True

    def sentinel_master(self):
        for h in SENTINEL_HOSTS:
            r = self.run_in(h, "redis-cli", "-h", addr(h), "-p", "26379", "sentinel",
                            "get-master-addr-by-name", MASTER_NAME, timeout=10)
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout.decode().split("\n")[0].strip()
        return None

    def push_to_ring(self, size, seed, host=ORIGIN_HOSTS[0]):
        path = os.path.join(self.tmp, f"blob{seed}")
        digest = make_file(path, size, seed=seed)
        r = self.run_in(host, SHOAL_BIN, "push", path, "--origin", ORIGINS, "--quiet",
                        "--state-dir", os.path.join(self.tmp, "state"), timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertEqual(r.stdout.decode().strip(), digest)
        os.unlink(path)
        return digest

    def handout_host(self, digest):
        """The origin host that runs the blob's hand-out: its first owner that is up."""
        locations = self.get_json(ORIGIN_HOSTS[0],
                                  f"{origin_url(ORIGIN_HOSTS[0])}/blobs/{digest}/locations")
        for owner in locations["owners"]:
            if owner.get("up", True):
                for h in ORIGIN_HOSTS:
                    if owner["url"].rstrip("/") == origin_url(h):
                        return h
        self.fail(f"no owner up for {digest}: {locations}")

    def timed_pull(self, hosts, digest):
        """Pulls on every host at once until all finish; returns (results, seconds)."""
        start = time.monotonic()
        results = self.pull_all(hosts, digest)
        self.join()
        return results, time.monotonic() - start
